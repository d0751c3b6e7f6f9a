"""Read models for the console's Inbox, Protocols and Institutions pages, access-checked.

Protocol reads (deadlines, versions, a step's outcome form) carry no case data; the pinned
versions table counts cases per version in SQL. The directory reads and the HSDS import are
the admin's; an inbox's colleagues are its own institution's.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from sqlalchemy import Connection, func, select

from institutions.domain import Institution
from institutions.hsds import write_hsds
from institutions.store import SqlDirectory
from protocols.loader import LoadedProtocol
from protocols.registry import Registry
from protocols.schema import Deadline, Duration
from workflows.domain.access import Actor, require_inbox, require_task_reader
from workflows.domain.case import OPEN_TASK_STATUSES
from workflows.domain.errors import NotAuthorised, UnknownTask
from workflows.domain.ports import UnitOfWork
from workflows.services.cases import Services
from workflows.store import tables

DueState = Literal["overdue", "due_soon", "on_hold", "on_time", "closed"]
DUE_SOON = timedelta(hours=24)


# --- the inbox ----------------------------------------------------------------------------


def due_state(status: str, due_at: datetime, overdue: bool, now: datetime) -> DueState:
    """How urgent a task is: overdue, due within 24 hours, on hold (clock stopped), or not."""
    if status == "on-hold":
        return "on_hold"
    if status not in OPEN_TASK_STATUSES:
        return "closed"
    if overdue or due_at <= now:
        return "overdue"
    return "due_soon" if due_at - now <= DUE_SOON else "on_time"


@dataclass(frozen=True, slots=True)
class OutcomeInput:
    """One field of the outcome form of a protocol step, labelled in the user's language."""

    name: str
    type: Literal["choice", "boolean", "date"]  # no free text: it would land in events
    label: str
    options: list[str]
    required: bool


def step_outcome(
    svc: Services, actor: Actor, ref: str, task: int | str, locale: str = "es"
) -> list[OutcomeInput]:
    """The outcome fields the pinned protocol step asks when the task is completed."""
    with svc.uow() as uow:
        case = uow.cases.get(ref)
        target = case.task(task)
        if target is None:
            raise UnknownTask(f"Case {case.ref} has no task {task!r}.")
        require_task_reader(actor, case, target)
        spec = uow.protocols.pinned(case.protocol_hash).protocol.task_spec(target.key)[2]
    return [
        OutcomeInput(name, f.type, f.label.get(locale), list(f.options or []), f.required)
        for name, f in spec.outcome.items()
    ]


def task_labels(
    svc: Services, steps: Iterable[tuple[str, str]], locale: str = "es"
) -> dict[tuple[str, str], str]:
    """Labels of (protocol hash, task key) pairs from the pinned protocols; protocol data only."""
    out: dict[tuple[str, str], str] = {}
    wanted = set(steps)
    if not wanted:
        return out
    with svc.uow() as uow:
        for content_hash, key in wanted:
            try:
                spec = uow.protocols.pinned(content_hash).protocol.task_spec(key)[2]
            except KeyError:
                out[content_hash, key] = key
            else:
                out[content_hash, key] = spec.label.get(locale)
    return out


def colleagues(svc: Services, actor: Actor) -> list[str]:
    """Active users of the actor's own institution (a task may be reassigned to them)."""
    if actor.institution is None:
        raise NotAuthorised(f"{actor.describe()} belongs to no institution and has no inbox.")
    require_inbox(actor, actor.institution)
    with svc.uow() as uow:
        users = SqlDirectory(_connection(uow)).users(actor.institution)
    return [u.username for u in users if u.active]


def own_institution(svc: Services, actor: Actor) -> Institution | None:
    """The actor's institution from the directory (public data)."""
    if actor.institution is None:
        return None
    with svc.uow() as uow:
        return uow.directory.institution(actor.institution)


# --- protocols ----------------------------------------------------------------------------


def registry(svc: Services) -> Registry:
    """The protocol files the services were wired with."""
    catalog = svc.catalog
    if not isinstance(catalog, Registry):
        raise TypeError(f"The services' catalog is a {type(catalog).__name__}, not a Registry.")
    return catalog


def known_versions(svc: Services) -> dict[str, list[LoadedProtocol]]:
    """Every protocol id the registry holds, with its versions oldest first."""
    found: dict[str, list[LoadedProtocol]] = {}
    for loaded in registry(svc).loaded:
        found.setdefault(loaded.id, []).append(loaded)
    for same in found.values():
        same.sort(key=lambda p: _version_order(p.protocol.version))
    return dict(sorted(found.items()))


def _version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """ "2026.1" < "2026.2" < "2026.10": numbers numerically, other parts as text after them."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in version.split("."))


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """One deadline of a protocol: a state's own, or a task's due time, labelled."""

    track: str
    state: str
    task: str  # the task label; empty for a state's own deadline
    role: str  # the role label (a handoff: the coordinator's, as routing gaps go there)
    within: Duration
    basis: str  # legal | protocol | proposed
    source: str
    extension_by: Duration | None = None
    extension_max: int = 0
    extension_approver: str = ""  # the approver role's label


def deadline_rows(loaded: LoadedProtocol, locale: str = "es") -> list[DeadlineRow]:
    """Every deadline of a protocol, in file order, labelled in the locale."""
    protocol = loaded.protocol
    rows: list[DeadlineRow] = []

    def add(track: str, state: str, task: str, role: str, d: Deadline) -> None:
        ext = d.extension
        rows.append(
            DeadlineRow(
                track,
                state,
                task,
                role,
                d.within,
                d.basis.value,
                d.source,
                ext.by if ext else None,
                ext.max if ext else 0,
                _role(loaded, ext.approver, locale) if ext else "",
            )
        )

    for track in protocol.tracks.values():
        track_label = track.label.get(locale)
        for state in track.states.values():
            state_label = state.label.get(locale)
            if state.deadline is not None:
                add(track_label, state_label, "", "", state.deadline)
            for spec in state.tasks:
                role = _role(loaded, spec.role or protocol.coordinator, locale)
                add(track_label, state_label, spec.label.get(locale), role, spec.due)
    return rows


def _role(loaded: LoadedProtocol, role: str, locale: str) -> str:
    label = loaded.protocol.roles.get(role)
    return label.get(locale) if label is not None else role


@dataclass(frozen=True, slots=True)
class PinnedVersion:
    """A protocol version cases were opened under, and how many cases pin it."""

    version: str
    content_hash: str
    stored_at: datetime
    cases: int


def pinned_versions(svc: Services, protocol_id: str) -> list[PinnedVersion]:
    """The stored versions of a protocol with their case counts (counts only, no case data)."""
    pv, c = tables.protocol_versions, tables.cases
    query = (
        select(pv.c.version, pv.c.content_hash, pv.c.stored_at, func.count(c.c.id))
        .select_from(pv.outerjoin(c, c.c.protocol_hash == pv.c.content_hash))
        .where(pv.c.protocol_id == protocol_id)
        .group_by(pv.c.version, pv.c.content_hash, pv.c.stored_at)
        .order_by(pv.c.stored_at, pv.c.version)
    )
    with svc.uow() as uow:
        return [
            PinnedVersion(r[0], r[1], r[2], int(r[3]))
            for r in _connection(uow).execute(query).all()
        ]


# --- the directory (admin) ------------------------------------------------------------------


def require_admin(actor: Actor, doing: str) -> None:
    if actor.is_system or actor.role == "admin":
        return
    raise NotAuthorised(
        f"{actor.describe()} may not {doing}; only administrators keep the directory."
    )


def directory_rows(
    svc: Services, actor: Actor, country: str | None = None, role: str | None = None
) -> list[Institution]:
    """The directory's institutions (of a country, filling a role), for the admin."""
    require_admin(actor, "read the institution directory")
    with svc.uow() as uow:
        found = SqlDirectory(_connection(uow)).institutions(country)
    return [i for i in found if role is None or role in i.roles]


def import_institutions(svc: Services, actor: Actor, institutions: list[Institution]) -> int:
    """Insert or replace institutions in one commit; return how many."""
    require_admin(actor, "import institutions")
    with svc.uow() as uow:
        count = SqlDirectory(_connection(uow)).upsert(institutions)
        uow.commit()
    return count


def hsds_zip(institutions: list[Institution]) -> bytes:
    """The institutions as an HSDS 3.0 tabular package (CSV files), zipped for download."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="ruta-hsds-") as folder:
        written = write_hsds(institutions, Path(folder), "csv")
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in written:
                archive.write(path, path.name)
    return buffer.getvalue()


def gaps_for_admin(svc: Services, actor: Actor) -> list[tuple[str, str, int]]:
    """(country, role, tasks) routed to a coordinator because nobody filled the role.

    Counts only: they tell the admin which roles the directory still lacks, in the countries
    of their scope (every country with cases when their scope is empty).
    """
    require_admin(actor, "read routing gaps")
    with svc.uow() as uow:
        scope = set(actor.countries) or set(uow.inbox.countries())
        return uow.inbox.routing_gaps(scope)


def _connection(uow: UnitOfWork) -> Connection:
    conn = getattr(uow, "connection", None)
    if not isinstance(conn, Connection):
        raise TypeError(f"{type(uow).__name__} has no SQL connection; these reads need SQL.")
    return conn

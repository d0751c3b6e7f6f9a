"""Reads of the Inbox screen: an institution's tasks, how urgent each is, a step's outcome
form, task labels and time zones, the colleagues a task may go to. No case data beyond what
the reader may see: a task's own fields come from `services.tasks.view_task`, which records
any sharing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from institutions.domain import Institution
from workflows.domain.access import Actor, require_inbox, require_task_reader
from workflows.domain.case import OPEN_TASK_STATUSES
from workflows.domain.errors import InvalidInput, NotAuthorised
from workflows.domain.ports import InboxRow, Services
from workflows.engine.tasks import TaskRef, find_task

DueState = Literal["overdue", "due_soon", "on_hold", "on_time", "closed"]
DUE_SOON = timedelta(hours=24)


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
    svc: Services, actor: Actor, ref: str, task: TaskRef, locale: str = "es"
) -> list[OutcomeInput]:
    """The outcome fields the pinned protocol step asks when the task is completed."""
    with svc.uow() as uow:
        case = uow.cases.get(ref)
        target = find_task(case, task)
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


def zones(svc: Services, hashes: Iterable[str]) -> dict[str, str]:
    """The time zone of each pinned protocol, by content hash (a task's deadlines run in its
    protocol's zone); protocol data only."""
    wanted = set(hashes)
    if not wanted:
        return {}
    with svc.uow() as uow:
        return {h: uow.protocols.pinned(h).protocol.timezone for h in sorted(wanted)}


def colleagues(svc: Services, actor: Actor) -> list[str]:
    """Active users of the actor's own institution (a task may be reassigned to them)."""
    if actor.institution is None:
        raise NotAuthorised(
            f"{actor.describe()} belongs to no institution and has no inbox; an administrator "
            "can attach the user to one (`ruta users add NAME --institution ID ...`)."
        )
    require_inbox(actor, actor.institution)
    with svc.uow() as uow:
        users = uow.directory.users(actor.institution)
    return [u.username for u in users if u.active]


def own_institution(svc: Services, actor: Actor) -> Institution | None:
    """The actor's institution from the directory (public data)."""
    if actor.institution is None:
        return None
    with svc.uow() as uow:
        return uow.directory.institution(actor.institution)


def inbox(
    svc: Services,
    actor: Actor,
    institution: str | None = None,
    *,
    statuses: list[str] | None = None,
    due_before: datetime | None = None,
    country: str | None = None,
    case_ref: str | None = None,
) -> list[InboxRow]:
    """An institution's tasks (open ones unless `statuses` says otherwise), soonest due first."""
    institution = institution or actor.institution
    if institution is None:
        raise InvalidInput(
            f"{actor.describe()} belongs to no institution: name the institution whose inbox "
            "to list."
        )
    require_inbox(actor, institution)
    with svc.uow() as uow:
        return uow.inbox.tasks(
            institution,
            statuses=statuses,
            due_before=due_before,
            country=country,
            case_ref=case_ref,
        )

"""Use cases of the case engine. Ports come in as arguments; no framework imports."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from protocols.loader import LoadedProtocol
from protocols.schema import CONSENT_PURPOSES, RISK_LEVELS
from workflows.domain import Approval, Case, ConsentRecord
from workflows.engine import Engine
from workflows.errors import ConcurrentChange, InvalidInput, NotAuthorised
from workflows.ports import Clock, Directory, UnitOfWork


@dataclass(frozen=True, slots=True)
class Services:
    """The ports every use case needs, wired once by ruta/bootstrap.py."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    directory: Directory


def open_case(
    svc: Services,
    loaded: LoadedProtocol,
    attributes: dict[str, Any],
    actor: str,
    person: dict[str, str] | None = None,
) -> str:
    """Open a case under a published protocol version and pin it; return its reference."""
    if loaded.protocol.status != "published":
        raise InvalidInput(
            f"Protocol {loaded.id} {loaded.protocol.version} is {loaded.protocol.status}; "
            "cases open only under a published version."
        )
    attrs = check_attributes(loaded, attributes, opening=True)
    now = svc.clock.now()
    with svc.uow() as uow:
        uow.protocols.pin(loaded, now)
        ref = uow.cases.next_ref(loaded.protocol.country, now.year)
        case = Case(
            ref=ref,
            protocol_id=loaded.id,
            protocol_version=loaded.protocol.version,
            protocol_hash=loaded.content_hash,
            country=loaded.protocol.country,
            attributes=attrs,
            opened_at=now,
            version=1,
        )
        uow.cases.add(case, person, now)
        Engine(case, loaded, svc.directory, now, actor).open_case(sorted(person or {}))
        uow.cases.save(case)
        uow.commit()
    return ref


@dataclass(slots=True)
class _Change:
    """A loaded, claimed case and an engine to change it, inside one unit of work."""

    case: Case
    engine: Engine
    uow: UnitOfWork


def _change(
    svc: Services, uow: UnitOfWork, ref: str, actor: str, expected_version: int | None
) -> _Change:
    case = uow.cases.get(ref)
    if expected_version is not None and expected_version != case.version:
        raise ConcurrentChange(ref, expected_version, case.version)
    uow.cases.claim(case)
    loaded = uow.protocols.pinned(case.protocol_hash)
    return _Change(case, Engine(case, loaded, svc.directory, svc.clock.now(), actor), uow)


def _run(
    svc: Services,
    ref: str,
    actor: str,
    expected_version: int | None,
    step: Callable[[Engine], object],
) -> int:
    """Load, claim, apply one step, save and commit; return the case's new version."""
    with svc.uow() as uow:
        change = _change(svc, uow, ref, actor, expected_version)
        step(change.engine)
        uow.cases.save(change.case)
        uow.commit()
        return change.case.version


def fire(
    svc: Services,
    ref: str,
    track: str,
    trigger: str,
    actor: str,
    expected_version: int | None = None,
) -> int:
    """A person fires a protocol step on one track."""
    return _run(svc, ref, actor, expected_version, lambda e: e.fire(track, trigger))


def complete_task(
    svc: Services,
    ref: str,
    task: str,
    outcome: dict[str, Any],
    actor: str,
    expected_version: int | None = None,
) -> int:
    return _run(svc, ref, actor, expected_version, lambda e: e.complete(task, outcome))


def hold_task(
    svc: Services, ref: str, task: str, reason: str, actor: str, expected_version: int | None = None
) -> int:
    return _run(svc, ref, actor, expected_version, lambda e: e.hold(task, reason))


def resume_task(
    svc: Services, ref: str, task: str, actor: str, expected_version: int | None = None
) -> int:
    return _run(svc, ref, actor, expected_version, lambda e: e.resume(task))


def extend(
    svc: Services,
    ref: str,
    role: str,
    actor: str,
    *,
    task: str | None = None,
    track: str | None = None,
    expected_version: int | None = None,
) -> int:
    """Grant a bounded extension of a task's due time or of a track's state deadline."""
    if (task is None) == (track is None):
        raise InvalidInput("An extension names either a task or a track, not both.")
    if task is not None:
        return _run(svc, ref, actor, expected_version, lambda e: e.extend_task(task, role))
    assert track is not None
    return _run(svc, ref, actor, expected_version, lambda e: e.extend_deadline(track, role))


def record_consent(
    svc: Services,
    ref: str,
    purpose: str,
    given: bool,
    actor: str,
    role: str | None = None,
    legal_basis: str | None = None,
    expected_version: int | None = None,
) -> int:
    """Record consent given, refused or withdrawn, or a legal basis standing in for it."""
    if purpose not in CONSENT_PURPOSES:
        raise InvalidInput(
            f"Unknown consent purpose {purpose!r}; allowed: {', '.join(CONSENT_PURPOSES)}."
        )

    def step(e: Engine) -> None:
        if role is not None and role not in e.loaded.protocol.roles:
            raise InvalidInput(
                f"Unknown role {role!r}; roles of {e.loaded.id}: "
                f"{', '.join(e.loaded.protocol.roles)}."
            )
        record = ConsentRecord(purpose, role, given, e.now, legal_basis)
        e.case.consents.append(record)
        e.case.new_consents.append(record)
        kind = "legal_basis_recorded" if legal_basis else "consent_recorded"
        e.case.record(
            kind, e.now, e.actor, purpose=purpose, role=role, given=given, legal_basis=legal_basis
        )
        e.open_ready_tracks()

    return _run(svc, ref, actor, expected_version, step)


def approve(
    svc: Services,
    ref: str,
    approval: str,
    role: str,
    actor: str,
    expected_version: int | None = None,
) -> int:
    """Record a decision by its approver role (e.g. the mediate-assistance plan)."""

    def step(e: Engine) -> None:
        spec = e.loaded.protocol.approvals.get(approval)
        if spec is None:
            known = ", ".join(e.loaded.protocol.approvals) or "none"
            raise InvalidInput(
                f"Unknown approval {approval!r}; approvals of {e.loaded.id}: {known}."
            )
        if role != spec.approver:
            raise NotAuthorised(
                f"Case {e.case.ref}: only {spec.approver} may record {approval}, not {role}."
            )
        record = Approval(approval, role, e.now)
        e.case.approvals.append(record)
        e.case.new_approvals.append(record)
        e.case.record("approval_recorded", e.now, e.actor, approval=approval, role=role)
        e.open_ready_tracks()

    return _run(svc, ref, actor, expected_version, step)


def set_attributes(
    svc: Services, ref: str, values: dict[str, Any], actor: str, expected_version: int | None = None
) -> int:
    """Update non-identifying case attributes (risk level, modality ...)."""

    def step(e: Engine) -> None:
        clean = check_attributes(e.loaded, values, opening=False)
        e.case.attributes.update(clean)
        e.case.attributes_dirty = True
        e.case.record("attributes_changed", e.now, e.actor, changed=sorted(clean), **clean)
        e.open_ready_tracks()

    return _run(svc, ref, actor, expected_version, step)


_JURISDICTION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


def check_attributes(
    loaded: LoadedProtocol, values: dict[str, Any], opening: bool
) -> dict[str, Any]:
    """Validate case attributes: built-ins plus those the protocol declares."""
    p = loaded.protocol
    declared = p.attributes
    allowed = ["jurisdiction", "minor", "nationality", "risk", *declared]
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name == "jurisdiction":
            ok = (
                isinstance(value, str)
                and bool(_JURISDICTION.match(value))
                and (value[:2] == p.country)
            )
            want = f"an ISO 3166-2 code of {p.country} such as {p.country}-XXX, or {p.country}"
        elif name == "minor":
            ok, want = isinstance(value, bool), "true or false"
        elif name == "nationality":
            ok = isinstance(value, str) and bool(re.fullmatch(r"[A-Z]{2}", value))
            want = "an ISO 3166-1 alpha-2 code such as VE"
        elif name == "risk":
            ok, want = value in RISK_LEVELS, f"one of {', '.join(RISK_LEVELS)}"
        elif name in declared:
            options = declared[name].values
            ok = options is None or value in options
            want = f"one of {', '.join(options or [])}"
        else:
            raise InvalidInput(
                f"Unknown case attribute {name!r}; allowed: {', '.join(allowed)}. Personal "
                "data (names, documents, contacts) goes to the protected person record."
            )
        if not ok:
            raise InvalidInput(f"Case attribute {name!r} cannot be {value!r}; use {want}.")
        clean[name] = value
    if opening:
        missing = [k for k in ("jurisdiction", "minor") if k not in clean]
        if missing:
            raise InvalidInput(f"Opening a case needs the attribute(s): {', '.join(missing)}.")
    return clean


@dataclass(slots=True)
class SweepReport:
    cases: int = 0
    handled: int = 0
    conflicts: list[str] = field(default_factory=list)


def sweep(svc: Services, actor: str = "system:sweep", limit: int = 500) -> SweepReport:
    """Mark due tasks overdue, expire state deadlines and fire their triggers, case by case."""
    report = SweepReport()
    now = svc.clock.now()
    with svc.uow() as uow:
        refs = uow.cases.due_refs(now, limit)
    for ref in refs:
        try:
            with svc.uow() as uow:
                change = _change(svc, uow, ref, actor, None)
                handled = change.engine.sweep()
                uow.cases.save(change.case)
                uow.commit()
        except ConcurrentChange:
            # someone changed the case meanwhile; the next sweep picks it up again
            report.conflicts.append(ref)
            continue
        report.cases += 1
        report.handled += handled
    return report


def load_case(svc: Services, ref: str) -> Case:
    """Read a case (no change)."""
    with svc.uow() as uow:
        return uow.cases.get(ref)

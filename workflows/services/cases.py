"""Use cases of the case engine. Ports come in as arguments; no framework imports."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from institutions.domain import JURISDICTION, JURISDICTION_HELP
from protocols.loader import LoadedProtocol
from protocols.schema import CONSENT_PURPOSES, PERSON_FIELDS, RISK_LEVELS
from workflows.domain.access import Actor, require_case_access
from workflows.domain.case import Approval, Case, ConsentRecord
from workflows.domain.errors import ConcurrentChange, InvalidInput, NotAuthorised
from workflows.domain.ports import Catalog, Clock, UnitOfWork
from workflows.engine.engine import Engine


@dataclass(frozen=True, slots=True)
class Services:
    """The ports every use case needs, wired once by ruta/bootstrap.py."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    catalog: Catalog


def open_case(
    svc: Services,
    loaded: LoadedProtocol,
    attributes: dict[str, Any],
    actor: Actor,
    person: dict[str, str] | None = None,
) -> str:
    """Open a case under a published protocol version and pin it; return its reference."""
    with svc.uow() as uow:
        case = new_case(svc, uow, loaded, attributes, actor, person)
        uow.commit()
    return case.ref


def new_case(
    svc: Services,
    uow: UnitOfWork,
    loaded: LoadedProtocol,
    attributes: dict[str, Any],
    actor: Actor,
    person: dict[str, str] | None,
) -> Case:
    """Open a case inside an open unit of work (a handoff opens one beside another)."""
    if loaded.protocol.status != "published":
        raise InvalidInput(
            f"Protocol {loaded.id} {loaded.protocol.version} is {loaded.protocol.status}; "
            "cases open only under a published version."
        )
    attrs = check_attributes(loaded, attributes, opening=True)
    check_person(person or {})
    now = svc.clock.now()
    country = loaded.protocol.country
    if not actor.is_system and not (actor.role == "focal_point" and country in actor.countries):
        raise NotAuthorised(
            f"{actor.describe()} may not open a {country} case; focal points open cases in "
            f"their country scope ({', '.join(sorted(actor.countries)) or 'none'})."
        )
    uow.protocols.pin(loaded, now)
    case = Case(
        ref=uow.cases.next_ref(country, now.year),
        protocol_id=loaded.id,
        protocol_version=loaded.protocol.version,
        protocol_hash=loaded.content_hash,
        country=country,
        attributes=attrs,
        opened_at=now,
        version=1,
    )
    uow.cases.add(case, person, now)
    engine(svc, uow, case, loaded, actor, now).open_case(sorted(person or {}))
    uow.cases.save(case)
    return case


def engine(
    svc: Services,
    uow: UnitOfWork,
    case: Case,
    loaded: LoadedProtocol,
    actor: Actor,
    now: datetime | None = None,
) -> Engine:
    return Engine(case, loaded, uow.directory, now or svc.clock.now(), actor, svc.catalog)


def check_person(person: dict[str, str]) -> None:
    unknown = sorted(set(person) - set(PERSON_FIELDS))
    if unknown:
        raise InvalidInput(
            f"Unknown person field(s) {', '.join(unknown)}; allowed: {', '.join(PERSON_FIELDS)}."
        )


@dataclass(slots=True)
class _Change:
    """A loaded, claimed case and an engine to change it, inside one unit of work."""

    case: Case
    engine: Engine
    uow: UnitOfWork


def change(
    svc: Services,
    uow: UnitOfWork,
    ref: str,
    actor: Actor,
    expected_version: int | None,
    check: Callable[[Case], None] | None = None,
) -> _Change:
    """Load a case, check the actor may do this and the form is fresh, then claim it."""
    case = uow.cases.get(ref)
    if check is not None:
        check(case)
    if expected_version is not None and expected_version != case.version:
        raise ConcurrentChange(ref, expected_version, case.version)
    uow.cases.claim(case)
    loaded = uow.protocols.pinned(case.protocol_hash)
    return _Change(case, engine(svc, uow, case, loaded, actor), uow)


def run(
    svc: Services,
    ref: str,
    actor: Actor,
    expected_version: int | None,
    step: Callable[[Engine], object],
    check: Callable[[Case], None] | None = None,
) -> int:
    """Load, check, claim, apply one step, save and commit; return the case's new version.

    Without `check`, only focal points of the case's country (and the system) may act.
    """
    if check is None:

        def check(case: Case) -> None:
            require_case_access(actor, case, "change")

    with svc.uow() as uow:
        ch = change(svc, uow, ref, actor, expected_version, check)
        step(ch.engine)
        uow.cases.save(ch.case)
        uow.commit()
        return ch.case.version


def fire(
    svc: Services,
    ref: str,
    track: str,
    trigger: str,
    actor: Actor,
    expected_version: int | None = None,
) -> int:
    """A person fires a protocol step on one track."""
    return run(svc, ref, actor, expected_version, lambda e: e.fire(track, trigger))


def extend(
    svc: Services,
    ref: str,
    role: str,
    actor: Actor,
    *,
    task: str | None = None,
    track: str | None = None,
    expected_version: int | None = None,
) -> int:
    """Grant a bounded extension of a task's due time or of a track's state deadline."""
    if (task is None) == (track is None):
        raise InvalidInput("An extension names either a task or a track, not both.")

    def step(e: Engine) -> None:
        require_fills(e, actor, role, "grant an extension")
        if task is not None:
            e.extend_task(task, role)
        else:
            assert track is not None
            e.extend_deadline(track, role)

    return run(svc, ref, actor, expected_version, step, check=_focal_point_or_institution(actor))


def record_consent(
    svc: Services,
    ref: str,
    purpose: str,
    given: bool,
    actor: Actor,
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
        e.record_consent(ConsentRecord(purpose, role, given, e.now, legal_basis))

    return run(svc, ref, actor, expected_version, step)


def approve(
    svc: Services,
    ref: str,
    approval: str,
    role: str,
    actor: Actor,
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
        require_fills(e, actor, role, f"record {approval}")
        record = Approval(approval, role, e.now)
        e.case.approvals.append(record)
        e.case.new_approvals.append(record)
        e.case.record("approval_recorded", e.now, e.who, approval=approval, role=role)
        e.open_ready_tracks()

    return run(svc, ref, actor, expected_version, step, check=_focal_point_or_institution(actor))


def require_fills(e: Engine, actor: Actor, role: str, doing: str) -> None:
    """Focal points record decisions on behalf of a role; others must fill the role."""
    if actor.is_system or (actor.role == "focal_point" and e.case.country in actor.countries):
        return
    inst = e.directory.institution(actor.institution or "")
    if inst is None or role not in inst.roles or inst.country != e.case.country:
        raise NotAuthorised(
            f"{actor.describe()} may not {doing} on case {e.case.ref}: that is for {role}."
        )


def _focal_point_or_institution(actor: Actor) -> Callable[[Case], None]:
    """Approvals and extensions: focal points in scope, or officers (their institution's
    role is checked inside the step, by `require_fills`)."""

    def check(case: Case) -> None:
        if actor.role != "officer":
            require_case_access(actor, case, "record decisions on")

    return check


def set_attributes(
    svc: Services,
    ref: str,
    values: dict[str, Any],
    actor: Actor,
    expected_version: int | None = None,
) -> int:
    """Update non-identifying case attributes (risk level, modality ...)."""

    def step(e: Engine) -> None:
        clean = check_attributes(e.loaded, values, opening=False)
        e.case.attributes.update(clean)
        e.case.attributes_dirty = True
        if "jurisdiction" in clean:  # the focal point's institution may change with the place
            e.case.lead_institution, e.case.lead_dirty = e.lead_institution(), True
        e.case.record("attributes_changed", e.now, e.who, changed=sorted(clean), **clean)
        e.open_ready_tracks()

    return run(svc, ref, actor, expected_version, step)


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
                and bool(JURISDICTION.match(value))
                and (value[:2] == p.country)
            )
            want = f"a jurisdiction of {p.country}: {JURISDICTION_HELP}"
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
    skipped: list[str] = field(default_factory=list)  # another worker had them


def sweep(svc: Services, batch: int = 200) -> SweepReport:
    """Climb every due task's reminder/overdue/escalation ladder and expire state deadlines.

    Reads only what is due (`next_action_at`), case by case, each in its own transaction.
    A case another worker is sweeping is skipped (row lock, SKIP LOCKED on PostgreSQL) or
    loses the version check; either way nothing is done or sent twice, and what is skipped is
    still due for the next sweep.
    """
    report = SweepReport()
    actor = Actor.system("sweep")
    now = svc.clock.now()
    seen: set[str] = set()
    while True:
        with svc.uow() as uow:
            refs = [r for r in uow.cases.due_refs(now, batch + len(seen)) if r not in seen]
        if not refs:
            return report
        for ref in refs[:batch]:
            seen.add(ref)
            try:
                with svc.uow() as uow:
                    if not uow.cases.lock(ref):
                        report.skipped.append(ref)
                        continue
                    ch = change(svc, uow, ref, actor, None)
                    ch.engine.now = now
                    handled = ch.engine.sweep()
                    uow.cases.save(ch.case)
                    uow.commit()
            except ConcurrentChange:
                report.skipped.append(ref)
                continue
            report.cases += 1
            report.handled += handled


def load_case(svc: Services, ref: str, actor: Actor) -> Case:
    """Read a whole case (no change): focal points of its country only."""
    with svc.uow() as uow:
        case = uow.cases.get(ref)
    require_case_access(actor, case, "read")
    return case

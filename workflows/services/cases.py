"""Case use cases: open a case, fire a step, record consent, approvals, attributes and
extensions, read a whole case. Ports come in as arguments; no framework imports.

Each change runs the same way (`run`): load the case, check the actor may do it and the
form is fresh (`expected_version`), compare-and-set the version, let the engine apply the
step, save and commit once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocols.loader import LoadedProtocol
from protocols.schema import CONSENT_PURPOSES
from workflows.domain.access import Actor, require_case_access, require_fills
from workflows.domain.attributes import check_attributes, check_person
from workflows.domain.case import Case, ConsentRecord
from workflows.domain.errors import ConcurrentChange, InvalidInput, NotAuthorised
from workflows.domain.ports import Services, UnitOfWork
from workflows.engine.engine import Engine


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
    attrs = check_attributes(loaded.protocol, attributes, opening=True)
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


@dataclass(slots=True)
class Change:
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
    now: datetime | None = None,
) -> Change:
    """Load a case, check the actor may do this and the form is fresh, then claim it."""
    case = uow.cases.get(ref)
    if check is not None:
        check(case)
    if expected_version is not None and expected_version != case.version:
        raise ConcurrentChange(ref, expected_version, case.version)
    uow.cases.claim(case)
    loaded = uow.protocols.pinned(case.protocol_hash)
    return Change(case, engine(svc, uow, case, loaded, actor, now), uow)


def run(
    svc: Services,
    ref: str,
    actor: Actor,
    expected_version: int | None,
    step: Callable[[Change], object],
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
        step(ch)
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
    return run(svc, ref, actor, expected_version, lambda ch: ch.engine.fire(track, trigger))


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

    def step(ch: Change) -> None:
        _require_fills(ch, actor, role, "grant an extension")
        if task is not None:
            ch.engine.extend_task(task, role)
        elif track is not None:
            ch.engine.extend_deadline(track, role)

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

    def step(ch: Change) -> None:
        roles = ch.engine.loaded.protocol.roles
        if role is not None and role not in roles:
            raise InvalidInput(
                f"Unknown role {role!r}; roles of {ch.case.protocol_id}: {', '.join(roles)}."
            )
        ch.engine.record_consent(ConsentRecord(purpose, role, given, ch.engine.now, legal_basis))

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

    def step(ch: Change) -> None:
        ch.engine.check_approval(approval, role)
        _require_fills(ch, actor, role, f"record {approval}")
        ch.engine.approve(approval, role)

    return run(svc, ref, actor, expected_version, step, check=_focal_point_or_institution(actor))


def _require_fills(ch: Change, actor: Actor, role: str, doing: str) -> None:
    require_fills(actor, ch.case, ch.engine.router.fillers(role), role, doing)


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

    def step(ch: Change) -> None:
        ch.engine.set_attributes(check_attributes(ch.engine.loaded.protocol, values, False))

    return run(svc, ref, actor, expected_version, step)


def load_case(svc: Services, ref: str, actor: Actor) -> Case:
    """Read a whole case (no change): focal points of its country only."""
    with svc.uow() as uow:
        case = uow.cases.get(ref)
    require_case_access(actor, case, "read")
    return case

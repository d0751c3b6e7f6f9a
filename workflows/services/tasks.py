"""Task use cases: the moves an institution makes on its tasks, reassigning and referring
them, and what it may see of one (sharing personal data leaves an event)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocols.schema import PERSON_FIELDS, ConsentGuard
from workflows.domain.access import (
    Actor,
    require_requester,
    require_responder,
    require_task_reader,
)
from workflows.domain.case import Case, Task
from workflows.domain.errors import InvalidInput, NotAuthorised
from workflows.domain.events import EventKind
from workflows.domain.guards import GuardContext, holds
from workflows.domain.lifecycle import allowed_moves, named
from workflows.domain.ports import Services
from workflows.engine.tasks import TaskRef, find_task
from workflows.services import crossborder
from workflows.services.cases import Change, change, run


def move(
    svc: Services,
    actor: Actor,
    ref: str,
    task: TaskRef,
    name: str,
    *,
    reason: str | None = None,
    note: str | None = None,
    outcome: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> int:
    """Make one lifecycle move on a task; return the case's new version.

    The responder's moves need the institution the task is addressed to; cancel needs the
    requester. Accepting a cross-border handoff opens the linked case in the same commit.
    """
    spec = named(name)
    doing = name

    def check(case: Case) -> None:
        target = find_task(case, task)
        if spec.party == "requester":
            require_requester(actor, case, target, doing)
        else:
            require_responder(actor, case, target, doing)

    with svc.uow() as uow:
        ch = change(svc, uow, ref, actor, expected_version, check)
        moved = ch.engine.move_task(task, name, reason=reason, note=note, outcome=outcome).task
        if name == "accept" and moved.handoff is not None and moved.handoff.get("protocol"):
            crossborder.open_linked_case(svc, uow, ch.engine, moved)
        uow.cases.save(ch.case)
        uow.commit()
        return ch.case.version


def assign(
    svc: Services,
    actor: Actor,
    ref: str,
    task: TaskRef,
    owner: str | None,
    expected_version: int | None = None,
) -> int:
    """Reassign a task to another user of the same institution (None: to nobody)."""

    def check(case: Case) -> None:
        require_responder(actor, case, find_task(case, task), "reassign")

    def step(ch: Change) -> None:
        target = find_task(ch.case, task)
        if owner is not None:
            user = ch.uow.directory.user(owner)
            if user is None or not user.active or user.institution != target.institution:
                raise NotAuthorised(
                    f"Task '{target.key}' of case {ch.case.ref} can go only to an active user "
                    f"of {target.institution}; {owner!r} is not one."
                )
        ch.engine.assign_task(task, owner)

    return run(svc, ref, actor, expected_version, step, check)


def refer(
    svc: Services,
    actor: Actor,
    ref: str,
    task: TaskRef,
    institution: str,
    expected_version: int | None = None,
) -> int:
    """The focal point sends a task to a named institution (e.g. one returned to them)."""

    def check(case: Case) -> None:
        require_requester(actor, case, find_task(case, task), "refer")

    def step(ch: Change) -> None:
        target = find_task(ch.case, task)
        inst = ch.uow.directory.institution(institution)
        if inst is None or not inst.active:
            raise InvalidInput(
                f"No active institution {institution!r} in the directory; choose one of the "
                "directory's active institutions (`ruta institutions list`)."
            )
        country = str((target.handoff or {}).get("country") or ch.case.country)
        if inst.country != country:  # crossing a border is a handoff, not a referral
            raise InvalidInput(
                f"{institution} is in {inst.country}; task '{target.key}' of case {ch.case.ref} "
                f"goes to an institution in {country}."
            )
        if target.role not in inst.roles:
            raise InvalidInput(
                f"{institution} does not fill the role {target.role}; refer the task to an "
                f"institution that does (roles of {institution}: {', '.join(inst.roles)})."
            )
        ch.engine.refer_task(task, institution)

    return run(svc, ref, actor, expected_version, step, check)


@dataclass(frozen=True, slots=True)
class TaskView:
    """What an institution sees of a task: the step, and only the fields it shares."""

    case_ref: str
    case_version: int
    country: str
    task_id: int
    task_key: str
    label: str
    status: str
    institution: str
    due_at: datetime
    overdue: bool
    moves: list[str]
    outcome_fields: list[str]
    attributes: dict[str, Any]
    person: dict[str, str]
    withheld: list[str]  # person fields the step shares but consent does not (yet) allow
    linked_ref: str | None


def view_task(svc: Services, actor: Actor, ref: str, task: TaskRef, locale: str = "es") -> TaskView:
    """The task as its institution sees it; sharing personal data leaves an event."""
    with svc.uow() as uow:
        case = uow.cases.get(ref)
        target = find_task(case, task)
        require_task_reader(actor, case, target)
        loaded = uow.protocols.pinned(case.protocol_hash)
        spec = loaded.protocol.task_spec(target.key)[2]
        shares = list(spec.shares)
        attributes = {
            k: case.attributes[k] for k in shares if k not in PERSON_FIELDS and k in case.attributes
        }
        wanted = [k for k in shares if k in PERSON_FIELDS]
        allowed = wanted if wanted and _may_share(case, target) else []
        record = uow.cases.person(case) if allowed else {}
        person = {k: record[k] for k in allowed if k in record}
        if person:  # an append-only event; the case itself does not change (no version bump)
            case.record(
                EventKind.personal_data_shared,
                svc.clock.now(),
                actor.name,
                task=target.key,
                task_id=target.id,
                institution=target.institution,
                fields=sorted(person),
            )
            uow.cases.save(case)
            uow.commit()
        return TaskView(
            case_ref=case.ref,
            case_version=case.version,
            country=case.country,
            task_id=target.id or 0,  # a stored task always has its id
            task_key=target.key,
            label=spec.label.get(locale),
            status=target.status,
            institution=target.institution,
            due_at=target.due_at,
            overdue=target.overdue_at is not None,
            moves=allowed_moves(target) if target.is_open else [],
            outcome_fields=list(spec.outcome),
            attributes=attributes,
            person=person,
            withheld=[k for k in wanted if k not in allowed],
            linked_ref=(target.handoff or {}).get("linked_ref"),
        )


def _may_share(case: Case, task: Task) -> bool:
    """Personal data goes to a role only with consent to share with it, or a legal basis."""
    return holds([ConsentGuard(consent="data_sharing", role=task.role)], GuardContext.of(case))

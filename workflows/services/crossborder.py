"""Cross-border handoffs across two cases: acceptance opens the linked case, arrival closes.

1. The sending case's step opens a handoff task for the receiving coordinator
   (workflows/engine/handoff.py).
2. The receiving coordinator accepts it: a case opens in the receiving country under its own
   protocol, with the consented packet (the fields the step shares, person fields only with
   consent to share data or a legal basis); both cases record the link. One commit.
3. The receiving side confirms the arrival: the sending task completes (which may fire the
   sending step's trigger, e.g. the durable solution is completed). One commit.
"""

from __future__ import annotations

from typing import Any

from protocols.schema import BUILTIN_ATTRIBUTES, PERSON_FIELDS, ConsentGuard
from workflows.domain.access import Actor, require_responder
from workflows.domain.case import Case, CaseLink, Task
from workflows.domain.errors import InvalidInput, TaskNotOpen
from workflows.domain.events import EventKind
from workflows.domain.guards import GuardContext, holds
from workflows.domain.ports import Services, UnitOfWork
from workflows.engine.engine import Engine
from workflows.engine.tasks import find_task
from workflows.services.cases import change, new_case


def open_linked_case(svc: Services, uow: UnitOfWork, sending: Engine, task: Task) -> str:
    """Open the receiving country's case for an accepted handoff task; return its reference."""
    info = dict(task.handoff or {})
    loaded = svc.catalog.latest(str(info["country"]), str(info["programme"]))
    if loaded is None:
        raise InvalidInput(
            f"Task '{task.key}' of case {sending.case.ref} hands over to {info['country']}, "
            f"which has no published {info['programme']} protocol in Ruta."
        )
    spec = sending.loaded.protocol.task_spec(task.key)[2]
    source = sending.case.attributes
    attributes: dict[str, Any] = {
        k: source[k] for k in spec.shares if k in BUILTIN_ATTRIBUTES and k in source
    }
    attributes["jurisdiction"] = str(info["jurisdiction"])
    attributes.setdefault("minor", bool(source.get("minor", False)))
    person: dict[str, str] = {}
    consent = ConsentGuard(consent="data_sharing", role=task.role)
    if holds([consent], GuardContext.of(sending.case)):
        record = uow.cases.person(sending.case)
        person = {k: record[k] for k in spec.shares if k in PERSON_FIELDS and k in record}
    receiving = new_case(svc, uow, loaded, attributes, Actor.system("handoff"), person or None)
    now, who = sending.now, sending.actor.name
    receiving.add_link(CaseLink("received_from", sending.case.ref, task.id, now))
    receiving.record(
        EventKind.handoff_received,
        now,
        who,
        from_case=sending.case.ref,
        from_country=sending.case.country,
        task_id=task.id,
        shared=sorted([*attributes, *person]),
    )
    uow.cases.save(receiving)
    info["linked_ref"] = receiving.ref
    task.handoff, task.dirty = info, True
    sending.case.add_link(CaseLink("handed_to", receiving.ref, task.id, now))
    sending.case.record(
        EventKind.handoff_accepted,
        now,
        who,
        track=task.track,
        task=task.key,
        task_id=task.id,
        linked_case=receiving.ref,
        country=receiving.country,
    )
    return receiving.ref


def confirm_arrival(
    svc: Services,
    actor: Actor,
    receiving_ref: str,
    outcome: dict[str, Any] | None = None,
    expected_version: int | None = None,
) -> int:
    """The receiving side confirms the person arrived: the sending handoff task completes."""
    with svc.uow() as uow:
        receiving = uow.cases.get(receiving_ref)
        link = next((x for x in receiving.links if x.kind == "received_from"), None)
        if link is None or link.task_id is None:
            raise InvalidInput(
                f"Case {receiving_ref} was not received through a handoff; there is no "
                "arrival to confirm."
            )
        task_id = link.task_id

        def check(sending_case: Case) -> None:
            task = find_task(sending_case, task_id)
            # the receiving country's focal points, or the institution the handoff task is
            # addressed to making a responder's move (its officers, not its managers)
            if not (actor.role == "focal_point" and receiving.country in actor.countries):
                require_responder(actor, sending_case, task, "confirm the arrival for")
            if not task.is_open:
                raise TaskNotOpen(
                    f"The handoff task of case {sending_case.ref} is {task.status}; the "
                    "arrival was already confirmed or the handoff ended."
                )

        sending = change(svc, uow, link.ref, actor, None, check)
        sending.engine.move_task(task_id, "complete", outcome=outcome or {})
        uow.cases.save(sending.case)
        rc = change(svc, uow, receiving_ref, actor, expected_version, lambda _c: None)
        rc.case.record(
            EventKind.arrival_confirmed,
            rc.engine.now,
            actor.name,
            from_case=link.ref,
            task_id=task_id,
        )
        uow.cases.save(rc.case)
        uow.commit()
        return rc.case.version

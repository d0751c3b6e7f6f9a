"""Personal data on demand: a focal point reveals a person record or finds cases by
document number, each time with a coded reason that an append-only event keeps.

Neither changes the case (no claim, no version bump): the event is the whole trace. The
event holds the reason and the names of the fields, never their values.
"""

from __future__ import annotations

from workflows.domain.access import Actor, require_case_access, require_casebook
from workflows.domain.attributes import check_document
from workflows.domain.errors import InvalidInput
from workflows.domain.events import EventKind
from workflows.domain.ports import Services

# Why a focal point opens the protected person record; the code goes into the event.
REVEAL_REASONS = ("case_work", "contact_person", "legal_proceeding", "verification")


def _check_reason(reason: str, doing: str) -> None:
    if reason not in REVEAL_REASONS:
        raise InvalidInput(
            f"Unknown reason {reason!r} to {doing} personal data; reasons: "
            f"{', '.join(REVEAL_REASONS)}."
        )


def reveal_person(svc: Services, actor: Actor, ref: str, reason: str) -> dict[str, str]:
    """The protected person record of a case, for a focal point who gives a coded reason;
    leaves a `personal_data_viewed` event with the reason and the names of the fields."""
    _check_reason(reason, "reveal")
    require_casebook(actor, f"reveal personal data of case {ref}")
    with svc.uow() as uow:
        case = uow.cases.get(ref)
        require_case_access(actor, case, "reveal personal data of")
        person = uow.cases.person(case)
        case.record(
            EventKind.personal_data_viewed,
            svc.clock.now(),
            actor.name,
            reason=reason,
            fields=sorted(person),
        )
        uow.cases.save(case)
        uow.commit()
    return person


def find_by_document(svc: Services, actor: Actor, number: str, reason: str) -> list[str]:
    """The cases in the actor's scope whose person has this document number.

    The lookup goes through the blind index (the number is never compared in the clear) and
    leaves a `personal_data_searched` event with the reason on every case it finds.
    """
    _check_reason(reason, "search")
    require_casebook(actor, "search cases by document number")
    check_document(number)
    found = []
    with svc.uow() as uow:
        for ref in uow.cases.with_document(number):
            case = uow.cases.get(ref)
            if case.country not in actor.countries:
                continue  # another country's case: not even its existence is told
            case.record(
                EventKind.personal_data_searched, svc.clock.now(), actor.name, reason=reason
            )
            uow.cases.save(case)
            found.append(ref)
        uow.commit()
    return found

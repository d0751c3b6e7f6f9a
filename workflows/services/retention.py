"""Retention: personal data of a closed case is purged once its country's period has run.

Each protocol declares `retention: {after_closure, basis, source}`. The purge deletes the
sealed person record and the task notes of every case closed longer ago than that, one case
per transaction, and leaves a `personal_data_purged` event saying what went and under which
rule. The case itself, its tasks and its events stay: the compliance figures and the audit
chain do not lose their history, only the person does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from protocols.loader import LoadedProtocol
from workflows.domain.deadlines import add
from workflows.domain.events import EventKind
from workflows.domain.ports import Services


@dataclass(frozen=True, slots=True)
class Expired:
    """A closed case whose personal data has outlived its retention period."""

    ref: str
    protocol_id: str
    closed_at: datetime
    expired_at: datetime
    retention: str
    basis: str


def due(svc: Services, now: datetime | None = None) -> list[Expired]:
    """Closed cases still holding personal data whose retention period has run out."""
    now = now or svc.clock.now()
    found: list[Expired] = []
    with svc.uow() as uow:
        for held in uow.cases.holding_personal_data(now):
            loaded = _policy_source(svc, uow.protocols.pinned(held.protocol_hash))
            p, rule = loaded.protocol, loaded.protocol.retention
            if rule is None:
                continue  # the country has not set a period: kept until purged by hand
            ends = add(held.closed_at, rule.after_closure, p.timezone, p.calendar)
            if ends <= now:
                retained = str(rule.after_closure)
                found.append(
                    Expired(held.ref, p.id, held.closed_at, ends, retained, rule.basis.value)
                )
    return found


def purge(svc: Services, now: datetime | None = None) -> list[Expired]:
    """Delete the personal data of every expired case; each leaves an event. Returns them."""
    now = now or svc.clock.now()
    purged = []
    for item in due(svc, now):
        with svc.uow() as uow:
            case = uow.cases.get(item.ref)
            fields, notes = uow.cases.forget_person(case)
            if not fields and not notes:
                continue  # purged meanwhile by another run
            case.record(
                EventKind.personal_data_purged,
                now,
                "system:retention",
                fields=fields,
                notes=notes,
                closed_at=item.closed_at.isoformat(),
                retention=item.retention,
                basis=item.basis,
            )
            uow.cases.save(case)
            uow.commit()
        purged.append(item)
    return purged


def _policy_source(svc: Services, pinned: LoadedProtocol) -> LoadedProtocol:
    """The country's current rule applies to old cases too (a law binds all data it covers)."""
    latest = svc.catalog.latest(pinned.protocol.country, pinned.protocol.programme)
    if latest is not None and latest.id == pinned.id and latest.protocol.retention is not None:
        return latest
    return pinned

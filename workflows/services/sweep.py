"""The deadline sweep: every due reminder, overdue mark, escalation and state expiry."""

from __future__ import annotations

from dataclasses import dataclass, field

from workflows.domain.access import Actor
from workflows.domain.errors import ConcurrentChange
from workflows.domain.ports import Services
from workflows.services.cases import change

SWEEPER = Actor.system("sweep")


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
                    ch = change(svc, uow, ref, SWEEPER, None, now=now)
                    handled = ch.engine.sweep()
                    uow.cases.save(ch.case)
                    uow.commit()
            except ConcurrentChange:
                report.skipped.append(ref)
                continue
            report.cases += 1
            report.handled += handled

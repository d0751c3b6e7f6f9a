"""The deadline sweep: every due reminder, overdue mark, escalation and state expiry."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from institutions.errors import DirectoryError
from protocols.errors import ProtocolError
from workflows.domain.access import Actor
from workflows.domain.case import Case
from workflows.domain.errors import ConcurrentChange, ReferralEngineError
from workflows.domain.ports import Services, UnitOfWork
from workflows.services.cases import engine

SWEEPER = Actor.system("sweep")
PER_COMMIT = 50  # cases per transaction: one commit (and one chain-head write) for them all
_log = logging.getLogger(__name__)


@dataclass(slots=True)
class SweepReport:
    cases: int = 0
    handled: int = 0
    skipped: list[str] = field(default_factory=list)  # another worker had them
    failed: list[str] = field(default_factory=list)  # "<ref>: why" the engine could not


def sweep(svc: Services, batch: int = 200, per_commit: int = PER_COMMIT) -> SweepReport:
    """Climb every due task's reminder/overdue/escalation ladder and expire state deadlines.

    Reads only what is due (`next_action_at`), `per_commit` cases to a transaction. Each case
    is still all or nothing: its rungs are worked out in memory first, and only then is its
    version compare-and-set and its rows written, so a case another worker holds (row lock,
    SKIP LOCKED on PostgreSQL) or changed meanwhile is skipped untouched, and a case the
    engine fails on is left as it was (and reported), without holding up the others. What is
    skipped or failed stays due for the next sweep; nothing is done or sent twice.
    """
    report = SweepReport()
    now = svc.clock.now()
    seen: set[str] = set()
    while True:
        with svc.uow() as uow:
            refs = [r for r in uow.cases.due_refs(now, batch + len(seen)) if r not in seen]
        if not refs:
            return report
        refs = refs[:batch]
        seen.update(refs)
        for start in range(0, len(refs), per_commit):
            with svc.uow() as uow:
                wanted = refs[start : start + per_commit]
                taken = uow.cases.take(wanted)
                held = {case.ref for case in taken}
                report.skipped += [ref for ref in wanted if ref not in held]
                for case in taken:
                    _sweep_case(svc, uow, case, now, report)
                uow.commit()


def _sweep_case(
    svc: Services, uow: UnitOfWork, case: Case, now: datetime, report: SweepReport
) -> None:
    ref = case.ref
    loaded = uow.protocols.pinned(case.protocol_hash)
    try:
        handled = engine(svc, uow, case, loaded, SWEEPER, now).sweep()
    except (ReferralEngineError, DirectoryError, ProtocolError) as exc:
        # e.g. an escalation with no coordinator left in the directory: this case waits for
        # the directory to be mended, the other deadlines go on (a database error, which
        # spoils the transaction, is not caught: it ends the sweep, as before)
        _log.error("sweep: case %s left as it was: %s: %s", ref, type(exc).__name__, exc)
        report.failed.append(f"{ref}: {exc}")
        return
    try:
        uow.cases.claim(case)
    except ConcurrentChange:
        report.skipped.append(ref)
        return
    uow.cases.save(case)
    report.cases += 1
    report.handled += handled

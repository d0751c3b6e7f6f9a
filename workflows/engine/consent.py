"""Consent on a case: recording it, and what a withdrawal cancels.

Consent is recorded per purpose and, optionally, per recipient role. A legal basis stands in
for consent and is not undone by a later withdrawal. Withdrawing consent cancels every open
task whose conditions involved it and no longer hold (workflows/domain/guards.py
`covering_conditions`); each institution affected gets one `consent_withdrawn` message.
"""

from __future__ import annotations

from typing import Any

from protocols.schema import ConsentGuard
from workflows.domain.case import ConsentRecord
from workflows.domain.events import EventKind
from workflows.domain.guards import GuardContext, covering_conditions, holds
from workflows.engine.effects import Effects


def record_consent(fx: Effects, record: ConsentRecord) -> None:
    """Record consent or a legal basis; a withdrawal cancels the open tasks it covered."""
    before = GuardContext.of(fx.case)
    fx.case.add_consent(record)
    said = ConsentGuard.model_validate({"consent": record.purpose, "role": record.role})
    withdrawn = not record.given and holds([said], before)
    kind = (
        EventKind.legal_basis_recorded
        if record.legal_basis
        else EventKind.consent_withdrawn
        if withdrawn
        else EventKind.consent_recorded
    )
    after = GuardContext.of(fx.case)
    extra: dict[str, Any] = (
        {"legal_basis_stands": True} if withdrawn and holds([said], after) else {}
    )
    fx.record(
        kind,
        purpose=record.purpose,
        role=record.role,
        given=record.given,
        legal_basis=record.legal_basis,
        **extra,  # the person withdrew, but a legal duty keeps the referral going
    )
    if withdrawn:
        _cancel_uncovered(fx, before, after, record.purpose)


def _cancel_uncovered(fx: Effects, before: GuardContext, after: GuardContext, purpose: str) -> None:
    """Cancel each open task whose consent condition held before and no longer does."""
    told: set[str] = set()
    for task in fx.case.open_tasks():
        conditions = covering_conditions(fx.protocol, task, purpose)
        lost = [g for g in conditions if holds([g], before) and not holds([g], after)]
        if not lost:
            continue
        fx.cancel(task, "consent_withdrawn")
        if task.institution not in told:
            told.add(task.institution)
            fx.notify("consent_withdrawn", task.role, task.institution, task)

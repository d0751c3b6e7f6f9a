"""The nightly compliance snapshot: per-country figures kept for trend reports."""

from __future__ import annotations

from workflows.domain.ports import Services


def take_snapshot(svc: Services) -> int:
    """Store today's compliance counts of every country with cases; return how many."""
    now = svc.clock.now()
    with svc.uow() as uow:
        figures = uow.inbox.compliance(uow.inbox.countries(), now)
        uow.inbox.record_snapshot(now, figures)
        uow.commit()
    return len(figures)

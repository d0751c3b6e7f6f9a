"""Prefect flows: thin shells over the use cases. The only module that imports Prefect.

Flows are `async` so a run does not pay the sync-flow heartbeat join (about 1 s each with
Prefect 3.9, reference/standards-and-libraries.md section 5.5). They take no parameters and
return counts only: nothing about a person ever reaches Prefect's database. Results are not
persisted. The database stays the system of record; per-case waiting never lives in a flow.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect import flow, serve
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

from ruta import anchors, bootstrap
from workflows.services import retention
from workflows.services.dispatch import dispatch
from workflows.services.snapshots import take_snapshot
from workflows.services.sweep import sweep

NIGHTLY_CRON = "0 2 * * *"  # nightly, in the server's time zone
ONE_AT_A_TIME = ConcurrencyLimitConfig(
    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
)


@flow(name="deadline-sweep", persist_result=False, log_prints=False)
async def deadline_sweep() -> dict[str, int]:
    """Reminders, overdue marks, escalations and deadline expiries that are due now."""

    def run() -> dict[str, int]:
        report = sweep(bootstrap.services())
        if report.failed:  # the others are swept and saved; the run shows red until mended
            raise RuntimeError(
                f"{len(report.failed)} case(s) could not be swept and stay due: "
                + "; ".join(report.failed)
            )
        return {"cases": report.cases, "handled": report.handled, "skipped": len(report.skipped)}

    return await asyncio.to_thread(run)


@flow(name="outbox-dispatch", persist_result=False, log_prints=False)
async def outbox_dispatch() -> dict[str, int]:
    """Send what is pending in the outbox, with retries and dead letters."""

    def run() -> dict[str, int]:
        cfg = bootstrap.settings()
        svc, sender = bootstrap.services(cfg), bootstrap.email_sender(cfg)
        totals = {"sent": 0, "retried": 0, "ambiguous": 0, "dead": 0}
        while True:  # drain: a burst of messages should not wait for the next schedule
            report = dispatch(svc, sender, cfg.console_url, limit=200)
            totals["sent"] += report.sent
            totals["retried"] += report.retried
            totals["ambiguous"] += report.ambiguous  # a duplicate may have gone out
            totals["dead"] += report.dead
            if report.claimed < 200 or report.lost:
                return totals

    return await asyncio.to_thread(run)


@flow(name="nightly", persist_result=False, log_prints=False)
async def nightly() -> dict[str, int]:
    """Purge personal data past its retention period, record the compliance figures (each
    with the audit chain's head), and append the head to the anchor file outside the database."""

    def run() -> dict[str, int]:
        cfg = bootstrap.settings()
        svc = bootstrap.services(cfg)
        purged = len(retention.purge(svc))
        countries = take_snapshot(svc)
        db = bootstrap.engine(cfg)
        try:
            anchors.take(db, cfg.anchors_file, svc.clock.now())
        finally:
            db.dispose()
        return {"purged": purged, "countries": countries}

    return await asyncio.to_thread(run)


def deployments() -> list[Any]:
    cfg = bootstrap.settings()
    return [
        deadline_sweep.to_deployment(
            name="deadline-sweep", interval=cfg.sweep_seconds, concurrency_limit=ONE_AT_A_TIME
        ),
        outbox_dispatch.to_deployment(
            name="outbox-dispatch", interval=cfg.dispatch_seconds, concurrency_limit=ONE_AT_A_TIME
        ),
        nightly.to_deployment(name="nightly", cron=NIGHTLY_CRON, concurrency_limit=ONE_AT_A_TIME),
    ]


def run_worker() -> None:
    """Serve the three deployments until stopped (needs a Prefect server: PREFECT_API_URL)."""
    serve(*deployments(), print_starting_message=False)

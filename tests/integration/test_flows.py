"""The Prefect flows, run under Prefect's test harness against a real (temporary) server."""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from protocols.registry import Registry
from ruta import bootstrap
from ruta.db import upgrade
from tests.conftest import TEST_KEY, VAULT
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock, SystemClock
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.store import tables
from workflows.store.uow import SqlUnitOfWork

# Prefect's harness leaves client sockets to the garbage collector and its SQLite server logs
# "database is locked" now and then (reference/standards-and-libraries.md section 5.6):
# neither is ours, and neither changes what the flows did.
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield
    gc.collect()  # the harness's sockets go now, under this module's filter, not in a later test


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("RUTA_HOME", str(tmp_path))
    monkeypatch.setenv("RUTA_SECRET_KEY", TEST_KEY)
    monkeypatch.delenv("RUTA_DATABASE_URL", raising=False)
    monkeypatch.delenv("RUTA_SENDGRID_API_KEY", raising=False)
    bootstrap.settings.cache_clear()
    engine = bootstrap.engine()
    upgrade(engine)
    bootstrap.seed_directory(engine)
    yield tmp_path
    bootstrap.settings.cache_clear()


def overdue_case(home: Path) -> str:
    """A Colombian case opened three days ago, so its first task is overdue now."""
    registry = Registry.scan()
    clock = SimulatedClock(SystemClock().now() - timedelta(days=3))
    engine = bootstrap.engine()
    svc = Services(lambda: SqlUnitOfWork(engine, VAULT), clock, registry)
    return cases.open_case(
        svc,
        registry.latest_published("CO-TRATA"),
        {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
        Actor.system("test"),
    )


def test_the_flows_sweep_dispatch_and_snapshot(harness, home):
    from ruta.flows import deadline_sweep, nightly, outbox_dispatch

    ref = overdue_case(home)
    swept = asyncio.run(deadline_sweep())
    assert swept["cases"] == 1
    assert swept["handled"] >= 1
    sent = asyncio.run(outbox_dispatch())
    assert sent["dead"] == 0
    assert sent["sent"] >= 3  # the assignments and the overdue notices
    emails = sorted((home / "outbox").glob("*.eml"))
    assert len(emails) == sent["sent"]
    assert any(ref in e.read_text() for e in emails)
    assert asyncio.run(nightly()) == {"purged": 0, "countries": 1}
    with bootstrap.engine().connect() as conn:  # the snapshot anchors the audit chain's head
        (figures,) = conn.execute(select(tables.compliance_snapshots.c.figures)).scalars()
        head = conn.execute(select(tables.audit_head.c.event_id, tables.audit_head.c.hash)).one()
        events = conn.execute(select(func.count()).select_from(tables.events)).scalar_one()
    assert figures["audit_head"] == {"event_id": head[0], "hash": head[1], "count": events}
    # and so does a line appended to the anchor file, outside the database
    (line,) = (home / "audit-anchors.jsonl").read_text().splitlines()
    assert json.loads(line) == figures["audit_head"] | {"at": json.loads(line)["at"]}
    # the flows returned counts only: nothing about a person reaches Prefect
    assert set(swept) == {"cases", "handled", "skipped"}
    assert sent["ambiguous"] == 0  # the file sender: a retry never duplicates
    assert set(sent) == {"sent", "retried", "ambiguous", "dead"}

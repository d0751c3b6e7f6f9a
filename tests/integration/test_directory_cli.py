"""`ruta init` seeds the directory once; `ruta users` and `ruta institutions gaps`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from protocols.registry import Registry
from ruta import bootstrap
from ruta.cli import app
from tests.conftest import TEST_KEY, VAULT
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock, SystemClock
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.store.uow import SqlUnitOfWork


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RUTA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RUTA_DATABASE_URL", raising=False)
    bootstrap.settings.cache_clear()
    yield tmp_path / "home"
    bootstrap.settings.cache_clear()


def test_init_seeds_an_empty_directory_once_and_users_can_be_added(home):
    runner = CliRunner()
    first = runner.invoke(app, ["init"])
    assert first.exit_code == 0, first.output
    assert "seed institutions loaded" in first.output
    again = runner.invoke(app, ["init"])
    assert "seed institutions loaded" not in again.output  # directory edits are kept

    added = runner.invoke(
        app,
        ["users", "add", "fp.narino", "--institution", "co-comite-trata-narino",
         "--role", "focal_point", "--country", "co"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["users", "list"])
    assert "fp.narino" in listed.output
    assert "co-comite-trata-narino" in listed.output

    unknown = runner.invoke(
        app, ["users", "add", "off.x", "--institution", "nowhere", "--role", "officer"]
    )
    assert unknown.exit_code == 2
    assert "No institution 'nowhere'" in unknown.output
    no_scope = runner.invoke(
        app, ["users", "add", "mgr.x", "--institution", "co-sena", "--role", "manager"]
    )
    assert no_scope.exit_code == 2
    assert "needs at least one --country" in no_scope.output
    bad_role = runner.invoke(
        app, ["users", "add", "x.y", "--institution", "co-sena", "--role", "boss"]
    )
    assert bad_role.exit_code == 2
    assert "focal_point, officer, manager, admin" in bad_role.output

    gaps = runner.invoke(app, ["institutions", "gaps"])
    assert gaps.exit_code == 0
    assert "No routing gaps." in gaps.output
    status = runner.invoke(app, ["status"])
    assert "institutions, 1 users; routing gaps: 0" in status.output


def test_a_sweep_that_cannot_route_an_escalation_says_which_case_and_why(home, monkeypatch):
    """Every Colombian coordinator closed: the overdue notices still go, the escalation to the
    coordinator cannot, and `ruta sweep` names the case and the reason and exits 1."""
    monkeypatch.setenv("RUTA_SECRET_KEY", TEST_KEY)
    bootstrap.settings.cache_clear()
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    engine = bootstrap.engine()
    registry = Registry.scan()
    clock = SimulatedClock(SystemClock().now() - timedelta(days=10))
    svc = Services(lambda: SqlUnitOfWork(engine, VAULT), clock, registry)
    ref = cases.open_case(
        svc,
        registry.latest_published("CO-TRATA"),
        {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
        Actor.system("test"),
    )
    with svc.uow() as uow:
        closed = [
            replace(i, active=False)
            for i in uow.directory.institutions("CO")
            if "comite_interinstitucional" in i.roles
        ]
        assert closed
        uow.directory.upsert(closed)
        uow.commit()
    engine.dispose()
    swept = runner.invoke(app, ["sweep"])
    assert swept.exit_code == 1, swept.output
    assert "1 case(s) left as they were, still due:" in swept.output
    assert f"{ref}: No active institution in CO fills the coordinator role" in swept.output

"""Shared fixtures: databases (SQLite always, PostgreSQL when RUTA_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from institutions.seeds import load_seed
from institutions.store import SqlDirectory
from protocols.loader import LoadedProtocol, load_file
from protocols.registry import Registry
from ruta.db import make_engine, upgrade
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Services
from workflows.store.uow import SqlUnitOfWork
from workflows.store.vault import Vault

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("RUTA_TEST_POSTGRES_URL")
START = datetime.fromisoformat("2026-03-02T09:00:00-05:00")  # a Monday in Bogota


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A throwaway database on the PostgreSQL server, one per test worker."""
    if not PG_URL:
        pytest.skip("RUTA_TEST_POSTGRES_URL is not set; PostgreSQL tests run in CI (.ci/run)")
    name = f"ruta_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _fresh_pg(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[str], Engine]]:
    """Makes an empty database of a kind: "sqlite" (a file) or "postgres" (needs the server)."""
    made: list[Engine] = []

    def make(kind: str) -> Engine:
        if kind == "sqlite":
            engine = make_engine(f"sqlite:///{tmp_path / f'ruta-{len(made)}.sqlite3'}")
        else:
            engine = _fresh_pg(request.getfixturevalue("pg_server_url"))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bare_engine(request: pytest.FixtureRequest, database: Callable[[str], Engine]) -> Engine:
    """An empty database of each kind."""
    return database(request.param)


@pytest.fixture
def engine(bare_engine: Engine) -> Engine:
    """A migrated database of each kind."""
    upgrade(bare_engine)
    return bare_engine


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def svc(engine: Engine, clock: SimulatedClock, test_protocol: LoadedProtocol) -> Services:
    """Services on a migrated database whose directory is tests/fixtures/test-directory.yaml."""
    with engine.begin() as conn:
        SqlDirectory(conn).upsert(load_seed(FIXTURES / "test-directory.yaml"))
    catalog = Registry(loaded=[test_protocol])
    return Services(uow=lambda: SqlUnitOfWork(engine, VAULT), clock=clock, catalog=catalog)


# a fixed test key (never used outside tests); tests/integration/test_vault.py rotates others
TEST_KEY = "dGVzdC1rZXktbm90LWZvci1wcm9kdWN0aW9uLXVzZS0="
VAULT = Vault.from_text([TEST_KEY], "test key")
SYSTEM = Actor.system("test")
FOCAL_CO = Actor("focal-co", "focal_point", "test-lead", frozenset({"CO"}))


def officer(institution: str) -> Actor:
    return Actor(f"officer@{institution}", "officer", institution)


@pytest.fixture(scope="session")
def test_protocol() -> LoadedProtocol:
    return load_file(FIXTURES / "test-protocol.yaml")

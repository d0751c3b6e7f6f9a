"""The adapters under contract: in memory, and SQL on SQLite and (in CI) PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from institutions.directory import InMemoryDirectory
from institutions.seeds import load_seed
from institutions.store import SqlDirectory
from protocols.loader import LoadedProtocol
from protocols.registry import Registry
from ruta.db import upgrade
from tests.conftest import FIXTURES, VAULT
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Services, UnitOfWork
from workflows.store.memory import InMemoryUnitOfWork, MemoryData
from workflows.store.uow import SqlUnitOfWork


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ports(
    request: pytest.FixtureRequest, clock: SimulatedClock, test_protocol: LoadedProtocol
) -> Services:
    """Services on one adapter, with the directory of tests/fixtures/test-directory.yaml."""
    directory = load_seed(FIXTURES / "test-directory.yaml")
    make: Callable[[], UnitOfWork]
    if request.param == "memory":
        data = MemoryData(directory=InMemoryDirectory(directory))
        make = lambda: InMemoryUnitOfWork(data)  # noqa: E731
    else:
        engine: Engine = request.getfixturevalue("database")(request.param)
        upgrade(engine)
        with engine.begin() as conn:
            SqlDirectory(conn).upsert(directory)
        make = lambda: SqlUnitOfWork(engine, VAULT)  # noqa: E731
    return Services(make, clock, Registry(loaded=[test_protocol]))

"""The engine and the use cases on the in-memory ports: no database, milliseconds a test.

`svc` here is Services on workflows/store/memory/ with the directory of
tests/fixtures/test-directory.yaml; tests/contract/ holds those ports to the SQL ones.
Events and queued messages are read through the ports, as any caller would.
"""

from __future__ import annotations

from typing import Any

import pytest

from institutions.directory import InMemoryDirectory
from institutions.seeds import load_seed
from protocols.loader import LoadedProtocol
from protocols.registry import Registry
from tests.conftest import FIXTURES
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Services
from workflows.store.memory import InMemoryUnitOfWork, MemoryData


def memory_services(
    clock: SimulatedClock, catalog: Registry, directory: InMemoryDirectory
) -> Services:
    data = MemoryData(directory=directory)
    return Services(lambda: InMemoryUnitOfWork(data), clock, catalog)


@pytest.fixture
def svc(clock: SimulatedClock, test_protocol: LoadedProtocol) -> Services:
    directory = InMemoryDirectory(load_seed(FIXTURES / "test-directory.yaml"))
    return memory_services(clock, Registry(loaded=[test_protocol]), directory)


def events(svc: Services, ref: str, **match: Any) -> list[tuple[str, dict[str, Any]]]:
    """The case's events in order, those whose data has every `match` item."""
    with svc.uow() as uow:
        found = uow.cases.events(uow.cases.get(ref))
    return [(e.kind, e.data) for e in found if all(e.data.get(k) == v for k, v in match.items())]


def messages(svc: Services, ref: str) -> list[dict[str, Any]]:
    """The case's queued messages, oldest first."""
    with svc.uow() as uow:
        return uow.cases.queued_notifications(uow.cases.get(ref))


def outbox(svc: Services, ref: str, template: str) -> list[str]:
    """The institutions a message with this template was queued for, in order."""
    return [m["institution"] for m in messages(svc, ref) if m["template"] == template]

"""Every shipped scenario passes on the in-memory ports and on SQLite, and leaves the same
cases behind: states, tasks, deadlines, consents, links, events and queued messages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from protocols.registry import SCENARIOS_DIR, Registry
from ruta.bootstrap import memory_scenario_services, scenario_services
from ruta.scenarios import run_file
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import UnknownCase
from workflows.domain.ports import Services

SCENARIOS = sorted(SCENARIOS_DIR.glob("*.yaml"))
MAKERS = {"memory": memory_scenario_services, "sqlite": scenario_services}


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.scan()


def test_there_are_three_scenarios_per_protocol(registry):
    for protocol_id in registry.ids():
        prefix = protocol_id.split("-")[0].lower()
        assert len([p for p in SCENARIOS if p.name.startswith(prefix)]) >= 3, protocol_id


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_a_scenario_passes_and_ends_the_same_on_every_adapter(path: Path, registry):
    ends = {}
    for kind, make in MAKERS.items():
        made: list[Services] = []

        def wired(
            clock: SimulatedClock,
            inactive: list[str],
            make: Callable[[SimulatedClock, list[str]], Services] = make,
            made: list[Services] = made,
        ) -> Services:
            made.append(make(clock, inactive))
            return made[-1]

        result = run_file(str(path), registry, wired)
        failures = [f"{s.index}. {s.summary}: {s.differences}" for s in result.steps if not s.ok]
        assert result.passed, f"on {kind}:\n" + "\n".join(failures)
        ends[kind] = _state(made[0])
    assert ends["memory"] == ends["sqlite"]


def _state(svc: Services) -> dict[str, Any]:
    """Every case the scenario left, with database ids replaced by the task's place."""
    with svc.uow() as uow:
        found = []
        for country in uow.inbox.countries():
            for year in range(2024, 2029):
                number = 1
                while True:
                    try:
                        found.append(uow.cases.get(f"{country}-{year}-{number:06d}"))
                    except UnknownCase:
                        break
                    number += 1
        place = {t.id: f"{c.ref}#{i}" for c in found for i, t in enumerate(c.tasks)}
        return {case.ref: _case(case, uow, place) for case in found}


def _case(case: Any, uow: Any, place: dict[Any, str]) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: place.get(v, v) if k == "task_id" else plain(v) for k, v in value.items()}
        return value

    tasks = [
        {k: plain(v) for k, v in vars_(t).items() if k not in ("id", "dirty")} for t in case.tasks
    ]
    return {
        "version": case.version,
        "attributes": case.attributes,
        "closed_at": case.closed_at,
        "lead": case.lead_institution,
        "tracks": {n: (t.state, t.opened_at, t.entered_at) for n, t in case.tracks.items()},
        "tasks": tasks,
        "deadlines": [
            (d.track, d.state, d.due_at, d.status, d.next_action_at, d.extensions)
            for d in case.deadlines
        ],
        "consents": case.consents,
        "approvals": case.approvals,
        "links": [(x.kind, x.ref, place.get(x.task_id, x.task_id), x.at) for x in case.links],
        "events": [(e.kind, e.at, e.actor, e.track, plain(e.data)) for e in uow.cases.events(case)],
        "messages": uow.cases.queued_notifications(case),
        "person": uow.cases.person(case),
    }


def vars_(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__slots__}

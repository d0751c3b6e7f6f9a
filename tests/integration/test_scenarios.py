"""Every shipped scenario passes; a wrong expectation fails with a readable difference."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from protocols.registry import SCENARIOS_DIR, Registry
from ruta.bootstrap import scenario_services
from ruta.cli import app
from ruta.scenarios import run_file

SCENARIOS = sorted(SCENARIOS_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def registry():
    return Registry.scan()


def test_there_are_three_scenarios_per_protocol(registry):
    for protocol_id in registry.ids():
        prefix = protocol_id.split("-")[0].lower()
        assert len([p for p in SCENARIOS if p.name.startswith(prefix)]) >= 3, protocol_id


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_passes(path, registry):
    result = run_file(str(path), registry, scenario_services)
    failures = [f"{s.index}. {s.summary}: {s.differences}" for s in result.steps if not s.ok]
    assert result.passed, "\n".join(failures)


WRONG = """
protocol: CO-TRATA
name: wrong expectation
start: "2026-03-02T09:00:00-05:00"
case: {jurisdiction: CO-NAR, minor: false, nationality: VE}
steps:
  - open: {}
  - expect: {tracks: {care: immediate_assistance}}
"""


def test_a_wrong_expectation_fails_with_a_readable_difference(tmp_path: Path):
    path = tmp_path / "wrong.yaml"
    path.write_text(WRONG)
    result = CliRunner().invoke(app, ["scenario", "run", str(path)])
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "tracks.care: expected 'immediate_assistance', got 'reported'" in result.output
    assert "0 passed, 1 failed" in result.output


def test_a_scenario_for_an_unknown_protocol_is_a_clear_error(tmp_path: Path):
    path = tmp_path / "unknown.yaml"
    path.write_text(WRONG.replace("CO-TRATA", "XX-TRATA"))
    result = CliRunner().invoke(app, ["scenario", "run", str(path)])
    assert result.exit_code == 1
    assert "No published protocol 'XX-TRATA'" in result.output
    assert "Traceback" not in result.output

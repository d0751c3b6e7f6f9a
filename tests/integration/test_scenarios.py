"""`ruta scenario run`: a wrong expectation fails with a readable difference, an unknown
protocol is a clear error. (Every shipped scenario passing, on every adapter, is
tests/contract/test_same_story.py.)"""

from pathlib import Path

from typer.testing import CliRunner

from ruta.cli import app

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
    assert result.exit_code == 2  # the file cannot run at all, as `ruta protocols validate`
    assert "No published protocol 'XX-TRATA'" in result.output
    assert "Traceback" not in result.output

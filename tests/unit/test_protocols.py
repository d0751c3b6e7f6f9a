"""Every shipped protocol loads, is complete and draws; the CLI shows and lists it."""

import pytest
from typer.testing import CliRunner

from protocols.loader import load_file
from protocols.registry import COUNTRIES_DIR
from protocols.schema import Basis
from ruta.cli import app
from workflows.engine.machine import diagram

FILES = sorted(COUNTRIES_DIR.glob("*.yaml"))
REQUIRED_TRACKS = {
    "care",
    "shelter",
    "health",
    "legal_status",
    "reintegration",
    "justice",
    "child_protection",
}


def test_the_three_foundation_protocols_ship():
    ids = {load_file(f).id for f in FILES}
    assert {"CO-TRATA", "PE-TRATA", "EC-TRATA"} <= ids


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_protocol_is_complete(path):
    loaded = load_file(path)
    p = loaded.protocol
    assert p.status == "published"
    assert set(p.tracks) >= REQUIRED_TRACKS
    assert {s.id for s in p.durable_solutions} >= {
        "local_integration",
        "voluntary_return",
        "relocation",
    }
    for tname, track in p.tracks.items():
        for sname, state in track.states.items():
            if not state.final:
                assert state.deadline or state.tasks, f"{tname}.{sname} has no clock"
            deadlines = [t.due for t in state.tasks] + ([state.deadline] if state.deadline else [])
            for d in deadlines:
                assert d.basis in Basis
                assert d.source.strip()


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_every_track_draws_in_dot_and_mermaid(path):
    loaded = load_file(path)
    for track in loaded.protocol.tracks:
        dot = diagram(loaded, track, "dot")
        assert dot.startswith("digraph")
        assert loaded.protocol.tracks[track].initial in dot
        assert "stateDiagram-v2" in diagram(loaded, track, "mermaid")


def test_colombia_immediate_assistance_is_five_days_extendable_once_by_five():
    p = load_file(COUNTRIES_DIR / "co-trata.yaml").protocol
    deadline = p.tracks["care"].states["immediate_assistance"].deadline
    assert str(deadline.within) == "5 calendar_days"
    assert deadline.basis == Basis.legal
    assert "1069" in deadline.source
    assert "37" in deadline.source
    assert str(deadline.extension.by) == "5 calendar_days"
    assert deadline.extension.max == 1


def test_cli_list_show_and_diagram():
    runner = CliRunner()
    listed = runner.invoke(app, ["protocols", "list"])
    assert listed.exit_code == 0
    assert "CO-TRATA" in listed.output
    shown = runner.invoke(app, ["protocols", "show", "CO-TRATA", "--locale", "en"])
    assert shown.exit_code == 0
    assert "Decreto 1069" in shown.output
    mermaid = runner.invoke(
        app, ["protocols", "diagram", "PE-TRATA", "--track", "care", "--format", "mermaid"]
    )
    assert mermaid.exit_code == 0
    assert "stateDiagram-v2" in mermaid.output
    bad = runner.invoke(app, ["protocols", "diagram", "PE-TRATA", "--track", "nope"])
    assert bad.exit_code == 2
    assert "tracks: care" in bad.output
    unknown = runner.invoke(app, ["protocols", "show", "XX-TRATA"])
    assert unknown.exit_code == 2
    assert "No published protocol 'XX-TRATA'" in unknown.output

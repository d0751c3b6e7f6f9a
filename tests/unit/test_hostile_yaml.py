"""Hostile protocol and scenario files: each is refused at once, naming the file and line.

Through the loader, the scenario runner and the real `ruta protocols validate`, which prints
the reason in one line and exits 2 (never a traceback, never a hang).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from protocols.errors import ProtocolFileError
from protocols.loader import load_file
from protocols.registry import Registry
from protocols.yamlfile import MAX_BYTES, MAX_DEPTH, YamlDocument
from ruta import bootstrap
from ruta.cli import app
from ruta.scenarios import run_file

FIXTURE = Path(__file__).parents[1] / "fixtures" / "test-protocol.yaml"
SCENARIO = (
    Path(__file__).parents[2] / "protocols" / "scenarios" / "co-adulta-integracion-local.yaml"
)


def alias_bomb(levels: int = 9) -> str:
    """The billion laughs: nine levels of nine aliases, 9**9 leaves once expanded."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, levels + 1):
        prev, name = chr(ord("a") + n - 1), chr(ord("a") + n)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "alias_bomb": (alias_bomb(), 1, "aliases"),
    "one_alias": ("x: &x {a: 1}\ny: *x\n", 1, "aliases"),
    "deep_nesting": (
        "a:\n  b: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n",
        2,
        "deeper",
    ),
    "libyaml_depth": ("a: " + "[" * 5000 + "]" * 5000 + "\n", 1, "nesting depth"),
    "nul_raw": ("id: X\nname: a\x00b\n", 2, "NUL"),
    "nul_escaped": ('id: X\nname: "a\\0b"\n', 2, "NUL"),
    "impossible_date": ("id: X\nstart: 2026-02-30\n", 2, "2026-02-30"),
    "huge_integer": ("id: X\n\nn: " + "7" * 5000 + "\n", 3, "5000 digits"),
    "control_character": ("id: X\nname: a\x07b\n", 2, "#x0007"),
    "mapping_as_key": ("? [a, b]\n: 1\n", 1, "plain value"),
}


@pytest.mark.parametrize(("text", "line", "reason"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_refused_naming_line_and_reason(text, line, reason):
    started = time.perf_counter()
    with pytest.raises(ProtocolFileError) as caught:
        YamlDocument("hostile.yaml", text)
    assert time.perf_counter() - started < 0.5
    [problem] = caught.value.problems
    assert problem.line == line
    assert reason in problem.message


def test_alias_bomb_file_is_refused_by_validate_in_well_under_a_second(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(alias_bomb(12))
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["protocols", "validate", str(path)])
    assert time.perf_counter() - started < 1
    assert result.exit_code == 2
    assert "anchors and aliases" in result.output
    assert "Traceback" not in result.output


def test_non_utf8_bytes_name_byte_and_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("id: X\ntitle: Nariño\n".encode("latin-1"))
    with pytest.raises(ProtocolFileError) as caught:
        load_file(path)
    [problem] = caught.value.problems
    assert problem.line == 2
    assert "not UTF-8 text (byte 17)" in problem.message


def test_dev_zero_returns_at_once():
    started = time.perf_counter()
    with pytest.raises(ProtocolFileError, match="not a regular file"):
        load_file(Path("/dev/zero"))
    assert time.perf_counter() - started < 0.5


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ProtocolFileError, match="not a regular file"):
        load_file(fifo)


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(ProtocolFileError, match="not a regular file"):
        load_file(tmp_path)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "big.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_BYTES * 50)  # sparse: 100 MB that cost nothing to make
    started = time.perf_counter()
    with pytest.raises(ProtocolFileError, match="larger than 2 MB"):
        load_file(path)
    assert time.perf_counter() - started < 0.5


def test_shipped_protocol_still_loads_and_a_limit_sized_file_is_read(tmp_path):
    assert load_file(FIXTURE).id
    path = tmp_path / "padded.yaml"
    text = FIXTURE.read_text(encoding="utf-8")
    path.write_text(text + "#" * (MAX_BYTES - len(text.encode()) - 1) + "\n")
    assert load_file(path).id == load_file(FIXTURE).id


@pytest.mark.parametrize("name", ["bomb", "date", "nul", "directory"])
def test_validate_prints_one_line_and_exits_2(tmp_path, name):
    path = {
        "bomb": tmp_path / "bomb.yaml",
        "date": tmp_path / "date.yaml",
        "nul": tmp_path / "nul.yaml",
        "directory": tmp_path,
    }[name]
    if name == "bomb":
        path.write_text(alias_bomb())
    elif name == "date":
        path.write_text("id: X\nstart: 2026-02-30\n")
    elif name == "nul":
        path.write_bytes(b"id: X\x00\n")
    result = CliRunner().invoke(app, ["protocols", "validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    problem_lines = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(problem_lines) == 1


SCENARIO_BREAKS = {
    "alias": ("steps:\n", "steps:\n  - open: &o {}\n  - open: *o\n", "aliases"),
    "impossible_start": ('start: "2026-04-06T08:00:00-05:00"', "start: 2026-02-30", "real date"),
    "step_not_a_mapping": ("  - open: {}", "  - open: [1, 2]", "give a mapping"),
    "missing_key": ("  - open: {}", "  - open: {}\n  - consent: {purpose: assistance}", "given"),
    "wrong_type": ("  - open: {}", "  - open: {}\n  - consent: {purpose: [a], given: 1}", "text"),
    "unknown_key": ("  - open: {}", "  - open: {}\n  - fire: {track: care, trgger: x}", "trgger"),
    "huge_wait": ("  - open: {}", '  - open: {}\n  - wait: "99999999999 days"', "6 digits"),
    "case_not_mapping": ("case: {", "case: [1]\nx: {", "plain values"),
}


@pytest.mark.parametrize(
    ("old", "new", "reason"), SCENARIO_BREAKS.values(), ids=SCENARIO_BREAKS.keys()
)
def test_malformed_scenario_is_refused_before_it_runs(tmp_path, old, new, reason):
    text = SCENARIO.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "scenario.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ProtocolFileError) as caught:
        run_file(str(path), Registry.scan(), bootstrap.memory_scenario_services)
    [problem] = caught.value.problems
    assert problem.line is not None
    assert reason in problem.message

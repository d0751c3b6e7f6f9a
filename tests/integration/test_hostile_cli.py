"""The real `ruta` in a subprocess, given what a careless or hostile operator could give it:
each answer is one line on stderr saying what is wrong and how to fix it, never a traceback,
with exit 2 (something to fix) or 1 (anything else)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from workflows.store.vault import new_key

RUTA = str(Path(sys.executable).with_name("ruta"))


def ruta(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUTA_")}
    clean.update({"RUTA_HOME": str(home), **env})
    return subprocess.run(
        [RUTA, *args], env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def one_line(result: subprocess.CompletedProcess[str], status: int, *words: str) -> str:
    """The single line on stderr, after checking the exit status and that no traceback shows."""
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == status, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0]
    return lines[0]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["dispatch", "--limit", "99999999999999999999"], ["--limit", "10000", "dispatch --help"]),
        (["dispatch", "--limit", "0"], ["--limit", "greater than or equal to 1"]),
        (["dispatch", "--limit", "abc"], ["--limit", "integer"]),
        (["serve", "--port", "70000"], ["--port", "65535", "serve --help"]),
        (["serve", "--port", "-1"], ["--port"]),
        (["no-such-command"], ["No such command", "ruta --help"]),
    ],
)
def test_bad_option_values_are_one_line_naming_the_option(home, args, words):
    one_line(ruta(*args, home=home), 2, *words)


def test_a_setting_that_is_not_a_number_names_the_variable(home):
    line = one_line(ruta("sweep", home=home, RUTA_SWEEP_SECONDS="abc"), 2, "RUTA_SWEEP_SECONDS")
    assert "abc" not in line  # a setting's value is never echoed (it may be a secret)
    assert "Configuration" in line


def test_the_traceback_shows_with_ruta_debug(home):
    result = ruta("sweep", home=home, RUTA_SWEEP_SECONDS="abc", RUTA_DEBUG="1")
    assert result.returncode == 1
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("url", ["notaurl", "nosuchdb://x/y"])
def test_a_malformed_database_url_is_one_line_without_echoing_it(home, url):
    url_with_password = url.replace("//", "//user:hunter2@")
    line = one_line(
        ruta("institutions", "list", home=home, RUTA_DATABASE_URL=url_with_password),
        2,
        "RUTA_DATABASE_URL",
    )
    assert "hunter2" not in line


def test_an_unreachable_database_server_is_one_line(home):
    url = "postgresql+psycopg://ruta:hunter2@127.0.0.1:9/ruta"  # the discard port: nobody
    result = ruta("sweep", home=home, RUTA_DATABASE_URL=url, RUTA_SECRET_KEY=new_key())
    line = one_line(result, 2, "Cannot reach the database", "RUTA_DATABASE_URL")
    assert "hunter2" not in line


def test_a_database_without_the_schema_says_run_init(bare_engine: Engine, home):
    url = bare_engine.url.render_as_string(hide_password=False)
    result = ruta("sweep", home=home, RUTA_DATABASE_URL=url, RUTA_SECRET_KEY=new_key())
    one_line(result, 2, "ruta init")


def test_a_ruta_home_that_cannot_be_created_is_one_line(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory\n")
    one_line(ruta("init", home=blocker / "home"), 2, "RUTA_HOME", "cannot be created")
    one_line(ruta("status", home=blocker / "home"), 2, "RUTA_HOME", "cannot be created")


@pytest.mark.parametrize("command", ["dispatch", "sweep", "purge"])
def test_a_missing_key_file_is_one_line_with_the_way_out(home, command):
    home.mkdir()
    one_line(ruta(command, home=home), 2, "secret.key", "does not exist", "ruta init")


@pytest.mark.parametrize("command", ["dispatch", "sweep", "purge"])
def test_a_malformed_key_is_one_line_without_the_key(home, command):
    line = one_line(ruta(command, home=home, RUTA_SECRET_KEY="abc-not-a-key"), 2, "RUTA_SECRET_KEY")
    assert "abc-not-a-key" not in line


@pytest.mark.parametrize("command", ["dispatch", "sweep", "purge"])
def test_a_malformed_key_file_names_its_line(home, command):
    home.mkdir()
    key = home / "secret.key"
    key.write_text("# keys\nnot-a-key-at-all\n")
    key.chmod(0o600)
    line = one_line(ruta(command, home=home), 2, f"{key}:2", "not a Ruta key")
    assert "not-a-key-at-all" not in line


def test_hostile_protocol_and_scenario_files_exit_2_without_traceback(tmp_path, home):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n")
    for args in (
        ["protocols", "validate", "/dev/zero"],
        ["protocols", "validate", str(bomb)],
        ["protocols", "validate", str(tmp_path)],
        ["scenario", "run", str(bomb)],
        ["scenario", "run", "/dev/zero"],
    ):
        result = ruta(*args, home=home)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stdout + result.stderr
        assert result.stderr.startswith(args[-1])


def test_anything_else_is_one_line_with_exit_1():
    from ruta.cli_errors import explain

    message, status = explain(RuntimeError("first line\nsecond line"))
    assert status == 1
    assert message == (
        "Unexpected RuntimeError: first line (run again with RUTA_DEBUG=1 for the traceback)."
    )

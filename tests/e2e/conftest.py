"""`make run`'s stack for the end-to-end tests: `ruta init`, `ruta demo`, then `ruta serve`
(the Prefect server, the worker and the console) in a temporary RUTA_HOME, with the sweep
and the dispatch every 5 s. Session-scoped and in one xdist group (`--dist loadgroup` in the
Makefile), so tests that can share it start it once. Leaving, it stops the stack with Ctrl-C
and checks that everything stopped cleanly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from protocols.registry import Registry
from ruta.db import make_engine
from ruta.serve import free_port
from tests.conftest import TEST_KEY

ROOT = Path(__file__).resolve().parents[2]
GROUP = pytest.mark.xdist_group("make-run-stack")


@dataclass(frozen=True)
class Stack:
    url: str  # the console
    home: Path  # RUTA_HOME
    passwords: dict[str, str]  # the demo sign-ins
    registry: Registry
    output: list[str]  # what `ruta serve` printed until it was ready


def stack_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a stack in `home`: the test key, the file sender, SQLite, its own
    Prefect server; `settings` are more RUTA_* variables."""
    env = {**os.environ, "RUTA_HOME": str(home), "RUTA_SECRET_KEY": TEST_KEY}
    for key in ("RUTA_DATABASE_URL", "RUTA_SENDGRID_API_KEY", "PREFECT_API_URL"):
        env.pop(key, None)
    return env | {f"RUTA_{name.upper()}": value for name, value in settings.items()}


def start_serve(env: dict[str, str]) -> tuple[subprocess.Popen[str], int]:
    """`ruta serve` on a free port, its output piped (read it until "Ready.")."""
    port = free_port()
    serve = subprocess.Popen(
        [sys.executable, "-m", "ruta", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return serve, port


@pytest.fixture(scope="session")
def make_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("make-run") / "home"
    env = stack_env(home, sweep_seconds="5", dispatch_seconds="5")
    for command in (["init"], ["demo", "--if-empty"]):
        subprocess.run([sys.executable, "-m", "ruta", *command], env=env, check=True, cwd=ROOT)
    passwords = dict(
        line.split("\t") for line in (home / "demo-users.txt").read_text().splitlines()
    )
    serve, port = start_serve(env)
    assert serve.stdout is not None
    output: list[str] = []
    for line in serve.stdout:
        output.append(line)
        if "Ready." in line or "Cannot start" in line:
            break
    try:
        assert "Ready." in output[-1], "".join(output)
        yield Stack(f"http://127.0.0.1:{port}", home, passwords, Registry.scan(), list(output))
    finally:
        stop_serve(serve, output)
    assert serve.returncode == 0, "".join(output)
    assert "Stopping" in "".join(output)


def stop_serve(serve: subprocess.Popen[str], output: list[str]) -> None:
    """Ctrl-C, as a person would; killed if it has not stopped in 30 s. Its last words are
    added to `output`."""
    serve.send_signal(signal.SIGINT)
    try:
        serve.wait(30)
    finally:
        if serve.poll() is None:
            serve.kill()
        if serve.stdout is not None:
            output.append(serve.stdout.read())
            serve.stdout.close()


def stack_database(stack: Stack) -> Engine:
    """The stack's database, for the tests' own reads and writes."""
    return make_engine(f"sqlite:///{stack.home / 'ruta.sqlite3'}")

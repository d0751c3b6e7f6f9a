"""`ruta serve` end to end: the Prefect server, the worker and the console come up; a task
that is already overdue gets its notice written as an .eml within a minute; Ctrl-C stops all.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from protocols.registry import Registry
from ruta.db import make_engine
from tests.conftest import VAULT
from tests.e2e.conftest import stack_env, start_serve, stop_serve
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock, SystemClock
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.store import tables
from workflows.store.uow import SqlUnitOfWork

ROOT = Path(__file__).resolve().parents[2]


def test_serve_sends_the_overdue_notice_and_stops_cleanly(tmp_path):
    home = tmp_path / "home"
    env = stack_env(home, sweep_seconds="5", dispatch_seconds="5")
    subprocess.run([sys.executable, "-m", "ruta", "init"], env=env, check=True, cwd=ROOT)
    serve, _port = start_serve(env)
    output: list[str] = []
    try:
        deadline = time.monotonic() + 180
        assert serve.stdout is not None
        while time.monotonic() < deadline:
            line = serve.stdout.readline()
            if not line:
                break
            output.append(line)
            if "Ready." in line:
                break
        assert any("Ready." in line for line in output), "".join(output)
        assert any(line.startswith("Prefect API: http://127.0.0.1:") for line in output)

        engine = make_engine(f"sqlite:///{home / 'ruta.sqlite3'}")
        registry = Registry.scan()
        clock = SimulatedClock(SystemClock().now() - timedelta(days=3))
        svc = Services(lambda: SqlUnitOfWork(engine, VAULT), clock, registry)
        ref = cases.open_case(
            svc,
            registry.latest_published("CO-TRATA"),
            {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
            Actor.system("e2e"),
        )
        started = time.monotonic()
        overdue: list[Path] = []
        o = tables.outbox
        query = select(o.c.id).where(o.c.template == "task_overdue", o.c.status == "sent")
        while time.monotonic() - started < 60 and not overdue:
            time.sleep(1)
            with engine.connect() as conn:
                ids = list(conn.execute(query).scalars())
            overdue = [home / "outbox" / f"{i}.eml" for i in ids]
        assert overdue, "no overdue notice within a minute"
        assert all(p.exists() for p in overdue)
        assert ref in overdue[0].read_text()
        engine.dispose()
    finally:
        stop_serve(serve, output)
    assert serve.returncode == 0, "".join(output)
    assert "Stopping" in "".join(output)


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_when_one_part_dies_serve_stops_the_others_and_fails(tmp_path):
    home = tmp_path / "home"
    env = stack_env(home)
    subprocess.run([sys.executable, "-m", "ruta", "init"], env=env, check=True, cwd=ROOT)
    serve, _port = start_serve(env)
    assert serve.stdout is not None
    output: list[str] = []
    try:
        for line in serve.stdout:
            output.append(line)
            if "Ready." in line:
                break
        children = _children(serve.pid)
        workers = [c for c in children if b"worker" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(workers) == 1, "".join(output)
        os.kill(workers[0], signal.SIGKILL)
        serve.wait(60)
        output.append(serve.stdout.read())
    finally:
        if serve.poll() is None:
            serve.kill()
        serve.stdout.close()
    assert serve.returncode == 1
    assert "worker stopped" in "".join(output)
    for child in children:  # the server and the console were stopped too
        assert (
            not Path(f"/proc/{child}").exists()
            or "zombie" in Path(f"/proc/{child}/status").read_text()
        )

"""`ruta serve`: a Prefect server, the worker and the console on loopback, as one unit.

Each is a child process. `serve` waits until each answers its health check, prints where they
are, and stops all of them on Ctrl-C (or SIGTERM) or as soon as one of them dies. With
PREFECT_API_URL set it uses that server and starts only the worker and the console.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ruta import datadir
from ruta.settings import Settings

UI_APP = Path(__file__).resolve().parent.parent / "ui" / "app.py"
QUIET_PREFECT = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "1",
    "PREFECT_LOGGING_LEVEL": "WARNING",
}


@dataclass(slots=True)
class Child:
    name: str
    url: str
    health: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # loopback only
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def wait_until_healthy(child: Child, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(
                f"{child.name} exited with status {child.process.returncode} while starting"
            )
        if healthy(child.health):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{child.name} did not answer {child.health} within {timeout:.0f} s")


def start(
    name: str, args: list[str], env: dict[str, str], url: str, health: str, log: Path
) -> Child:
    """Start a child with its output in its own log file (the terminal stays readable)."""
    with datadir.private_file(log).open("ab") as out:
        # umask 077: the Prefect database and whatever else a child writes stay private
        process = subprocess.Popen(
            args, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT,
            umask=datadir.UMASK,
        )  # fmt: skip
    return Child(name, url, health, process)


def stop(children: list[Child], grace: float = 10.0) -> None:
    for child in reversed(children):
        if child.process.poll() is None:
            os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in reversed(children):
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.process.wait(remaining)
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()


def serve(cfg: Settings, say: Callable[[str], None], console_port: int = 8501) -> int:
    """Run until Ctrl-C or until a child dies; return the exit status."""
    home = datadir.ensure(cfg.home.resolve())
    prefect_home = datadir.ensure(home / "prefect")
    logs = datadir.ensure(home / "logs")
    env = {**os.environ, **QUIET_PREFECT, "PREFECT_HOME": str(prefect_home)}
    children: list[Child] = []
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        api = os.environ.get("PREFECT_API_URL")
        if api is None:
            port = free_port()
            server_env = {
                **env,
                "PREFECT_API_DATABASE_CONNECTION_URL": (
                    f"sqlite+aiosqlite:///{prefect_home / 'prefect.db'}"
                ),
            }
            args = [sys.executable, "-m", "prefect", "server", "start"]
            server = start(
                "Prefect server",
                [*args, "--host", "127.0.0.1", "--port", str(port)],
                server_env,
                f"http://127.0.0.1:{port}",
                f"http://127.0.0.1:{port}/api/health",
                logs / "prefect-server.log",
            )
            children.append(server)
            wait_until_healthy(server, 120)
            api = f"http://127.0.0.1:{port}/api"
        runner_port = free_port()
        worker_env = {
            **env,
            "PREFECT_API_URL": api,
            "PREFECT_RUNNER_SERVER_ENABLE": "true",
            "PREFECT_RUNNER_SERVER_HOST": "127.0.0.1",
            "PREFECT_RUNNER_SERVER_PORT": str(runner_port),
        }
        worker = start(
            "worker",
            [sys.executable, "-m", "ruta", "worker"],
            worker_env,
            "deadline-sweep, outbox-dispatch, nightly",
            f"http://127.0.0.1:{runner_port}/health",
            logs / "worker.log",
        )
        children.append(worker)
        wait_until_healthy(worker, 120)
        if UI_APP.exists():
            console = start(
                "console",
                [
                    sys.executable, "-m", "streamlit", "run", str(UI_APP),
                    "--server.address", "127.0.0.1", "--server.port", str(console_port),
                    "--server.headless", "true", "--browser.gatherUsageStats", "false",
                    "--client.toolbarMode", "minimal",
                ],
                env,
                f"http://127.0.0.1:{console_port}",
                f"http://127.0.0.1:{console_port}/_stcore/health",
                logs / "console.log",
            )  # fmt: skip
            children.append(console)
            wait_until_healthy(console, 60)
        say(f"Prefect API: {api}")
        for child in children:
            say(f"{child.name}: {child.url}")
        say(f"Logs: {logs}")
        say("Ready. Ctrl-C stops everything.")
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    say(
                        f"{child.name} stopped (status {child.process.returncode}); stopping "
                        f"all. See {logs}."
                    )
                    return 1
            time.sleep(0.5)
        say("Stopping ...")
        return 0
    except RuntimeError as exc:
        say(f"Cannot start: {exc}. See the logs in {logs}.")
        return 1
    finally:
        stop(children)

"""Peak resident memory of a worker process sweeping a dataset (1M open tasks in the suite).

The worker is a fresh Python process that imports what `ruta worker` imports (ruta.flows,
hence Prefect) and runs the deadline-sweep flow's body, `services.sweep`, on the dataset at
the simulated instant the data was built for. It reports its resident size before the sweep
and its peak (VmHWM) after. Target: under 300 MB.

`python -m benchmarks.memory URL` is that worker (the URL of the dataset's database).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import Engine

from benchmarks import datasets
from benchmarks.common import NOW, Figure, load
from benchmarks.datasets import Dataset
from benchmarks.restore import Snapshot, due_cases
from protocols.registry import Registry

TARGET_MB = 300.0


def _status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, in MB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def worker(url: str, registry: Registry | None = None, prefect: bool = True) -> dict[str, float]:
    """Run in the child: import like the worker, sweep once, report memory."""
    if prefect:
        import ruta.flows  # noqa: F401  (Prefect and everything the worker process holds)
    from benchmarks.common import services
    from ruta.db import make_engine
    from workflows.services.sweep import sweep

    engine = make_engine(url)
    svc = services(engine, registry or Registry.scan())  # as bootstrap.registry() does
    before = _status_mb("VmRSS")
    report = sweep(svc)
    peak = _status_mb("VmHWM")
    engine.dispose()
    return {"before_mb": before, "peak_mb": peak, "cases": report.cases, "handled": report.handled}


def measure(ds: Dataset, say: Callable[[str], None] = lambda _: None) -> Figure:
    """Run the worker on `ds` and put the data back afterwards."""
    engine: Engine = ds.engine
    snap = Snapshot(engine, due_cases(engine, NOW))
    url = engine.url.render_as_string(hide_password=False)
    size = ds.counts.get("tasks")
    say(f"  worker memory: sweeping {size:,} open tasks in a fresh process ...")
    with datasets.changing(ds):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", url],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[1],
            env=os.environ | {"PREFECT_LOGGING_LEVEL": "WARNING"},
        )
        snap.restore(engine)
    if done.returncode != 0:
        raise RuntimeError(f"the memory worker failed:\n{done.stderr[-2000:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return Figure(
        "memory",
        ds.backend.name,
        f"worker peak RSS, sweeping {got['handled']:,} rungs in {got['cases']:,} cases",
        got["peak_mb"],
        "MB",
        size=size,
        target=f"< {TARGET_MB:.0f} MB",
        met=got["peak_mb"] < TARGET_MB,
        load=load(),
        extra={"before_sweep_mb": round(got["before_mb"], 1)},
    )


if __name__ == "__main__":
    sys.stdout.write(json.dumps(worker(sys.argv[1])) + "\n")

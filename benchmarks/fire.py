"""Time firing one step on one case on SQLite: state change, tasks, events, one commit."""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from protocols.registry import Registry
from ruta.bootstrap import seed_directory
from ruta.db import make_engine, upgrade
from workflows import inbox, services
from workflows.access import Actor
from workflows.clocks import SimulatedClock
from workflows.repository import SqlUnitOfWork
from workflows.services import Services
from workflows.vault import Vault, new_key

ATTRS = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
BENCH = Actor.system("bench")

BENCH_VAULT = Vault.from_text([new_key()], "benchmark key")  # synthetic data only


def main(runs: int = 200) -> None:
    registry = Registry.scan()
    co = registry.latest_published("CO-TRATA")
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        upgrade(engine)
        seed_directory(engine)
        clock = SimulatedClock(datetime(2026, 3, 2, 14, tzinfo=UTC))
        svc = Services(lambda: SqlUnitOfWork(engine, BENCH_VAULT), clock, registry)
        refs = [services.open_case(svc, co, ATTRS, BENCH) for _ in range(runs)]
        for ref in refs:
            services.record_consent(svc, ref, "assistance", True, BENCH)
            inbox.move(svc, BENCH, ref, "register_case", "complete")
        timings = []
        for ref in refs:
            start = time.perf_counter()
            services.fire(svc, ref, "care", "admit_immediate", BENCH)
            timings.append((time.perf_counter() - start) * 1000)
    timings.sort()
    p95 = timings[int(len(timings) * 0.95) - 1]
    sys.stdout.write(
        f"fire admit_immediate (CO-TRATA, SQLite file, {runs} cases): "
        f"median {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms\n"
    )


if __name__ == "__main__":
    main()

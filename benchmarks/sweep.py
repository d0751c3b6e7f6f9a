"""Time one sweep pass with 10k, 100k and 1M open tasks of which the same 1,000 are due.

The pass is the real `workflows.services.sweep.sweep` (what the deadline-sweep flow runs): find the
due cases through `next_action_at`, then per case lock, load, climb the ladder, write the
reminder/overdue/escalation events and outbox rows, commit. It must cost O(due), not O(open):
the target is a pass at 1M open tasks within 1.5x of the pass at 10k.

The floor is the least any sweep could do: one indexed select of the due task rows and one
update of them, in one transaction. Each measured run is followed by a restore of the due
cases (benchmarks/restore.py), so every run sees the same data. A first, untimed pass warms
the caches (the pinned protocols, the database pages), as in a worker that sweeps every
minute.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from benchmarks import datasets, memory, sweep_data
from benchmarks.common import NOW, Backend, Figure, load, services
from benchmarks.datasets import Dataset
from benchmarks.restore import Snapshot, due_cases
from protocols.registry import Registry
from workflows.services.sweep import sweep
from workflows.store import tables

SIZES = (10_000, 100_000, 1_000_000)
FLAT_TARGET = 1.5


@dataclass(slots=True)
class Pass:
    wall_ms: float
    cpu_ms: float
    cases: int
    handled: int


def floor(engine: Engine) -> None:
    """One indexed select and one update of the due rows, one commit."""
    t = tables.tasks
    with engine.begin() as conn:
        ids = list(conn.execute(select(t.c.id).where(t.c.next_action_at <= NOW)).scalars())
        conn.execute(
            update(t)
            .where(t.c.id.in_(ids))
            .values(ladder_step=t.c.ladder_step + 1, next_action_at=None, updated_at=NOW)
        )


def measure(
    ds: Dataset, registry: Registry, runs: int, floor_runs: int
) -> tuple[list[Pass], list[float], int]:
    """Sweep passes and floor times on one dataset, putting the data back after each."""
    svc = services(ds.engine, registry)
    ids = due_cases(ds.engine, NOW)
    snap = Snapshot(ds.engine, ids)
    passes: list[Pass] = []
    floors: list[float] = []

    def once(fn: Callable[[], object]) -> tuple[float, float, object]:
        start, start_cpu = time.perf_counter(), time.process_time()
        out = fn()
        wall = (time.perf_counter() - start) * 1000
        cpu = (time.process_time() - start_cpu) * 1000
        snap.restore(ds.engine)
        return wall, cpu, out

    with datasets.changing(ds):
        once(lambda: sweep(svc))  # warm-up
        for _ in range(runs):
            wall, cpu, report = once(lambda: sweep(svc))
            passes.append(Pass(wall, cpu, report.cases, report.handled))  # type: ignore[attr-defined]
        for _ in range(floor_runs):
            floors.append(once(lambda: floor(ds.engine))[0])
    return passes, floors, len(ids)


def dataset(
    backend: Backend, registry: Registry, size: int, due: int, say: Callable[[str], None]
) -> Dataset:
    """The sweep data of `size` open tasks (cached, see benchmarks/datasets.py)."""
    return datasets.prepare(
        backend,
        "sweep",
        size,
        {"due": due, "generator": 1, "protocols": sorted(sweep_data.PROTOCOLS.values())},
        registry,
        lambda engine: sweep_data.build(engine, registry, size, due),
        say,
    )


def run(
    backend: Backend,
    registry: Registry,
    sizes: tuple[int, ...] = SIZES,
    runs: int = 3,
    floor_runs: int = 5,
    due: int = sweep_data.DUE,
    worker_memory: bool = True,
    say: Callable[[str], None] = lambda _: None,
) -> list[Figure]:
    figures: list[Figure] = []
    by_size: dict[int, tuple[float, float]] = {}
    for size in sizes:
        ds = dataset(backend, registry, size, due, say)
        say(f"  sweep data, {size:,} open tasks: {ds.describe()}")
        passes, floors, cases = measure(ds, registry, runs, floor_runs)
        wall = statistics.median(p.wall_ms for p in passes)
        cpu = statistics.median(p.cpu_ms for p in passes)
        fl = statistics.median(floors)
        by_size[size] = (wall, cpu)
        figures.append(
            Figure(
                "sweep",
                backend.name,
                f"sweep pass, {passes[0].handled:,} rungs due in {cases:,} cases",
                wall,
                "ms",
                size=size,
                cpu_ms=cpu,
                floor=fl,
                ratio=wall / fl,
                extra={
                    "runs": [round(p.wall_ms, 1) for p in passes],
                    "floor_runs": [round(f, 2) for f in floors],
                    "per_due_case_ms": round(wall / max(1, passes[0].cases), 2),
                    "data": ds.counts,
                    "built_s": ds.built_s,
                },
            )
        )
        if worker_memory and size == max(sizes):
            figures.append(memory.measure(ds, say))
        ds.engine.dispose()
    if len(by_size) > 1:
        small, large = min(by_size), max(by_size)
        growth = by_size[large][0] / by_size[small][0]
        growth_cpu = by_size[large][1] / by_size[small][1]
        figures.append(
            Figure(
                "sweep",
                backend.name,
                f"flatness: pass at {large:,} / at {small:,} open (CPU: {growth_cpu:.2f}x)",
                growth,
                "x",
                size=large,
                target=f"<= {FLAT_TARGET}x",
                met=growth <= FLAT_TARGET,
                load=load(),
                extra={"cpu_ratio": round(growth_cpu, 2)},
            )
        )
    return figures

"""Time firing one step on one case, and its floor: the same rows written by plain Core.

The step is `admit_immediate` on a CO-TRATA case (consent recorded, registration done): the
real `workflows.services.fire` loads and claims the case, moves the care track, opens the
state's tasks and deadline and the tracks that open with it, appends the hash-chained events
and the outbox rows, and commits. The floor replays exactly the rows one such fire wrote
(a reference case, fired first and compared before and after) onto another prepared case
with plain SQLAlchemy Core in one transaction: the updates by primary key and one
executemany per table for the inserts. Fires and floors alternate, so both see tables of the
same size. Target: the fire's median within 3x the floor's.

`python -m benchmarks.fire [RUNS]` runs it on SQLite (and PostgreSQL when
RUTA_BENCH_POSTGRES_URL is set); `python -m benchmarks` runs everything.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, select, update

from benchmarks.common import (
    Backend,
    Figure,
    backends,
    percentile,
    scratch_dir,
    seed,
    services,
    timed_ms,
)
from benchmarks.datasets import fresh
from protocols.registry import Registry
from workflows.domain.access import Actor
from workflows.domain.ports import Services
from workflows.services import cases, tasks
from workflows.store import tables

ATTRS = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
BENCH = Actor.system("bench")
TARGET = 3.0

Rows = dict[str, dict[Any, dict[str, Any]]]


def _tables() -> list[Table]:
    """Every table a fire can write: those with a case_id, and the cases themselves."""
    return [t for t in tables.metadata.sorted_tables if "case_id" in t.c or t is tables.cases]


def _key(table: Table, row: dict[str, Any]) -> Any:
    """A row's identity within its case: its primary key without the case id (a track's
    name, a care state reached, an id)."""
    (key,) = (row[c.name] for c in table.primary_key.columns if c.name != "case_id")
    return key


def _rows(conn: Connection, case_id: int) -> Rows:
    out: Rows = {}
    for t in _tables():
        where = t.c.id == case_id if t is tables.cases else t.c.case_id == case_id
        rows = [dict(r) for r in conn.execute(select(t).where(where)).mappings()]
        if t is not tables.persons:
            out[t.name] = {_key(t, r): r for r in rows}
    head = conn.execute(select(tables.audit_head)).mappings().first()
    out["audit_head"] = {1: dict(head)} if head else {}
    return out


class Replay:
    """What one fire wrote (inserted rows, changed columns), to write again on another case."""

    def __init__(self, before: Rows, after: Rows) -> None:
        self.inserts: dict[str, list[dict[str, Any]]] = {}
        self.updates: dict[str, list[tuple[int, dict[str, Any]]]] = {}  # (position, values)
        for name, rows in after.items():
            old = before.get(name, {})
            order = sorted(old)
            for key, row in rows.items():
                if key not in old:
                    self.inserts.setdefault(name, []).append(row)
                    continue
                changed = {k: v for k, v in row.items() if old[key].get(k) != v}
                if changed:
                    self.updates.setdefault(name, []).append((order.index(key), changed))

    def counts(self) -> dict[str, int]:
        out = {f"{n} inserted": len(r) for n, r in self.inserts.items()}
        return out | {f"{n} updated": len(r) for n, r in self.updates.items()}

    def statements(self, conn: Connection, case_id: int) -> Callable[[Connection], None]:
        """The floor for `case_id`: its rows are looked up now, outside the timing."""
        by_name = {t.name: t for t in [*_tables(), tables.audit_head]}
        current = _rows(conn, case_id)
        plan: list[tuple[str, Any, Any]] = []
        for name, changes in self.updates.items():
            t = by_name[name]
            keys = sorted(current[name])
            for position, values in changes:
                key = keys[position]
                where = (
                    (t.c.case_id == case_id) & (t.c.track == key)
                    if t is tables.tracks
                    else t.c.id == key
                )
                plan.append(("update", update(t).where(where).values(**values), None))
        for name, rows in self.inserts.items():
            t = by_name[name]
            fresh_rows = [
                {k: (case_id if k == "case_id" else v) for k, v in r.items() if k != "id"}
                for r in rows
            ]
            plan.append(("insert", insert(t), fresh_rows))

        def write(c: Connection) -> None:
            for kind, statement, params in plan:
                if kind == "update":
                    c.execute(statement)
                else:
                    c.execute(statement, params)

        return write


def _prepare(svc: Services, registry: Registry, count: int) -> list[str]:
    co = registry.latest_published("CO-TRATA")
    refs = [cases.open_case(svc, co, ATTRS, BENCH) for _ in range(count)]
    for ref in refs:
        cases.record_consent(svc, ref, "assistance", True, BENCH)
        tasks.move(svc, BENCH, ref, "register_case", "complete")
    return refs


def prepare(engine: Engine, registry: Registry, count: int) -> tuple[Services, list[str]]:
    """Seed the directory, then `count` CO-TRATA cases one `admit_immediate` away (consent
    recorded, registration done), through the real services."""
    seed(engine)
    svc = services(engine, registry)
    return svc, _prepare(svc, registry, count)


def step(svc: Services, ref: str) -> Callable[[], object]:
    """The fire this benchmark times, on a prepared case (for `timed_ms`)."""
    return partial(cases.fire, svc, ref, "care", "admit_immediate", BENCH)


def _case_id(engine: Engine, ref: str) -> int:
    with engine.connect() as conn:
        c = tables.cases
        return int(conn.execute(select(c.c.id).where(c.c.ref == ref)).scalar_one())


def measure(
    engine: Engine, registry: Registry, runs: int
) -> tuple[list[tuple[float, float]], list[tuple[float, float]], Replay]:
    """(wall, cpu) ms of each fire and each floor, and what one fire wrote."""
    svc, refs = prepare(engine, registry, 2 * runs + 1)
    reference, fires, floors = refs[0], refs[1 : runs + 1], refs[runs + 1 :]
    with engine.connect() as conn:
        ref_id = _case_id(engine, reference)
        before = _rows(conn, ref_id)
    cases.fire(svc, reference, "care", "admit_immediate", BENCH)
    with engine.connect() as conn:
        replay = Replay(before, _rows(conn, ref_id))
    fire_ms: list[tuple[float, float]] = []
    floor_ms: list[tuple[float, float]] = []
    for fire_ref, floor_ref in zip(fires, floors, strict=True):
        fire_ms.append(timed_ms(step(svc, fire_ref)))
        with engine.connect() as conn:
            write = replay.statements(conn, _case_id(engine, floor_ref))

        def floor(write: Callable[[Connection], None] = write) -> None:
            with engine.begin() as conn:
                write(conn)

        floor_ms.append(timed_ms(floor))
    return fire_ms, floor_ms, replay


def run(backend: Backend, registry: Registry, scratch: Path, runs: int = 200) -> list[Figure]:
    engine = fresh(backend, "bench_fire", scratch)
    try:
        fire_ms, floor_ms, replay = measure(engine, registry, runs)
    finally:
        engine.dispose()
        backend.drop("bench_fire")
    walls, floors = [w for w, _ in fire_ms], [w for w, _ in floor_ms]
    med, fl = statistics.median(walls), statistics.median(floors)
    cpu, floor_cpu = (
        statistics.median(c for _, c in fire_ms),
        statistics.median(c for _, c in floor_ms),
    )
    p95, fl95 = percentile(walls, 0.95), percentile(floors, 0.95)
    name = "fire admit_immediate (CO-TRATA), one case"
    extra = {
        "rows_written": replay.counts(),
        "floor_cpu_ms": round(floor_cpu, 2),
        "cpu_ratio": round(cpu / floor_cpu, 2) if floor_cpu else None,
    }
    return [
        Figure("fire", backend.name, f"{name}: median", med, "ms", size=runs, cpu_ms=cpu,
               floor=fl, ratio=med / fl, target=f"<= {TARGET:.0f}x floor", met=med / fl <= TARGET,
               extra=extra),
        Figure("fire", backend.name, f"{name}: p95", p95, "ms", size=runs, floor=fl95,
               ratio=p95 / fl95),
    ]  # fmt: skip


def main(runs: int = 200) -> list[Figure]:
    """Run on every configured database and print the table (no results file)."""
    from benchmarks.common import Recorder

    registry = Registry.scan()
    rec = Recorder(results=None)
    out: list[Figure] = []
    with scratch_dir() as scratch:
        for backend in backends():
            figures = run(backend, registry, scratch, runs)
            rec.add(figures)
            out += figures
    return out


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)

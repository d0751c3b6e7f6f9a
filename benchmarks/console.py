"""Time the console's reads at 10,000 and 100,000 synthetic cases: the case list, every
compliance aggregate, the whole compliance report and both pages as Streamlit runs them
(AppTest, server side). Median of 5 runs each, wall and CPU time; the target is under a
second each at 100,000 cases on SQLite.

The data is built with bulk SQLAlchemy Core inserts straight into cases, tracks, tasks and
events (the engine would take hours), a few thousand cases at a time, and cached between runs
(benchmarks/datasets.py): 3 to 8 tasks per case, completed on time or late, open (some
overdue, some on hold), rejected with a reason, cancelled; routing gaps; cross-border
handoffs; care states spread along each protocol's path, with the transitions that led
there. No personal data, no persons rows.

`python -m benchmarks.console [CASES]` times one size on SQLite in a scratch file;
`python -m benchmarks` runs the suite.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from benchmarks import datasets
from benchmarks.common import (
    NOW,
    SHARE,
    Backend,
    Figure,
    Recorder,
    load,
    median_ms,
    pin_and_index,
    scratch_dir,
    seed,
    services,
)
from protocols.loader import LoadedProtocol
from protocols.registry import Registry
from ruta.db import make_engine, upgrade
from workflows.domain.access import Actor
from workflows.domain.lifecycle import REJECT_REASONS
from workflows.domain.ports import Services
from workflows.queries import casebook, compliance
from workflows.queries.compliance import Filters
from workflows.queries.figures import SqlCompliance
from workflows.store import facts, tables

PROTOCOLS = {"CO": "CO-TRATA", "PE": "PE-TRATA", "EC": "EC-TRATA"}
TARGET_MS = 1000.0
TARGET_CASES = 100_000  # the target holds at this size, on SQLite
SIZES = (10_000, 100_000)
FOCAL_CO = Actor("bench.fp.co", "focal_point", "co-mininterior-coat", frozenset({"CO"}))
MANAGER = Actor("bench.mgr", "manager", "co-comite-interinstitucional", frozenset(SHARE))
UNIT_HOURS = {"hours": 1, "calendar_days": 24, "business_days": 34, "months": 730}


def _hours(within: Any) -> float:
    return float(within.amount * UNIT_HOURS[within.unit])


def _care_path(loaded: LoadedProtocol) -> list[str]:
    """A walk through the care track taking each state's first way forward."""
    care = loaded.protocol.tracks["care"]
    path, state = [care.initial], care.initial
    while True:
        nxt = next(
            (t.to for t in care.transitions if state in t.sources and t.to not in path), None
        )
        if nxt is None:
            return path
        path.append(nxt)
        state = nxt


class _Builder:
    """Rows for the bulk inserts, drawn from a seeded generator (the same every run)."""

    def __init__(self, engine: Engine, registry: Registry, rnd_seed: int = 5) -> None:
        self.rnd = random.Random(rnd_seed)
        self.rows: dict[str, list[dict[str, Any]]] = {
            "cases": [],
            "tracks": [],
            "tasks": [],
            "events": [],
        }
        self.task_id = 0
        self.protocols = {c: registry.latest_published(p) for c, p in PROTOCOLS.items()}
        self.paths = {c: _care_path(p) for c, p in self.protocols.items()}
        self.handoffs = {
            c: next(
                ("care", state, spec)
                for state, s in p.protocol.tracks["care"].states.items()
                for spec in s.tasks
                if spec.handoff is not None
            )
            for c, p in self.protocols.items()
        }
        self.by_role, self.places = pin_and_index(engine, self.protocols.values())

    def case(self, case_id: int, country: str, number: int) -> None:
        rnd, loaded = self.rnd, self.protocols[country]
        p = loaded.protocol
        opened = NOW - timedelta(hours=rnd.uniform(1, 365 * 24))
        path = self.paths[country]
        depth = min(len(path), 1 + int(rnd.expovariate(0.45)))
        reached = path[:depth]
        closed = p.tracks["care"].states[reached[-1]].final
        lead = self.by_role.get((country, p.case_lead), ["?"])[0]
        self.rows["cases"].append(
            {
                "id": case_id,
                "ref": f"{country}-2026-{number:06d}",
                "protocol_id": loaded.id,
                "protocol_version": p.version,
                "protocol_hash": loaded.content_hash,
                "country": country,
                "jurisdiction": rnd.choice(self.places[country]),
                "lead_institution": lead,
                "attributes": {"minor": rnd.random() < 0.2, "nationality": "VE"},
                "opened_at": opened,
                "closed_at": opened + timedelta(days=depth * 9) if closed else None,
                "version": depth * 3,
            }
        )
        event = {"case_id": case_id, "actor": "bench", "at": opened}
        self.rows["events"].append({**event, "kind": "case_opened", "track": None, "data": {}})
        self.rows["events"].append(
            {**event, "kind": "track_opened", "track": "care", "data": {"state": path[0]}}
        )
        at = opened
        for source, target in itertools.pairwise(reached):
            at += timedelta(hours=rnd.uniform(2, 200))
            data = {"trigger": "bench", "source": source, "target": target, "cause": "person"}
            self.rows["events"].append(
                {**event, "at": at, "kind": "transition", "track": "care", "data": data}
            )
        self.rows["tracks"].append(
            {
                "case_id": case_id,
                "track": "care",
                "state": reached[-1],
                "opened_at": opened,
                "entered_at": min(at, NOW),
            }
        )
        pool = [
            (track, state, spec)
            for track, t in p.tracks.items()
            for state, s in t.states.items()
            if (track != "care" and state == t.initial) or (track == "care" and state in reached)
            for spec in s.tasks
        ]
        chosen = rnd.sample(pool, min(len(pool), rnd.randint(3, 8)))
        if rnd.random() < 0.03:  # a return across the border
            chosen[-1] = self.handoffs[country]
        for track, state, spec in chosen:
            self.task(case_id, country, opened, track, state, spec)

    def task(
        self, case_id: int, country: str, opened: datetime, track: str, state: str, spec: Any
    ) -> None:
        rnd = self.rnd
        created = min(opened + timedelta(hours=rnd.uniform(0, 24 * 40)), NOW - timedelta(hours=1))
        span = _hours(spec.due.within)
        due = created + timedelta(hours=span)
        role = spec.role or "coordinator"
        routing, handoff = "directory", None
        candidates = self.by_role.get((country, role))
        if spec.handoff is not None:
            routing = "handoff"
            to = rnd.choice([c for c in SHARE if c != country])
            handoff = {"country": to, "protocol": PROTOCOLS[to], "linked_ref": None}
            candidates = self.by_role.get((to, self.protocols[to].protocol.coordinator))
        if not candidates or rnd.random() < 0.02:
            routing = "gap"
            coordinator = self.protocols[country].protocol.coordinator
            candidates = self.by_role.get((country, coordinator), ["?"])
        draw = rnd.random()
        reason, overdue_at, updated = None, None, created
        if draw < 0.55:
            status = "completed"
            factor = rnd.uniform(0.05, 1.0) if rnd.random() < 0.75 else rnd.uniform(1.05, 3.0)
            updated = min(created + timedelta(hours=span * factor), NOW)
        elif draw < 0.75:
            status = rnd.choice(["requested", "received", "accepted", "in-progress", "on-hold"])
            if due < NOW and status != "on-hold":
                overdue_at = due
        elif draw < 0.83:
            status, reason = "rejected", rnd.choice(REJECT_REASONS)
            updated = created + timedelta(hours=rnd.uniform(0.5, 48))
        elif draw < 0.97:
            status, reason = "cancelled", "state_left"
            updated = created + timedelta(hours=rnd.uniform(1, 300))
        else:
            status, reason = "failed", "person_unreachable"
            updated = created + timedelta(hours=rnd.uniform(1, 300))
        updated = min(updated, NOW)
        is_open = status not in ("completed", "rejected", "cancelled", "failed")
        self.task_id += 1
        task_id = self.task_id
        self.rows["tasks"].append(
            {
                "id": task_id,
                "case_id": case_id,
                "track": track,
                "state": state,
                "task_key": spec.id,
                "role": role,
                "institution": rnd.choice(candidates),
                "status": status,
                "due_at": due,
                "next_action_at": (overdue_at or due) if is_open and status != "on-hold" else None,
                "created_at": created,
                "updated_at": updated,
                "overdue_at": overdue_at,
                "held_at": updated if status == "on-hold" else None,
                "status_before_hold": "accepted" if status == "on-hold" else None,
                "extensions": 0,
                "outcome": {},
                "reason": reason,
                "routing": routing,
                "handoff": handoff,
                "ladder_step": 1 if overdue_at else 0,
            }
        )
        base = {"case_id": case_id, "actor": "bench", "track": track}
        data = {"task": spec.id, "task_id": task_id}
        self.rows["events"].append({**base, "at": created, "kind": "task_opened", "data": data})
        if not is_open:
            kind = f"task_{status}"
            self.rows["events"].append({**base, "at": updated, "kind": kind, "data": data})


TABLES = {
    "cases": tables.cases,
    "tracks": tables.tracks,
    "tasks": tables.tasks,
    "events": tables.events,
}
READ_MODEL = (tables.task_completions, tables.care_states_reached)  # workflows/store/facts.py
CHUNK = 5000  # cases per insert round: the rows of 100,000 cases never sit in memory at once


def build(engine: Engine, cases: int, registry: Registry) -> dict[str, int]:
    """Fill a migrated database with `cases` synthetic cases; return the row counts."""
    seed(engine)
    builder = _Builder(engine, registry)
    numbers = dict.fromkeys(SHARE, 0)
    counts = dict.fromkeys(TABLES, 0)
    with datasets.indexes_after(engine, [*TABLES.values(), *READ_MODEL]):
        for case_id in range(1, cases + 1):
            country = builder.rnd.choices(list(SHARE), weights=list(SHARE.values()))[0]
            numbers[country] += 1
            builder.case(case_id, country, numbers[country])
            if case_id % CHUNK == 0 or case_id == cases:
                with engine.begin() as conn:
                    for name, table in TABLES.items():
                        rows = builder.rows[name]
                        if rows:
                            conn.execute(insert(table), rows)
                        counts[name] += len(rows)
                        rows.clear()
        with engine.begin() as conn:  # what migration 0008 does with existing data
            rebuilt = facts.rebuild(conn)
        counts |= {"task_completions": rebuilt.completions, "care_states_reached": rebuilt.states}
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))  # what `ruta` would have after a while in production
    return counts


def _case_list(svc: Services) -> dict[str, Callable[[], object]]:
    """The cases page's reads (workflows/queries/casebook.py) for a focal point of Colombia."""
    return {
        "case list, page 1 (CO)": lambda: casebook.list_cases(svc, FOCAL_CO),
        "case list, page 40 (CO)": lambda: casebook.list_cases(svc, FOCAL_CO, page=40),
        "case list, overdue only": lambda: casebook.list_cases(svc, FOCAL_CO, overdue_only=True),
        "case list, care state": lambda: casebook.list_cases(
            svc, FOCAL_CO, care_state="immediate_assistance"
        ),
        "case list filter options": lambda: casebook.list_options(svc, FOCAL_CO),
    }


def _aggregates(engine: Engine, svc: Services) -> dict[str, Callable[[], object]]:
    everywhere = Filters(countries=frozenset(SHARE))

    def one(fn: Callable[[SqlCompliance], object]) -> Callable[[], object]:
        def run() -> object:
            with engine.connect() as conn:
                return fn(SqlCompliance(conn))

        return run

    out: dict[str, Callable[[], object]] = {
        "on-time rates and hours per step": one(lambda q: q.completed(everywhere)),
        "overdue now": one(lambda q: q.overdue(everywhere, NOW)),
        "care funnel": one(lambda q: q.funnel(everywhere)),
        "rejection reasons": one(lambda q: q.rejections(everywhere)),
        "routing gaps": one(lambda q: q.gaps(everywhere)),
        "cross-border handoffs": one(lambda q: q.handoffs(everywhere)),
        "compliance filter options": lambda: compliance.options(svc, MANAGER),
        "compliance report, all figures": lambda: compliance.report(svc, MANAGER),
        "compliance report, CO, one protocol": lambda: compliance.report(
            svc, MANAGER, Filters(countries=frozenset({"CO"}), protocol="CO-TRATA")
        ),
    }
    return out


def _pages(svc: Services) -> dict[str, Callable[[], object]]:
    """Whole console pages, run server-side by Streamlit's AppTest (sign-in state injected):
    what a user waits for before the browser draws, without the network and Vega."""
    from streamlit.testing.v1 import AppTest  # noqa: TID251 (only this timing needs it)

    # bare-mode chatter ("missing ScriptRunContext") on every run would drown the tables;
    # Streamlit sets its loggers' levels again as it runs, so switch this one off
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True

    from institutions.domain import User

    app = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")
    people = {
        "cases page (focal point CO)": User(
            "bench.fp.co", "co-mininterior-coat", "focal_point", frozenset({"CO"})
        ),
        "compliance page (manager CO, PE, EC)": User(
            "bench.mgr", "co-comite-interinstitucional", "manager", frozenset(SHARE)
        ),
    }

    def page(user: User) -> Callable[[], object]:
        # One AppTest per page, run again and again: building an AppTest scans every
        # installed package for components (~0.5 s), which a running server does once.
        at = AppTest.from_file(app, default_timeout=60)
        at.session_state["services"] = svc
        at.session_state["locale"] = "es"
        at.session_state["user"] = user
        at.session_state["last_seen"] = NOW

        def run() -> object:
            at.run()
            if at.exception:
                raise RuntimeError(f"{user.username}: {at.exception[0].message}")
            return at

        run()  # the first run imports the page's modules, as a running server has them
        return run

    return {name: page(user) for name, user in people.items()}


def queries(engine: Engine, registry: Registry, pages: bool) -> dict[str, Callable[[], object]]:
    svc = services(engine, registry)
    out = {**_case_list(svc), **_aggregates(engine, svc)}
    if pages:
        out |= _pages(svc)
    return out


def _figures(
    backend: Backend, size: int, timings: dict[str, tuple[float, float]], runs: int
) -> list[Figure]:
    out = []
    for name, (wall, cpu) in timings.items():
        target = f"< {TARGET_MS / 1000:.0f} s" + ("" if backend.name == "sqlite" else " (SQLite)")
        judged = backend.name == "sqlite" and size >= TARGET_CASES
        out.append(
            Figure(
                "console",
                backend.name,
                name,
                wall,
                "ms",
                size=size,
                cpu_ms=cpu,
                target=target if judged else None,
                met=wall < TARGET_MS if judged else None,
                extra={"runs": runs},
            )
        )
    return out


def run(
    backend: Backend,
    registry: Registry,
    sizes: tuple[int, ...] = SIZES,
    runs: int = 5,
    pages: bool = True,
    say: Callable[[str], None] = lambda _: None,
) -> list[Figure]:
    figures: list[Figure] = []
    for size in sizes:
        ds = datasets.prepare(
            backend,
            "console",
            size,
            {"generator": 1, "protocols": sorted(PROTOCOLS.values())},
            registry,
            lambda engine, size=size: build(engine, size, registry),  # type: ignore[misc]
            say,
        )
        say(f"  console data, {size:,} cases: {ds.describe()}")
        timings = {n: median_ms(fn, runs) for n, fn in queries(ds.engine, registry, pages).items()}
        figures += _figures(backend, size, timings, runs)
        ds.engine.dispose()
    return figures


def main(
    cases: int = 10_000, runs: int = 5, pages: bool = True, registry: Registry | None = None
) -> dict[str, tuple[float, float]]:
    """One size on SQLite, in a scratch file (not cached), printed as a table."""
    registry = registry or Registry.scan()
    with scratch_dir() as tmp:
        engine = make_engine(f"sqlite:///{tmp / 'console.sqlite3'}")
        upgrade(engine)
        start = time.perf_counter()
        counts = build(engine, cases, registry)
        built = time.perf_counter() - start
        timings = {n: median_ms(fn, runs) for n, fn in queries(engine, registry, pages).items()}
        engine.dispose()
    rec = Recorder(results=None)
    rec.say(
        f"console reads on SQLite, {counts['cases']:,} cases, {counts['tasks']:,} tasks, "
        f"{counts['events']:,} events (built in {built:.1f} s); median of {runs} runs; "
        f"load average {load():.1f} on {os.cpu_count()} CPUs"
    )
    rec.add(_figures(Backend("sqlite"), cases, timings, runs))
    return timings


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)

"""Synthetic open work for the sweep: N open tasks, of which the same 1,000 are due.

Bulk SQLAlchemy Core inserts straight into cases, tracks, tasks, deadlines and events (the
engine would take hours for a million tasks). Every case has five open tasks drawn from the
states its tracks are in. Most tasks are not due: their next rung (the half-time reminder)
lies ahead, or their ladder is done (overdue and escalated long ago), or they are on hold.

The due work is identical at every size: due case j is drawn from its own seeded generator,
so the same 1,000 tasks, in the same kind of cases, sit at a rung that has just passed
(half of them a reminder, three in ten the overdue mark, two in ten the first escalation),
spread evenly over the case ids. Their ladders are computed by the engine's own functions
(`workflows.domain.ladder.rungs`, `workflows.domain.deadlines.add`), so the sweep finds them
consistent.
No personal data: no persons rows, attributes only.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, text

from benchmarks.common import NOW, SHARE, pin_and_index, seed
from benchmarks.datasets import indexes_after
from protocols.loader import LoadedProtocol
from protocols.registry import Registry
from protocols.schema import TaskSpec
from workflows.domain import deadlines
from workflows.domain.ladder import overdue_index, rungs
from workflows.store import tables

PROTOCOLS = {"CO": "CO-TRATA", "PE": "PE-TRATA", "EC": "EC-TRATA"}
DUE = 1000
TASKS_PER_CASE = 5
CHUNK_CASES = 10_000
UNIT_HOURS = {"hours": 1, "calendar_days": 24, "business_days": 34, "months": 730}
DUE_KINDS = ("remind",) * 5 + ("overdue",) * 3 + ("escalate",) * 2
OPEN = ("requested", "received", "accepted", "in-progress")

Pool = list[tuple[str, str, TaskSpec]]


def _hours(spec: TaskSpec) -> float:
    return float(spec.due.within.amount * UNIT_HOURS[spec.due.within.unit])


class SweepData:
    """Rows for one dataset; `chunks()` yields them a few thousand cases at a time."""

    def __init__(self, engine: Engine, registry: Registry, open_tasks: int, due: int) -> None:
        self.cases = open_tasks // TASKS_PER_CASE
        if self.cases < due:
            raise ValueError(
                f"{open_tasks:,} open tasks ({TASKS_PER_CASE} a case) cannot hold {due:,} due "
                f"tasks in distinct cases; use at least {due * TASKS_PER_CASE:,} open tasks."
            )
        self.due = due
        self.stride = self.cases / due
        self.rnd = random.Random(7)
        self.protocols = {c: registry.latest_published(p) for c, p in PROTOCOLS.items()}
        self.states: dict[str, list[tuple[str, Pool, bool]]] = {}
        for country, loaded in self.protocols.items():
            self.states[country] = [
                (state, self._pool(loaded, state), s.deadline is not None)
                for state, s in loaded.protocol.tracks["care"].states.items()
                if not s.final and any(t.role for t in s.tasks)
            ]
        self.by_role, self.places = pin_and_index(engine, self.protocols.values())
        self.task_id = 0
        self.due_at: list[int] = []  # ids of the due tasks

    @staticmethod
    def _pool(loaded: LoadedProtocol, care_state: str) -> Pool:
        """Tasks a case in `care_state` can have open: that state's, and those of the first
        state of the other tracks."""
        tracks = loaded.protocol.tracks
        return [
            (name, state, spec)
            for name, track in tracks.items()
            for state, s in track.states.items()
            if (name == "care" and state == care_state)
            or (name != "care" and state == track.initial)
            for spec in s.tasks
            if spec.role is not None
        ]

    def is_due_case(self, index: int) -> int | None:
        """Which due case (0..due-1) case number `index` (0-based) is, if any."""
        j = int(index / self.stride)
        return j if j < self.due and int((j + 0.5) * self.stride) == index else None

    def chunks(self) -> Any:
        rows: dict[str, list[dict[str, Any]]] = _empty()
        for index in range(self.cases):
            j = self.is_due_case(index)
            rnd = random.Random(f"due-{j}") if j is not None else self.rnd
            self.case(rows, index + 1, rnd, j)
            if len(rows["cases"]) >= CHUNK_CASES:
                yield rows
                rows = _empty()
        if rows["cases"]:
            yield rows

    def case(
        self, rows: dict[str, list[dict[str, Any]]], case_id: int, rnd: random.Random, j: int | None
    ) -> None:
        country = rnd.choices(list(SHARE), weights=list(SHARE.values()))[0]
        loaded = self.protocols[country]
        p = loaded.protocol
        state, pool, has_deadline = rnd.choice(self.states[country])
        place = rnd.choice(self.places[country])
        opened = NOW - timedelta(hours=rnd.uniform(24, 24 * 200))
        rows["cases"].append(
            {
                "id": case_id,
                "ref": f"{country}-2026-{case_id:07d}",
                "protocol_id": loaded.id,
                "protocol_version": p.version,
                "protocol_hash": loaded.content_hash,
                "country": country,
                "jurisdiction": place,
                "lead_institution": self.by_role.get((country, p.case_lead), ["?"])[0],
                "attributes": {"jurisdiction": place, "minor": False, "nationality": "VE"},
                "opened_at": opened,
                "closed_at": None,
                "version": 5,
            }
        )
        rows["events"].append(
            {"case_id": case_id, "at": opened, "actor": "bench", "kind": "case_opened",
             "track": None, "data": {"protocol": loaded.id}}
        )  # fmt: skip
        chosen = (
            rnd.sample(pool, TASKS_PER_CASE)
            if len(pool) >= TASKS_PER_CASE
            else [rnd.choice(pool) for _ in range(TASKS_PER_CASE)]
        )
        tracks = {"care": state} | {track: s for track, s, _ in chosen if track != "care"}
        for track, s in tracks.items():
            rows["tracks"].append(
                {"case_id": case_id, "track": track, "state": s, "opened_at": opened,
                 "entered_at": opened + timedelta(hours=1)}
            )  # fmt: skip
        if has_deadline:
            assert p.tracks["care"].states[state].deadline is not None
            due = NOW + timedelta(hours=rnd.uniform(2, 24 * 5))
            rows["deadlines"].append(
                {"case_id": case_id, "track": "care", "state": state, "due_at": due,
                 "started_at": opened, "status": "running", "next_action_at": due,
                 "extensions": 0}
            )  # fmt: skip
        for n, (track, s, spec) in enumerate(chosen):
            if j is not None and n == 0:
                self.due_task(
                    rows, case_id, country, loaded, track, s, spec, rnd, DUE_KINDS[j % 10]
                )
            else:
                self.task(rows, case_id, country, track, s, spec, rnd)

    def _row(
        self, case_id: int, country: str, track: str, state: str, spec: TaskSpec, rnd: random.Random
    ) -> dict[str, Any]:
        assert spec.role is not None
        self.task_id += 1
        return {
            "id": self.task_id,
            "case_id": case_id,
            "track": track,
            "state": state,
            "task_key": spec.id,
            "role": spec.role,
            "institution": rnd.choice(self.by_role.get((country, spec.role), ["?"])),
            "status": rnd.choice(OPEN),
            "extensions": 0,
            "outcome": {},
            "routing": "directory",
            "handoff": None,
            "held_at": None,
            "status_before_hold": None,
            "overdue_at": None,
        }

    def task(
        self,
        rows: dict[str, list[dict[str, Any]]],
        case_id: int,
        country: str,
        track: str,
        state: str,
        spec: TaskSpec,
        rnd: random.Random,
    ) -> None:
        row = self._row(case_id, country, track, state, spec, rnd)
        span = _hours(spec)
        draw = rnd.random()
        if draw < 0.80:  # the half-time reminder lies ahead
            created = NOW - timedelta(hours=span * rnd.uniform(0.0, 0.45))
            due = created + timedelta(hours=span)
            row |= {"ladder_step": 0, "next_action_at": created + timedelta(hours=span / 2)}
        elif draw < 0.95:  # overdue and escalated long ago: nothing left on the ladder
            created = NOW - timedelta(hours=span + 24 * rnd.uniform(10, 90))
            due = created + timedelta(hours=span)
            row |= {"ladder_step": 5, "next_action_at": None, "overdue_at": due}
        else:  # on hold: the clock is paused
            created = NOW - timedelta(hours=span * rnd.uniform(0.0, 0.45))
            due = created + timedelta(hours=span)
            row |= {"ladder_step": 0, "next_action_at": None, "status": "on-hold",
                    "held_at": created, "status_before_hold": "accepted"}  # fmt: skip
        row |= {"due_at": due, "created_at": created, "updated_at": created}
        rows["tasks"].append(row)

    def due_task(
        self,
        rows: dict[str, list[dict[str, Any]]],
        case_id: int,
        country: str,
        loaded: LoadedProtocol,
        track: str,
        state: str,
        spec: TaskSpec,
        rnd: random.Random,
        want: str,
    ) -> None:
        """A task whose rung `want` has just passed, its ladder as the engine computes it."""
        p = loaded.protocol
        row = self._row(case_id, country, track, state, spec, rnd)
        span = _hours(spec)
        best = None
        for _ in range(40):
            back = {
                "remind": span * rnd.uniform(0.5, 0.9),
                "overdue": span + rnd.uniform(0.1, 6),
                "escalate": span + rnd.uniform(30, 70),
            }[want]
            created = NOW - timedelta(hours=back)
            due = deadlines.add(created, spec.due.within, p.timezone, p.calendar)
            ladder = rungs(created, due, p.escalation, p.timezone, p.calendar)
            passed = [i for i, rung in enumerate(ladder) if rung.at <= NOW]
            if not passed or passed[-1] == len(ladder) - 1:
                continue  # nothing due, or the ladder would end here
            best = (created, due, ladder, passed[-1])
            if ladder[passed[-1]].kind == want:
                break
        assert best is not None, f"no ladder for {spec.id} puts a rung just before {NOW}"
        created, due, ladder, step = best
        ov = overdue_index(ladder)
        row |= {
            "status": "accepted",
            "due_at": due,
            "created_at": created,
            "updated_at": created,
            "ladder_step": step,
            "next_action_at": ladder[step].at,
            "overdue_at": ladder[ov].at if step > ov else None,
        }
        rows["tasks"].append(row)
        self.due_at.append(self.task_id)


def _empty() -> dict[str, list[dict[str, Any]]]:
    return {"cases": [], "tracks": [], "tasks": [], "deadlines": [], "events": []}


TABLES = {
    "cases": tables.cases,
    "tracks": tables.tracks,
    "tasks": tables.tasks,
    "deadlines": tables.deadlines,
    "events": tables.events,
}


def build(engine: Engine, registry: Registry, open_tasks: int, due: int = DUE) -> dict[str, int]:
    """Fill a migrated database with `open_tasks` open tasks, `due` of them due at NOW."""
    seed(engine)
    data = SweepData(engine, registry, open_tasks, due)
    counts = dict.fromkeys(TABLES, 0)
    with indexes_after(engine, TABLES.values()):
        for rows in data.chunks():
            with engine.begin() as conn:
                for name, table in TABLES.items():
                    if rows[name]:
                        conn.execute(insert(table), rows[name])
                        counts[name] += len(rows[name])
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    counts["due tasks"] = len(data.due_at)
    return counts

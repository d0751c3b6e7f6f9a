"""The compliance read model: a row per completed task (`task_completions`) and a row per
care state a case entered (`care_states_reached`), each carrying the case's protocol and
country so the figures need no join.

The repository writes them in the same transaction as the change they record, so the
figures are never behind the cases; `rebuild` recomputes them from the tasks, tracks and
events (`ruta compliance rebuild [--check]`; migration 0008 did the same, in SQL of its
own, for the data before it). Computed from every task and every care
event on each view, the compliance report took 3.5 s at 100,000 cases on SQLite; read from
these rows through covering indexes it takes a small fraction of that (benchmarks/README.md).

A completed task is final (FHIR), and a care state once entered stays reached: rows are
only ever added, and adding one twice is a no-op (`ON CONFLICT DO NOTHING`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Insert,
    Table,
    case,
    cast,
    delete,
    extract,
    func,
    literal_column,
    select,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite

from workflows.domain.case import Case, Task
from workflows.store import tables

CARE = "care"  # the track whose states make the funnel
# events that say which care state a case entered, and where in `data` the state is
ENTERED = {"transition": "target", "track_opened": "state"}


@dataclass(frozen=True, slots=True)
class Dialect:
    """The only SQL that differs between SQLite and PostgreSQL in the compliance figures."""

    hours: Callable[[ColumnElement[Any], ColumnElement[Any]], ColumnElement[Any]]
    month: Callable[[ColumnElement[Any]], ColumnElement[Any]]


def dialect(conn: Connection) -> Dialect:
    if conn.dialect.name == "postgresql":
        return Dialect(
            hours=lambda a, b: cast(extract("epoch", b) - extract("epoch", a), Float) / 3600.0,
            month=lambda ts: func.to_char(
                func.timezone(literal_column("'UTC'"), ts), literal_column("'YYYY-MM'")
            ),
        )
    # SQLite keeps UTC instants as naive text; julianday() reads it, in days.
    return Dialect(
        hours=lambda a, b: (func.julianday(b) - func.julianday(a)) * 24.0,
        month=lambda ts: func.strftime(literal_column("'%Y-%m'"), ts),
    )


def _ignoring(table: Table) -> dict[str, Insert]:
    """INSERT ... ON CONFLICT DO NOTHING, built once per dialect."""
    return {
        "postgresql": postgresql.insert(table).on_conflict_do_nothing(),
        "sqlite": sqlite.insert(table).on_conflict_do_nothing(),
    }


_ADD_COMPLETION = _ignoring(tables.task_completions)
_ADD_CARE_STATE = _ignoring(tables.care_states_reached)


def completion(case: Case, task: Task) -> dict[str, Any]:
    """The row of a completed task: its completion instant is its last update."""
    done = task.updated_at
    return {
        "task_id": task.id,
        "protocol_id": case.protocol_id,
        "task_key": task.key,
        "institution": task.institution,
        "country": case.country,
        "created_at": task.created_at,
        "completed_at": done,
        "month": done.astimezone(UTC).strftime("%Y-%m"),
        "on_time": int(done <= task.due_at),
        "hours": (done - task.created_at).total_seconds() / 3600.0,
    }


def care_states_entered(case: Case) -> set[str]:
    """The care states this unit of work's changes entered, from its new events: the engine
    records every state a track enters (`track_opened`, `transition`), even those it passes
    through within one fire."""
    return {
        str(e.data[ENTERED[e.kind]])
        for e in case.new_events
        if e.track == CARE and e.kind in ENTERED and e.data.get(ENTERED[e.kind])
    }


def record(conn: Connection, case: Case, completed: Iterable[Task]) -> None:
    """Add the facts of a case's unsaved changes (call before its new events are cleared):
    `completed`, the tasks just written with status completed."""
    rows = [completion(case, t) for t in completed]
    if rows:
        conn.execute(_ADD_COMPLETION[conn.dialect.name], rows)
    states = care_states_entered(case)
    if states:
        where = {"case_id": case.id, "protocol_id": case.protocol_id, "country": case.country}
        conn.execute(
            _ADD_CARE_STATE[conn.dialect.name],
            [{**where, "state": s, "opened_at": case.opened_at} for s in sorted(states)],
        )


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What a rebuild found: the rows it wrote, and how the tables differed before it."""

    completions: int
    states: int
    missing: int  # rows the tasks and events call for that were not there
    extra: int  # rows that were there and should not have been

    @property
    def in_step(self) -> bool:
        return not self.missing and not self.extra


def _keys(conn: Connection) -> tuple[set[int], set[tuple[int, str]]]:
    """The completed task ids and the (case, state) pairs the tables hold."""
    d, r = tables.task_completions, tables.care_states_reached
    done = set(conn.execute(select(d.c.task_id)).scalars())
    return done, {(row[0], row[1]) for row in conn.execute(select(r.c.case_id, r.c.state))}


def rebuild(conn: Connection) -> Rebuilt:
    """Recompute both tables from the tasks, tracks and events (in the caller's transaction:
    roll it back to only check)."""
    t, c, tr, e = tables.tasks, tables.cases, tables.tracks, tables.events
    sql = dialect(conn)
    facts, reached = tables.task_completions, tables.care_states_reached
    before = _keys(conn)
    conn.execute(delete(facts))
    conn.execute(delete(reached))
    done = select(
        t.c.id,
        c.c.protocol_id,
        t.c.task_key,
        t.c.institution,
        c.c.country,
        t.c.created_at,
        t.c.updated_at,
        sql.month(t.c.updated_at),
        case((t.c.updated_at <= t.c.due_at, 1), else_=0),
        sql.hours(t.c.created_at, t.c.updated_at),
    ).select_from(t.join(c, c.c.id == t.c.case_id))
    conn.execute(
        facts.insert().from_select(
            [col.name for col in facts.columns], done.where(t.c.status == "completed")
        )
    )
    entered = union(
        select(tr.c.case_id, tr.c.state.label("state")).where(tr.c.track == CARE),
        *(
            select(e.c.case_id, e.c.data[field].as_string()).where(
                e.c.kind == kind, e.c.track == CARE
            )
            for kind, field in ENTERED.items()
        ),
    ).subquery("entered")
    states = (
        select(entered.c.case_id, entered.c.state, c.c.protocol_id, c.c.country, c.c.opened_at)
        .select_from(entered.join(c, c.c.id == entered.c.case_id))
        .where(entered.c.state.is_not(None))
    )
    conn.execute(
        reached.insert().from_select(
            ["case_id", "state", "protocol_id", "country", "opened_at"], states
        )
    )
    (tasks_now, states_now), (tasks_was, states_was) = _keys(conn), before
    return Rebuilt(
        completions=len(tasks_now),
        states=len(states_now),
        missing=len(tasks_now - tasks_was) + len(states_now - states_was),
        extra=len(tasks_was - tasks_now) + len(states_was - states_now),
    )

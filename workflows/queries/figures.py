"""The compliance figures, computed in SQL on SQLite and PostgreSQL: on-time rates, overdue
now, time per step, the care funnel, rejections, routing gaps and cross-border handoffs.

Every figure is an aggregate; no case reference or identity leaves this module. The
completed-task figures and the funnel read the read model of `workflows/store/facts.py` (a
row per completed task, per care state reached, pre-joined with the case's country and
protocol); overdue tasks, rejections, gaps and handoffs read the tasks, joined to their
case. Medians and 90th percentiles are `percentile_cont` (linear interpolation, as
PostgreSQL and numpy compute them): for steps, the one or two rows around the position read
by offset in index order; for handoffs (few), `row_number()`/`count()` windows. Months and
hours are UTC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    FromClause,
    Select,
    Subquery,
    and_,
    case,
    cast,
    func,
    select,
)

from workflows.domain.case import OPEN_TASK_STATUSES
from workflows.store import facts, tables

ONTIME_BY = ("step", "institution", "country", "month")
ACCEPTED = ("accepted", "in-progress")
# A handoff task starts as `handoff`; declined, it is `rerouted`, then `returned` to the
# focal point, who may have it `referred`. (A `gap` never reached the receiving country.)
HANDOFF_ROUTINGS = ("handoff", "rerouted", "returned", "referred")


@dataclass(frozen=True, slots=True)
class Filters:
    """What the figures are narrowed to. `countries=None`: the actor's whole scope."""

    countries: frozenset[str] | None = None
    protocol: str | None = None  # a protocol id, e.g. CO-TRATA
    since: datetime | None = None  # tasks created (cases opened) at or after ...
    until: datetime | None = None  # ... and before
    institution: str | None = None  # tasks addressed to this institution


@dataclass(frozen=True, slots=True)
class OnTime:
    """Completed tasks of one group and how many were completed by their due time."""

    key: str  # a task key, an institution, a country or a month (YYYY-MM, of completion)
    completed: int
    on_time: int
    protocol: str | None = None  # for steps: whose step
    label: str | None = None  # for steps: the step's label in the asked language

    @property
    def late(self) -> int:
        return self.completed - self.on_time

    @property
    def rate(self) -> float | None:
        return self.on_time / self.completed if self.completed else None


@dataclass(frozen=True, slots=True)
class Overdue:
    country: str
    institution: str
    open: int
    overdue: int  # open, not on hold, past due now


@dataclass(frozen=True, slots=True)
class StepTime:
    """Hours from a task's creation to its completion: median and 90th percentile."""

    protocol: str
    task_key: str
    completed: int
    median_hours: float
    p90_hours: float
    label: str | None = None


@dataclass(frozen=True, slots=True)
class FunnelStep:
    """How many cases ever reached a care state (in the protocol's order)."""

    protocol: str
    state: str
    cases: int
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    tasks: int


@dataclass(frozen=True, slots=True)
class Gap:
    """Tasks no institution in the directory could take (they went to the coordinator)."""

    country: str
    role: str
    tasks: int
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Handoff:
    """Cross-border handoffs from `country` to `to_country`."""

    country: str
    to_country: str
    open: int  # not yet completed (waiting for acceptance, or accepted)
    accepted: int  # accepted or in progress: the person is on the way
    completed: int  # arrival confirmed
    median_hours: float | None  # creation to completion, completed ones
    p90_hours: float | None


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _ranked(source: FromClause, keys: Sequence[str], value: str) -> Subquery:
    """`source`'s rows with `value` (as v), its rank in its group of `keys` (rn) and the
    group's size (n): window functions both databases have."""
    groups = [source.c[k] for k in keys]
    return select(
        *groups,
        source.c[value].label("v"),
        func.row_number().over(partition_by=groups, order_by=source.c[value]).label("rn"),
        func.count().over(partition_by=groups).label("n"),
    ).subquery("ranked")


def _percentile(ranked: Subquery, num: int, den: int) -> ColumnElement[Any]:
    """`percentile_cont(num/den)` of v per group of `ranked` (an aggregate; group by the
    keys): at position 1 + f*(n-1), the rows at its floor and ceiling weighted by its
    fraction, as PostgreSQL's percentile_cont and numpy compute it."""
    steps = num * (ranked.c.n - 1)
    low = 1 + steps // den
    frac = cast(steps % den, Float) / den
    return func.sum(
        case(
            (ranked.c.rn == low, ranked.c.v * (1 - frac)),
            (ranked.c.rn == low + 1, ranked.c.v * frac),
            else_=0.0,
        )
    )


def _hours_value(value: Any) -> float:
    return round(float(value), 2)


def _narrowed(
    query: Select[Any],
    f: Filters,
    country: ColumnElement[Any],
    protocol: ColumnElement[Any],
    created: ColumnElement[Any],
    institution: ColumnElement[Any] | None = None,
) -> Select[Any]:
    """`query` narrowed to the filters, given the columns that hold each thing filtered on
    (the period is by `created`; no institution, no institution filter)."""
    if f.countries is not None:
        query = query.where(country.in_(sorted(f.countries)))
    if f.protocol:
        query = query.where(protocol == f.protocol)
    if f.since is not None:
        query = query.where(created >= f.since)
    if f.until is not None:
        query = query.where(created < f.until)
    if f.institution and institution is not None:
        query = query.where(institution == f.institution)
    return query


def _completions(f: Filters, *columns: Any) -> Select[Any]:
    d = tables.task_completions
    return _narrowed(
        select(*columns), f, d.c.country, d.c.protocol_id, d.c.created_at, d.c.institution
    )


def _ordering(item: tuple[tuple[str | None, str], Any]) -> tuple[str, str]:
    (protocol, key), _ = item
    return (protocol or "", key)


# --- the read model ----------------------------------------------------------------------


class SqlCompliance:
    """The aggregates, each one SQL query; `f.countries=None` means every country (system)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._sql = facts.dialect(conn)

    def _tasks(self, f: Filters, *columns: Any) -> Select[Any]:
        t, c = tables.tasks, tables.cases
        query = select(*columns).select_from(t.join(c, c.c.id == t.c.case_id))
        return _narrowed(query, f, c.c.country, c.c.protocol_id, t.c.created_at, t.c.institution)

    def _few_tasks(self, condition: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
        """A condition that picks few tasks through an index (routing, status). SQLite is
        given `tasks.id IN (SELECT id FROM tasks h WHERE condition)`: written as a plain
        condition, it walks every task of every case in scope instead (ix_cases_country_opened,
        then ix_tasks_case). PostgreSQL is given the plain condition: the IN form makes it
        scan every task to hash-join the few."""
        if self._conn.dialect.name == "postgresql":
            return condition(tables.tasks)
        h = tables.tasks.alias("h")
        return tables.tasks.c.id.in_(select(h.c.id).where(condition(h)))

    def completed(self, f: Filters) -> tuple[dict[str, list[OnTime]], list[StepTime]]:
        """The completed tasks (the read model of workflows/store/facts.py):

        - on-time rates per step, institution, country and month of completion: grouped by
          all four at once in the order of ix_task_completions_rates, then rolled up by each;
        - per step, the median and 90th percentile of the hours from creation to completion:
          the one or two rows around each position, read in the order of
          ix_task_completions_hours.
        """
        d = tables.task_completions
        dims = [d.c.protocol_id, d.c.task_key, d.c.institution, d.c.country, d.c.month]
        groups = _completions(f, *dims, func.count(), func.sum(d.c.on_time)).group_by(*dims)
        totals: dict[str, dict[tuple[str | None, str], list[int]]] = {by: {} for by in ONTIME_BY}
        for protocol, step, institution, country, month, n, ok in self._conn.execute(groups):
            keys = {"step": (protocol, step), "institution": (None, institution)}
            keys |= {"country": (None, country), "month": (None, month)}
            for by, key in keys.items():
                total = totals[by].setdefault(key, [0, 0])
                total[0] += int(n)
                total[1] += int(ok)
        rates = {
            by: [
                OnTime(k, n, ok, protocol)
                for (protocol, k), (n, ok) in sorted(groups.items(), key=_ordering)
            ]
            for by, groups in totals.items()
        }
        durations = []
        for (protocol, step), (n, _) in sorted(totals["step"].items(), key=_ordering):
            if protocol is None:  # steps are keyed by their protocol; never None
                continue
            median, p90 = (self._hours_at(f, protocol, step, n, *q) for q in ((1, 2), (9, 10)))
            if median is not None and p90 is not None:  # None: the rows went since (a rebuild)
                durations.append(StepTime(protocol, step, n, median, p90))
        return rates, durations

    def _hours_at(
        self, f: Filters, protocol: str, step: str, n: int, num: int, den: int
    ) -> float | None:
        """`percentile_cont(num/den)` of a step's `n` hours, as PostgreSQL and numpy compute
        it: at position f*(n-1) from 0, the rows at its floor and ceiling weighted by its
        fraction; both read straight off the index, skipping the rows before."""
        d = tables.task_completions
        low, rest = divmod(num * (n - 1), den)
        query = (
            _completions(f, d.c.hours)
            .where(d.c.protocol_id == protocol, d.c.task_key == step)
            .order_by(d.c.hours)
            .limit(2)
            .offset(low)
        )
        values = [float(v) for v in self._conn.execute(query).scalars()]
        if not values:
            return None
        below, above = values[0], values[-1]
        return _hours_value(below + (above - below) * rest / den)

    def overdue(self, f: Filters, now: datetime) -> list[Overdue]:
        """Open tasks and those past due now (on hold stops the clock), per country and
        institution, where any is overdue; most overdue first."""
        t, c = tables.tasks, tables.cases
        is_open = t.c.status.in_(list(OPEN_TASK_STATUSES))
        late = and_(is_open, t.c.status != "on-hold", t.c.due_at < now)
        query = (
            self._tasks(
                f, c.c.country, t.c.institution, _count(is_open).label("open"), _count(late)
            )
            .where(self._few_tasks(lambda h: h.c.status.in_(list(OPEN_TASK_STATUSES))))
            .group_by(c.c.country, t.c.institution)
            .having(func.sum(case((late, 1), else_=0)) > 0)
        )
        rows = [Overdue(r[0], r[1], int(r[2]), int(r[3])) for r in self._conn.execute(query)]
        return sorted(rows, key=lambda o: (-o.overdue, o.country, o.institution))

    def funnel(self, f: Filters) -> list[FunnelStep]:
        """Cases that ever reached each care state (the read model of workflows/store/facts.py),
        counted in the order of ix_care_states_reached_funnel."""
        r = tables.care_states_reached
        query = select(r.c.protocol_id, r.c.state, func.count())
        query = _narrowed(query, f, r.c.country, r.c.protocol_id, r.c.opened_at)
        query = query.group_by(r.c.protocol_id, r.c.state)
        return [FunnelStep(row[0], row[1], int(row[2])) for row in self._conn.execute(query)]

    def rejections(self, f: Filters) -> list[Rejection]:
        t = tables.tasks
        reason = func.coalesce(t.c.reason, "other")
        src = self._tasks(f, reason.label("reason")).where(t.c.status == "rejected").subquery()
        query = select(src.c.reason, func.count()).group_by(src.c.reason)
        rows = [Rejection(r[0], int(r[1])) for r in self._conn.execute(query)]
        return sorted(rows, key=lambda x: (-x.tasks, x.reason))

    def gaps(self, f: Filters) -> list[Gap]:
        t, c = tables.tasks, tables.cases
        query = (
            self._tasks(f, c.c.country, t.c.role, func.count())
            .where(self._few_tasks(lambda h: h.c.routing == "gap"))
            .group_by(c.c.country, t.c.role)
            .order_by(c.c.country, t.c.role)
        )
        return [Gap(r[0], r[1], int(r[2])) for r in self._conn.execute(query)]

    def handoffs(self, f: Filters) -> list[Handoff]:
        """Handoffs to a receiving country's protocol (gaps without one are routing gaps)."""
        t, c = tables.tasks, tables.cases
        to = t.c.handoff["country"].as_string()
        # only tasks not routed plainly can be handoffs: the JSON is read for those only
        real = and_(
            self._few_tasks(lambda h: h.c.routing.in_(HANDOFF_ROUTINGS)),
            t.c.handoff["protocol"].as_string().is_not(None),
        )
        base = self._tasks(
            f,
            c.c.country.label("country"),
            to.label("to_country"),
            t.c.status.label("status"),
            self._sql.hours(t.c.created_at, t.c.updated_at).label("h"),
        ).where(real)
        src = base.subquery("handoffs")
        keys = [src.c.country, src.c.to_country]
        counts = select(
            *keys,
            _count(src.c.status.in_(list(OPEN_TASK_STATUSES))),
            _count(src.c.status.in_(list(ACCEPTED))),
            _count(src.c.status == "completed"),
        ).group_by(*keys)
        ranked = _ranked(
            base.where(t.c.status == "completed").subquery("arrived"),
            ["country", "to_country"],
            "h",
        )
        durations = select(
            ranked.c.country,
            ranked.c.to_country,
            _percentile(ranked, 1, 2),
            _percentile(ranked, 9, 10),
        ).group_by(ranked.c.country, ranked.c.to_country)
        times = {
            (r[0], r[1]): (_hours_value(r[2]), _hours_value(r[3]))
            for r in self._conn.execute(durations)
        }
        out = []
        for r in self._conn.execute(counts):
            median, p90 = times.get((r[0], r[1]), (None, None))
            out.append(Handoff(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), median, p90))
        return sorted(out, key=lambda h: (h.country, h.to_country))

    def protocol_ids(self, f: Filters) -> list[str]:
        c = tables.cases
        query = select(c.c.protocol_id).distinct()
        if f.countries is not None:
            query = query.where(c.c.country.in_(sorted(f.countries)))
        return sorted(self._conn.execute(query).scalars())

    def latest_hashes(self) -> dict[str, str]:
        """protocol id -> the content hash stored last (a small table)."""
        p = tables.protocol_versions
        query = select(p.c.protocol_id, p.c.content_hash).order_by(p.c.stored_at)
        return {r[0]: r[1] for r in self._conn.execute(query)}

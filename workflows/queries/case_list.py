"""The focal point's case list and a case's timeline: read-only SQL, no personal data.

One page query plus one count, computed in SQL: the page's 25 case ids are picked first
(filters, newest first, LIMIT/OFFSET), and the care state and task counts are read only for
those rows, so the cost does not grow with the number of cases' tasks.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, select

from workflows.domain.case import OPEN_TASK_STATUSES, Case
from workflows.store import tables


@dataclass(frozen=True, slots=True)
class CaseFilter:
    """What the case list is narrowed to. `countries=None` means every country (system)."""

    countries: frozenset[str] | None
    care_state: str | None = None
    overdue_only: bool = False
    lead_institution: str | None = None
    ref_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class CaseRow:
    """One line of the case list: where the case stands, by reference only."""

    ref: str
    version: int
    country: str
    protocol_id: str
    protocol_version: str
    jurisdiction: str
    care_state: str | None
    opened_at: datetime
    closed_at: datetime | None
    open_tasks: int
    overdue_tasks: int
    lead_institution: str | None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One event of a case, as stored (events never hold personal data)."""

    id: int
    at: datetime
    actor: str
    kind: str
    track: str | None
    data: dict[str, Any] = field(default_factory=dict)


def _overdue(t: Any, now: datetime) -> ColumnElement[bool]:
    """Open, not on hold (a hold stops the clock) and past its due time."""
    return and_(t.c.status.in_(list(OPEN_TASK_STATUSES)), t.c.status != "on-hold", t.c.due_at < now)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class SqlCaseList:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _conditions(self, f: CaseFilter, now: datetime) -> list[ColumnElement[bool]]:
        c, tr, t = tables.cases, tables.tracks, tables.tasks
        out: list[ColumnElement[bool]] = []
        if f.countries is not None:
            out.append(c.c.country.in_(sorted(f.countries)))
        if f.care_state:
            # ix_tracks_track_state: the cases in that care state, by index
            in_state = select(tr.c.case_id).where(tr.c.track == "care", tr.c.state == f.care_state)
            out.append(c.c.id.in_(in_state))
        if f.overdue_only:
            out.append(c.c.id.in_(select(t.c.case_id).where(_overdue(t, now))))
        if f.lead_institution:
            out.append(c.c.lead_institution == f.lead_institution)
        if f.ref_prefix:
            out.append(c.c.ref.like(_escape_like(f.ref_prefix) + "%", escape="\\"))
        return out

    def count(self, f: CaseFilter, now: datetime) -> int:
        """How many cases the filter matches."""
        if f.countries is not None and not f.countries:
            return 0
        c = tables.cases
        query = select(func.count()).select_from(c).where(*self._conditions(f, now))
        return int(self._conn.execute(query).scalar_one())

    def page(self, f: CaseFilter, now: datetime, limit: int, offset: int) -> list[CaseRow]:
        """One page of the list, newest cases first."""
        if f.countries is not None and not f.countries:
            return []
        c, tr, t = tables.cases, tables.tracks, tables.tasks
        order = (c.c.opened_at.desc(), c.c.id.desc())
        ids = (
            select(c.c.id)
            .where(*self._conditions(f, now))
            .order_by(*order)
            .limit(limit)
            .offset(offset)
            .subquery("page")
        )
        is_open = t.c.status.in_(list(OPEN_TASK_STATUSES))

        def tally(condition: ColumnElement[bool]) -> Any:
            # correlated, so it runs only for the rows of this page (ix_tasks_case)
            return (
                select(func.count())
                .select_from(t)
                .where(t.c.case_id == c.c.id, condition)
                .scalar_subquery()
            )

        query: Select[Any] = (
            select(
                c.c.ref,
                c.c.version,
                c.c.country,
                c.c.protocol_id,
                c.c.protocol_version,
                c.c.jurisdiction,
                tr.c.state.label("care_state"),
                c.c.opened_at,
                c.c.closed_at,
                tally(is_open).label("open_tasks"),
                tally(_overdue(t, now)).label("overdue_tasks"),
                c.c.lead_institution,
            )
            .join(ids, ids.c.id == c.c.id)
            .outerjoin(tr, and_(tr.c.case_id == c.c.id, tr.c.track == "care"))
            .order_by(*order)
        )
        return [
            CaseRow(
                ref=r.ref,
                version=r.version,
                country=r.country,
                protocol_id=r.protocol_id,
                protocol_version=r.protocol_version,
                jurisdiction=r.jurisdiction,
                care_state=r.care_state,
                opened_at=r.opened_at,
                closed_at=r.closed_at,
                open_tasks=int(r.open_tasks or 0),
                overdue_tasks=int(r.overdue_tasks or 0),
                lead_institution=r.lead_institution,
            )
            for r in self._conn.execute(query)
        ]

    def lead_institutions(self, countries: Collection[str] | None) -> list[str]:
        """The institutions leading some case in these countries (list filter options)."""
        c = tables.cases
        query = select(c.c.lead_institution).where(c.c.lead_institution.is_not(None)).distinct()
        if countries is not None:
            query = query.where(c.c.country.in_(sorted(countries)))
        return sorted(str(v) for v in self._conn.execute(query).scalars())

    def timeline(self, case: Case, limit: int = 500) -> list[TimelineEntry]:
        """A case's events, newest first."""
        e = tables.events
        query = (
            select(e.c.id, e.c.at, e.c.actor, e.c.kind, e.c.track, e.c.data)
            .where(e.c.case_id == case.id)
            .order_by(e.c.at.desc(), e.c.id.desc())
            .limit(limit)
        )
        return [
            TimelineEntry(r.id, r.at, r.actor, r.kind, r.track, dict(r.data or {}))
            for r in self._conn.execute(query)
        ]

"""Read-only SQL over tasks: an institution's inbox and compliance counts for a scope."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, case, func, insert, select

from workflows.domain.case import OPEN_TASK_STATUSES
from workflows.domain.ports import ComplianceCounts, InboxRow
from workflows.store import tables
from workflows.store.audit_verify import head_now


class SqlInbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def tasks(
        self,
        institution: str,
        *,
        statuses: Collection[str] | None = None,
        due_before: datetime | None = None,
        country: str | None = None,
        case_ref: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[InboxRow]:
        t, c = tables.tasks, tables.cases
        query = (
            select(
                t.c.id,
                c.c.ref,
                c.c.version,
                c.c.country,
                c.c.protocol_hash,
                t.c.track,
                t.c.task_key,
                t.c.role,
                t.c.status,
                t.c.due_at,
                t.c.overdue_at,
                t.c.routing,
                t.c.owner,
                t.c.created_at,
            )
            .join(c, c.c.id == t.c.case_id)
            .where(t.c.institution == institution)
            .order_by(t.c.due_at, t.c.id)
            .limit(limit)
            .offset(offset)
        )
        query = query.where(t.c.status.in_(list(statuses or OPEN_TASK_STATUSES)))
        if due_before is not None:
            query = query.where(t.c.due_at <= due_before)
        if country is not None:
            query = query.where(c.c.country == country)
        if case_ref is not None:
            query = query.where(c.c.ref == case_ref)
        return [
            InboxRow(
                task_id=r.id,
                case_ref=r.ref,
                case_version=r.version,
                country=r.country,
                protocol_hash=r.protocol_hash,
                track=r.track,
                task_key=r.task_key,
                role=r.role,
                status=r.status,
                due_at=r.due_at,
                overdue=r.overdue_at is not None,
                routing=r.routing,
                owner=r.owner,
                created_at=r.created_at,
            )
            for r in self._conn.execute(query)
        ]

    def compliance(self, countries: Collection[str], now: datetime) -> list[ComplianceCounts]:
        """Counts per country of the tasks of cases in `countries`, computed in SQL."""
        t, c = tables.tasks, tables.cases
        is_open = t.c.status.in_(list(OPEN_TASK_STATUSES))
        done = t.c.status == "completed"

        def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
            return func.sum(case((condition, 1), else_=0))

        query = (
            select(
                c.c.country,
                count(is_open).label("open"),
                count(and_(is_open, t.c.due_at < now, t.c.status != "on-hold")).label("overdue"),
                count(and_(done, t.c.updated_at <= t.c.due_at)).label("on_time"),
                count(and_(done, t.c.updated_at > t.c.due_at)).label("late"),
                count(t.c.status == "rejected").label("rejected"),
                count(t.c.status == "cancelled").label("cancelled"),
                count(t.c.routing == "gap").label("gaps"),
            )
            .join(c, c.c.id == t.c.case_id)
            .where(c.c.country.in_(list(countries)))
            .group_by(c.c.country)
            .order_by(c.c.country)
        )
        return [
            ComplianceCounts(
                country=r.country,
                open=int(r.open or 0),
                overdue_now=int(r.overdue or 0),
                completed_on_time=int(r.on_time or 0),
                completed_late=int(r.late or 0),
                rejected=int(r.rejected or 0),
                cancelled=int(r.cancelled or 0),
                routing_gaps=int(r.gaps or 0),
            )
            for r in self._conn.execute(query)
        ]

    def routing_gaps(self, countries: Collection[str]) -> list[tuple[str, str, int]]:
        """(country, role, tasks) for every role the directory had nobody for."""
        t, c = tables.tasks, tables.cases
        query = (
            select(c.c.country, t.c.role, func.count())
            .join(c, c.c.id == t.c.case_id)
            .where(t.c.routing == "gap", c.c.country.in_(list(countries)))
            .group_by(c.c.country, t.c.role)
            .order_by(c.c.country, t.c.role)
        )
        return [(r[0], r[1], int(r[2])) for r in self._conn.execute(query)]

    def countries(self) -> list[str]:
        """Every country that has cases."""
        c = tables.cases
        query = select(c.c.country).distinct().order_by(c.c.country)
        return list(self._conn.execute(query).scalars())

    def record_snapshot(self, at: datetime, figures: list[ComplianceCounts]) -> None:
        """Store the figures, each with the audit chain's head at that moment (an anchor:
        a later rewrite of the event log no longer matches the recorded head)."""
        head = head_now(self._conn)
        anchor = dict(zip(("event_id", "hash", "count"), head, strict=True)) if head else None
        for counts in figures:
            data: dict[str, object] = dict(asdict(counts))
            data["audit_head"] = anchor
            country = data.pop("country")
            self._conn.execute(
                insert(tables.compliance_snapshots).values(
                    taken_at=at, country=country, figures=data
                )
            )

"""Events of no case (a user account changed), on the same hash chain as the cases' events."""

from __future__ import annotations

from sqlalchemy import Connection, select

from workflows.domain.case import Event
from workflows.domain.events import EventKind
from workflows.store import tables
from workflows.store.audit import ChainWriter


class SqlEventLog:
    """Appends through the unit of work's chain writer, so the chain head moves on commit."""

    def __init__(self, conn: Connection, chain: ChainWriter) -> None:
        self._conn = conn
        self._chain = chain

    def record(self, event: Event) -> None:
        self._chain.append(
            [
                dict(case_id=None, at=event.at, actor=event.actor, kind=str(event.kind),
                     track=event.track, data=event.data)
            ]
        )  # fmt: skip

    def recorded(self, limit: int = 100) -> list[Event]:
        e = tables.events
        rows = self._conn.execute(
            select(e.c.kind, e.c.at, e.c.actor, e.c.data, e.c.track)
            .where(e.c.case_id.is_(None))
            .order_by(e.c.id.desc())
            .limit(limit)
        ).all()
        return [
            Event(EventKind(r.kind), r.at, r.actor, dict(r.data or {}), r.track)
            for r in reversed(rows)
        ]

"""The outbox on SQL: claim due messages without two workers taking the same row, finish them.

A claim is a conditional UPDATE of rows picked with `FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite
has one writer and ignores it): only rows still `pending` and due, or `sending` with an
expired lease (a worker died mid-send), are taken, and each gets the claimer's token. Finishing
a row checks the token, so a worker whose lease ran out cannot overwrite a newer claim, and
`renew` (before each send) checks the token and the lease and extends it in one UPDATE.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from workflows.domain.ports import Outbox, OutboxRow
from workflows.store import tables


class SqlOutbox(Outbox):
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(self, now: datetime, limit: int, token: str, lease: timedelta) -> list[OutboxRow]:
        o, c = tables.outbox, tables.cases
        due = or_(
            and_(
                o.c.status == "pending",
                or_(o.c.next_attempt_at.is_(None), o.c.next_attempt_at <= now),
            ),
            and_(o.c.status == "sending", o.c.claimed_until < now),
        )
        picked = (
            select(o.c.id)
            .where(due)
            .order_by(o.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(self._conn.execute(picked).scalars())
        if not ids:
            return []
        self._conn.execute(
            update(o)
            .where(o.c.id.in_(ids), due)
            .values(status="sending", claim=token, claimed_until=now + lease)
        )
        rows = self._conn.execute(
            select(
                o.c.id,
                c.c.ref,
                c.c.country,
                c.c.protocol_hash,
                o.c.template,
                o.c.role,
                o.c.institution,
                o.c.task_key,
                o.c.task_id,
                o.c.level,
                o.c.attempts,
                o.c.ambiguous_retries,
            )
            .join(c, c.c.id == o.c.case_id)
            .where(o.c.claim == token, o.c.status == "sending")
            .order_by(o.c.id)
        )
        return [OutboxRow(*r) for r in rows]

    def renew(self, row_id: int, token: str, now: datetime, lease: timedelta) -> bool:
        o = tables.outbox
        held = self._conn.execute(
            update(o)
            .where(
                o.c.id == row_id,
                o.c.claim == token,
                o.c.status == "sending",
                o.c.claimed_until > now,
            )
            .values(claimed_until=now + lease)
        ).rowcount
        return held == 1

    def finish(self, row_id: int, token: str, **values: Any) -> bool:
        o = tables.outbox
        done = self._conn.execute(
            update(o)
            .where(o.c.id == row_id, o.c.claim == token, o.c.status == "sending")
            .values(claim=None, claimed_until=None, **values)
        ).rowcount
        return done == 1

    def counts(self) -> dict[str, int]:
        """Messages per status (pending, sending, sent, dead)."""
        o = tables.outbox
        rows = self._conn.execute(select(o.c.status, func.count()).group_by(o.c.status))
        return {status: int(n) for status, n in rows}

"""The tamper-evident event log: every event carries the previous event's hash.

`hash = sha256(canonical JSON of {case_id, at, actor, kind, track, data, prev})`, with
`sort_keys` and no spaces, from the genesis hash "0" * 64. Appends are serialised by locking
the one-row `audit_head` before reading it (`ChainWriter`), so concurrent writers
never fork the chain; database triggers refuse UPDATE, DELETE and TRUNCATE on `events` and
the deletion of its head. `audit_verify.py` checks the chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, update

from workflows.store import tables

GENESIS = "0" * 64


def chain_hash(event: Mapping[str, Any], prev: str) -> str:
    at = event["at"]
    if not isinstance(at, datetime):
        raise TypeError(f"an event's time is a datetime, not {type(at).__name__}")
    body = {
        "case_id": event["case_id"],
        "at": at.astimezone(UTC).isoformat(),
        "actor": event["actor"],
        "kind": event["kind"],
        "track": event["track"],
        "data": event["data"],
        "prev": prev,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


_HEAD = tables.audit_head
# the write lock first (an UPDATE), reading the head in the same statement: a reader's stale
# head can never fork the chain
_LOCK_HEAD = (
    update(_HEAD).where(_HEAD.c.id == 1).values(event_id=_HEAD.c.event_id).returning(_HEAD.c.hash)
)
_INSERT_EVENTS = insert(tables.events).returning(tables.events.c.id)  # the last id: any order
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(event_id=bindparam("event_id"), hash=bindparam("hash"))
)


class ChainWriter:
    """Appends events to the hash chain within one transaction.

    The first append locks the one-row chain head and reads it in the same statement (so
    concurrent writers queue behind it and never fork the chain); the head then lives in
    memory, and `flush` writes it back once, just before the commit. A sweep that changes
    fifty cases in one transaction so touches the head twice, not a hundred times.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._prev: str | None = None  # the hash of the last event appended (the head's)
        self._last: int | None = None  # its id, while the head row is not yet written

    def append(self, rows: list[dict[str, Any]]) -> None:
        prev = self._prev
        if prev is None:
            prev = self._conn.execute(_LOCK_HEAD).scalar_one()
        for row in rows:
            row["prev_hash"] = prev
            prev = row["hash"] = chain_hash(row, prev)
        self._last = max(self._conn.execute(_INSERT_EVENTS, rows).scalars())
        self._prev = prev

    def flush(self) -> None:
        """Write the head (before the commit); the next transaction locks it again."""
        if self._last is not None:
            self._conn.execute(_MOVE_HEAD, {"event_id": self._last, "hash": self._prev})
        self.forget()

    def forget(self) -> None:
        """Drop what this transaction appended (it was rolled back)."""
        self._prev = self._last = None

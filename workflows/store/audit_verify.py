"""Checking the event log: its hash chain, its head, and every anchor taken of it.

The chain alone proves only that the log agrees with itself: whoever can write the database
can change an event and re-hash everything after it, or cut the tail and rewind the head.
An anchor is the head at some moment (the last event's id and hash, and how many events the
log held up to it) kept where that writer cannot reach: `ruta audit anchor` and the nightly
flow append one to a file outside the database (ruta/anchors.py), and each nightly
compliance snapshot records one inside it. The anchored event must still be there, with
that hash and at that position, or the log was rewritten since.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, String, Text, cast, func, select, type_coerce

from workflows.store import tables
from workflows.store.audit import GENESIS, chain_hash


@dataclass(frozen=True, slots=True)
class Anchor:
    """The chain's head at a moment: its last event, that event's hash, the events up to it."""

    event_id: int
    hash: str
    count: int | None  # events in the log up to and including event_id (None: not recorded)
    at: datetime | None
    source: str  # where it was kept, for messages: "/backup/audit-anchors.jsonl:3"


@dataclass(frozen=True, slots=True)
class ChainCheck:
    events: int  # events in the log
    intact: int  # events whose hash and link hold, before the first that does not
    anchors: int  # anchors the log was held to
    problems: list[str]  # each names the event or the anchor; empty: the log is intact

    @property
    def ok(self) -> bool:
        return not self.problems


def head_now(conn: Connection) -> tuple[int, str, int] | None:
    """(event id, hash, events up to it) of the chain head, read in one statement (one
    snapshot: a writer committing meanwhile cannot make the count disagree with the head)."""
    h, e = tables.audit_head, tables.events
    count = select(func.count()).select_from(e).where(e.c.id <= h.c.event_id).scalar_subquery()
    row = conn.execute(select(h.c.event_id, h.c.hash, count).where(h.c.id == 1)).first()
    return None if row is None else (row[0], row[1], row[2])


def check_chain(conn: Connection, anchors: Iterable[Anchor] = (), batch: int = 5000) -> ChainCheck:
    """Recompute the hash chain, hold it to its head row, to the given anchors and to the
    anchors the compliance snapshots recorded; name every event found altered or missing.

    The head is read first and the chain walked up to it: writers appending meanwhile commit
    their events with the head that names them, so what they add lies past the head read
    here and is checked next time, never taken for a break.
    """
    recorded, problems = snapshot_anchors(conn)  # before the head: they name no later event
    held = [*anchors, *recorded]
    h = tables.audit_head
    top = conn.execute(select(h.c.event_id, h.c.hash).where(h.c.id == 1)).first()
    head = None if top is None else (int(top[0]), str(top[1]))
    wanted = {a.event_id for a in held}
    found: dict[int, tuple[int, str | None]] = {}  # anchored event id -> (position, hash)
    prev, events, intact, last_id, broken = GENESIS, 0, 0, 0, False
    # how SQLAlchemy reads `at` on this database, applied per event (a bad value is reported)
    stamp = tables.events.c.at.type.dialect_impl(conn.dialect).result_processor(conn.dialect, None)
    for row in _events(conn, batch, head[0] if head else None):
        events += 1
        if row.id in wanted:
            found[row.id] = (events, row.hash)
        if not broken:
            fault = _fault(row, prev, stamp)
            if fault:
                problems.append(f"Event {row.id} was altered: {fault}.")
                broken = True
            else:
                intact += 1
        prev, last_id = row.hash, row.id
    problems += _against_head(head, events, last_id, prev)
    problems += _past_head(conn)
    for anchor in held:
        problems += _against_anchor(anchor, found.get(anchor.event_id), events, last_id)
    return ChainCheck(events, intact, len(held), problems)


def snapshot_anchors(conn: Connection) -> tuple[list[Anchor], list[str]]:
    """The heads the compliance snapshots recorded (one per night, however many countries),
    and a problem for each snapshot whose record cannot be read."""
    s = tables.compliance_snapshots
    query = select(s.c.id, type_coerce(s.c.taken_at, String), cast(s.c.figures, Text))
    anchors: dict[tuple[int, str, int | None], Anchor] = {}
    problems = []
    for snapshot_id, taken, figures in conn.execute(query.order_by(s.c.id)):
        source = f"compliance snapshot {snapshot_id} (taken {taken})"
        try:
            head = json.loads(figures)["audit_head"]
            if head is None:
                continue  # taken before the chain had a head
            key = (int(head["event_id"]), str(head["hash"]), head.get("count"))
        except (ValueError, TypeError, KeyError):
            problems.append(f"The {source} was altered: its anchor cannot be read.")
            continue
        if key not in anchors:
            anchors[key] = Anchor(*key, at=None, source=source)
    return list(anchors.values()), problems


def _events(conn: Connection, batch: int, upto: int | None) -> Iterator[Row[Any]]:
    """The events up to `upto` (None: all) in id order, `at` and `data` as the database holds
    them (a tampered value must be reported, not raise while the row is read)."""
    e = tables.events
    columns = (
        e.c.id,
        e.c.case_id,
        type_coerce(e.c.at, String).label("at"),
        e.c.actor,
        e.c.kind,
        e.c.track,
        cast(e.c.data, Text).label("data"),
        e.c.prev_hash,
        e.c.hash,
    )
    last_id = 0
    while True:
        query = select(*columns).where(e.c.id > last_id).order_by(e.c.id).limit(batch)
        if upto is not None:
            query = query.where(e.c.id <= upto)
        chunk = conn.execute(query).all()
        if not chunk:
            return
        yield from chunk
        last_id = chunk[-1].id


def _fault(row: Row[Any], prev: str, stamp: Any) -> str:
    """Why the event breaks the chain, or "" when it holds."""
    if row.prev_hash != prev:
        return "its previous-hash link does not match the event before"
    try:
        event = row._asdict() | {"at": stamp(row.at) if stamp else row.at}
        event["data"] = json.loads(row.data)
        if chain_hash(event, prev) == row.hash:
            return ""
    except (ValueError, TypeError):  # not JSON, not a time, a value JSON cannot hold
        return "its content can no longer be read"
    return "its content does not match its hash"


def _against_head(
    head: tuple[int, str] | None, events: int, last_id: int, last_hash: str
) -> list[str]:
    ends = f"the log ends at event {last_id} ({events} events)" if events else "the log is empty"
    if head is None:
        return [f"The chain head is missing (its row was deleted); {ends}."]
    head_id, head_hash = head
    if head_id > last_id:
        return [
            f"Events {last_id + 1} to {head_id} are missing: the chain head names event "
            f"{head_id}, but {ends} (the log was emptied or its tail cut)."
        ]
    if head_hash != last_hash:
        return [f"The chain head's hash does not match event {last_id}, the last in the log."]
    return []


def _past_head(conn: Connection) -> list[str]:
    """Events no head names: read with the head in one statement (one snapshot), so a writer
    committing meanwhile is not taken for one."""
    h, e = tables.audit_head, tables.events
    last = select(func.max(e.c.id)).scalar_subquery()
    row = conn.execute(select(h.c.event_id, last).where(h.c.id == 1)).first()
    if row is None or row[1] is None or row[1] <= row[0]:
        return []
    return [
        f"Events {row[0] + 1} to {row[1]} lie past the chain head (event {row[0]}): written "
        "around the chain, or the head was moved back."
    ]


def _against_anchor(
    anchor: Anchor, found: tuple[int, str | None] | None, events: int, last_id: int
) -> list[str]:
    if anchor.event_id == 0:
        return []  # taken of an empty log: everything since is new
    since = f"since the anchor {anchor.source}"
    if anchor.at is not None:
        since += f" of {anchor.at.isoformat(timespec='seconds')}"
    if found is None:
        now = f"the log now ends at event {last_id} ({events} events)"
        if not events:
            now = "the log is now empty"
        return [f"Event {anchor.event_id} is missing {since}; {now}."]
    position, digest = found
    if digest != anchor.hash:
        return [
            f"Event {anchor.event_id} was changed {since}: its hash was {anchor.hash[:16]}..., "
            f"now {(digest or 'none')[:16]}... (the log was rewritten up to it)."
        ]
    if anchor.count is not None and position != anchor.count:
        return [
            f"The log held {anchor.count} events up to event {anchor.event_id} when the anchor "
            f"{anchor.source} was taken, and holds {position} now: events went missing or "
            "were slipped in before it."
        ]
    return []

"""The case repository on SQL: load a case in a handful of selects, compare-and-set its
version, write only what changed; the person record sealed in `persons`, task notes sealed
in `tasks.note`, events appended to the hash chain, messages to the outbox, and the
compliance read model, all in the caller's transaction."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    bindparam,
    delete,
    exists,
    insert,
    select,
    union,
    update,
)

from workflows.domain.case import (
    Approval,
    Case,
    CaseId,
    CaseLink,
    ConsentRecord,
    Deadline,
    Event,
    Task,
    TaskId,
    TrackState,
)
from workflows.domain.errors import ConcurrentChange, UnknownCase
from workflows.domain.events import EventKind
from workflows.domain.ports import Retained, TaskNotice
from workflows.store import facts, tables
from workflows.store.audit import append_events
from workflows.store.vault import Vault

# Statements built once (benchmarks/README.md: building them per save cost a fifth of a fire)
_TASK_COLUMNS = [c.name for c in tables.tasks.columns if c.name not in ("id", "case_id")]
_INSERT_TASK = insert(tables.tasks)
_UPDATE_TASK = (
    update(tables.tasks)
    .where(tables.tasks.c.id == bindparam("_id"))
    .values({name: bindparam(name) for name in _TASK_COLUMNS})
)
_ROWS: dict[tuple[str, bool], Any] = {}


def sealed_person(vault: Vault, case_id: int, person: dict[str, str]) -> dict[str, Any]:
    """The stored form of a person record: sealed, with its key id and blind index."""
    number = person.get("document_number", "").strip()
    return {
        "payload": vault.seal(json.dumps(person), f"persons:{case_id}"),
        "key_id": vault.primary_id,
        "doc_index": vault.index(number, "document_number") if number else None,
    }


class SqlCaseRepository:
    def __init__(self, conn: Connection, vault: Vault) -> None:
        self._conn = conn
        self._vault = vault

    def next_ref(self, country: str, year: int) -> str:
        t = tables.case_counters
        where = (t.c.country == country) & (t.c.year == year)
        bumped = self._conn.execute(update(t).where(where).values(last=t.c.last + 1)).rowcount
        if bumped == 0:
            self._conn.execute(insert(t).values(country=country, year=year, last=1))
        last = self._conn.execute(select(t.c.last).where(where)).scalar_one()
        return f"{country}-{year}-{last:06d}"

    def add(self, case: Case, person: dict[str, str] | None, at: datetime) -> None:
        result = self._conn.execute(
            insert(tables.cases).values(
                ref=case.ref,
                protocol_id=case.protocol_id,
                protocol_version=case.protocol_version,
                protocol_hash=case.protocol_hash,
                country=case.country,
                jurisdiction=str(case.attributes.get("jurisdiction", case.country)),
                attributes=case.attributes,
                opened_at=case.opened_at,
                version=case.version,
            )
        )
        case.id = CaseId(_pk(result))
        if person:
            self._conn.execute(
                insert(tables.persons).values(
                    case_id=case.id, updated_at=at, **self._seal(case.id, person)
                )
            )

    def _seal(self, case_id: int, person: dict[str, str]) -> dict[str, Any]:
        self._vault.remember(person.values())
        return sealed_person(self._vault, case_id, person)

    def get(self, ref: str) -> Case:
        c = tables.cases
        row = self._conn.execute(select(c).where(c.c.ref == ref)).first()
        if row is None:
            raise UnknownCase(
                f"No case with reference {ref!r}; a reference reads like CO-2026-000123 "
                "(the case list finds cases by the start of their reference)."
            )
        cid = CaseId(row.id)
        case = Case(
            ref=row.ref,
            protocol_id=row.protocol_id,
            protocol_version=row.protocol_version,
            protocol_hash=row.protocol_hash,
            country=row.country,
            attributes=dict(row.attributes),
            opened_at=row.opened_at,
            version=row.version,
            id=cid,
            closed_at=row.closed_at,
            lead_institution=row.lead_institution,
        )
        for r in self._rows(tables.tracks, cid):
            case.tracks[r.track] = TrackState(r.track, r.state, r.opened_at, r.entered_at)
        for r in self._rows(tables.tasks, cid, tables.tasks.c.id):
            case.tasks.append(
                Task(
                    track=r.track,
                    state=r.state,
                    key=r.task_key,
                    role=r.role,
                    institution=r.institution,
                    status=r.status,
                    due_at=r.due_at,
                    created_at=r.created_at,
                    updated_at=r.updated_at,
                    next_action_at=r.next_action_at,
                    id=TaskId(r.id),
                    overdue_at=r.overdue_at,
                    held_at=r.held_at,
                    status_before_hold=r.status_before_hold,
                    extensions=r.extensions,
                    outcome=dict(r.outcome),
                    owner=r.owner,
                    reason=r.reason,
                    note=self._open_note(cid, r.note),
                    routing=r.routing,
                    handoff=dict(r.handoff) if r.handoff is not None else None,
                    ladder_step=r.ladder_step,
                )
            )
        for r in self._rows(tables.deadlines, cid, tables.deadlines.c.id):
            case.deadlines.append(
                Deadline(
                    track=r.track,
                    state=r.state,
                    due_at=r.due_at,
                    started_at=r.started_at,
                    status=r.status,
                    next_action_at=r.next_action_at,
                    id=r.id,
                    extensions=r.extensions,
                )
            )
        for r in self._rows(tables.consents, cid, tables.consents.c.id):
            case.consents.append(ConsentRecord(r.purpose, r.role, r.given, r.at, r.legal_basis))
        for r in self._rows(tables.approvals, cid, tables.approvals.c.id):
            case.approvals.append(Approval(r.name, r.role, r.at))
        for r in self._rows(tables.case_links, cid, tables.case_links.c.id):
            case.links.append(CaseLink(r.kind, r.linked_ref, r.task_id, r.at))
        return case

    def events(self, case: Case) -> list[Event]:
        e = tables.events
        query = (
            select(e.c.kind, e.c.at, e.c.actor, e.c.data, e.c.track)
            .where(e.c.case_id == case.id)
            .order_by(e.c.id)
        )
        return [
            Event(EventKind(r.kind), r.at, r.actor, dict(r.data or {}), r.track)
            for r in self._conn.execute(query)
        ]

    def person(self, case: Case) -> dict[str, str]:
        """The protected person record of a case (empty when none was recorded)."""
        p = tables.persons
        row = self._conn.execute(
            select(p.c.payload, p.c.key_id).where(p.c.case_id == case.id)
        ).first()
        if row is None:
            return {}
        person = dict(json.loads(self._vault.open(row.payload, f"persons:{case.id}")))
        self._vault.remember(person.values())
        return person

    def has_person(self, case: Case) -> bool:
        p = tables.persons
        query = select(p.c.case_id).where(p.c.case_id == case.id)
        return self._conn.execute(query).first() is not None

    def with_document(self, number: str) -> list[str]:
        """References of the cases whose person has this document number (by blind index)."""
        p, c = tables.persons, tables.cases
        hashes = self._vault.lookups(number, "document_number")
        query = (
            select(c.c.ref).join(p, p.c.case_id == c.c.id).where(p.c.doc_index.in_(hashes))
        ).order_by(c.c.opened_at.desc())
        return list(self._conn.execute(query).scalars())

    def holding_personal_data(self, closed_by: datetime) -> list[Retained]:
        c, p, t = tables.cases, tables.persons, tables.tasks
        holds = exists().where(p.c.case_id == c.c.id) | exists().where(
            t.c.case_id == c.c.id, t.c.note.is_not(None)
        )
        query = (
            select(c.c.ref, c.c.protocol_hash, c.c.closed_at)
            .where(c.c.closed_at.is_not(None), c.c.closed_at <= closed_by, holds)
            .order_by(c.c.closed_at)
        )
        return [Retained(r.ref, r.protocol_hash, r.closed_at) for r in self._conn.execute(query)]

    def forget_person(self, case: Case) -> tuple[list[str], int]:
        p, t = tables.persons, tables.tasks
        fields = sorted(self.person(case))
        self._conn.execute(delete(p).where(p.c.case_id == case.id))
        notes = self._conn.execute(
            update(t).where(t.c.case_id == case.id, t.c.note.is_not(None)).values(note=None)
        ).rowcount
        for task in case.tasks:
            task.note = None
        return fields, notes

    def task_notice(self, task_id: int) -> TaskNotice | None:
        t = tables.tasks
        row = self._conn.execute(
            select(t.c.due_at, t.c.reason, t.c.handoff).where(t.c.id == task_id)
        ).first()
        return TaskNotice(row.due_at, row.reason, row.handoff) if row is not None else None

    def _rows(self, table: Any, case_id: int, order: Any = None) -> list[Any]:
        key = (table.name, order is not None)
        query = _ROWS.get(key)
        if query is None:  # built once per table: a case load runs six of these
            query = select(table).where(table.c.case_id == bindparam("_case_id"))
            if order is not None:
                query = query.order_by(order)
            query = _ROWS.setdefault(key, query)
        return list(self._conn.execute(query, {"_case_id": case_id}))

    def lock(self, ref: str) -> bool:
        """Take the case's row lock for this transaction unless another worker holds it.

        PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two sweepers never work on the same case at
        once. SQLite has one writer at a time and ignores it (the version check still holds).
        """
        c = tables.cases
        query = select(c.c.id).where(c.c.ref == ref).with_for_update(skip_locked=True)
        return self._conn.execute(query).first() is not None

    def claim(self, case: Case) -> None:
        c = tables.cases
        # compare-and-set: a concurrent writer of the same case loses loudly
        changed = self._conn.execute(
            update(c)
            .where(c.c.id == case.id, c.c.version == case.version)
            .values(version=c.c.version + 1)
        ).rowcount
        if changed != 1:
            current = self._conn.execute(select(c.c.version).where(c.c.id == case.id)).scalar()
            raise ConcurrentChange(case.ref, case.version, current)
        case.version += 1

    def save(self, case: Case) -> None:
        if case.id is None:
            raise UnknownCase(f"Case {case.ref} was never added; add() it before save().")
        conn, cid = self._conn, case.id
        values: dict[str, Any] = {}
        if case.attributes_dirty:
            values["attributes"] = case.attributes
            values["jurisdiction"] = str(case.attributes.get("jurisdiction", case.country))
        if case.lead_dirty:
            values["lead_institution"] = case.lead_institution
        if case.closed_at is not None:
            values["closed_at"] = case.closed_at
        if values:
            conn.execute(update(tables.cases).where(tables.cases.c.id == cid).values(**values))
        for tr in case.tracks.values():
            row = dict(state=tr.state, opened_at=tr.opened_at, entered_at=tr.entered_at)
            if tr.is_new:
                conn.execute(insert(tables.tracks).values(case_id=cid, track=tr.name, **row))
            elif tr.dirty:
                t = tables.tracks
                conn.execute(
                    update(t).where(t.c.case_id == cid, t.c.track == tr.name).values(**row)
                )
            tr.is_new = tr.dirty = False
        completed = [t for t in case.tasks if self._save_task(cid, t) and t.status == "completed"]
        for d in case.deadlines:
            self._save_deadline(cid, d)
        for rec in case.new_consents:
            conn.execute(
                insert(tables.consents).values(
                    case_id=cid,
                    purpose=rec.purpose,
                    role=rec.role,
                    given=rec.given,
                    legal_basis=rec.legal_basis,
                    at=rec.at,
                )
            )
        for link in case.new_links:
            conn.execute(
                insert(tables.case_links).values(
                    case_id=cid,
                    kind=link.kind,
                    linked_ref=link.ref,
                    task_id=link.task_id,
                    at=link.at,
                )
            )
        for ap in case.new_approvals:
            conn.execute(
                insert(tables.approvals).values(case_id=cid, name=ap.name, role=ap.role, at=ap.at)
            )
        facts.record(conn, case, completed)  # before the new events are cleared
        if case.new_events:
            append_events(
                conn,
                [
                    dict(
                        case_id=cid, at=e.at, actor=e.actor, kind=e.kind, track=e.track, data=e.data
                    )
                    for e in case.new_events
                ],
            )
        if case.new_notifications:
            conn.execute(
                insert(tables.outbox),
                [
                    dict(
                        case_id=cid,
                        template=n.template,
                        role=n.role,
                        institution=n.institution,
                        task_key=n.task_key,
                        task_id=n.task.id if n.task is not None else None,
                        level=n.level,
                        status="pending",
                        created_at=n.at,
                        next_attempt_at=n.at,
                    )
                    for n in case.new_notifications
                ],
            )
        case.new_consents.clear()
        case.new_approvals.clear()
        case.new_links.clear()
        case.new_events.clear()
        case.new_notifications.clear()
        case.attributes_dirty = case.lead_dirty = False

    def _save_task(self, cid: int, task: Task) -> bool:
        """Write the task if it is new or changed; say whether it was written."""
        if task.id is not None and not task.dirty:
            return False  # unchanged: nothing to write (and no note to re-seal)
        row = dict(
            track=task.track,
            state=task.state,
            task_key=task.key,
            role=task.role,
            institution=task.institution,
            status=task.status,
            due_at=task.due_at,
            next_action_at=task.next_action_at,
            created_at=task.created_at,
            updated_at=task.updated_at,
            overdue_at=task.overdue_at,
            held_at=task.held_at,
            status_before_hold=task.status_before_hold,
            extensions=task.extensions,
            outcome=task.outcome,
            owner=task.owner,
            reason=task.reason,
            note=self._seal_note(cid, task.note),
            routing=task.routing,
            handoff=task.handoff,
            ladder_step=task.ladder_step,
        )
        if task.id is None:
            result = self._conn.execute(_INSERT_TASK, {"case_id": cid, **row})
            task.id = TaskId(_pk(result))
        else:
            self._conn.execute(_UPDATE_TASK, {"_id": task.id, **row})
        task.dirty = False
        return True

    def _seal_note(self, case_id: int, note: str | None) -> str | None:
        if not note:
            return note
        self._vault.remember([note])
        return self._vault.seal(note, f"tasks.note:{case_id}")

    def _open_note(self, case_id: int, sealed: str | None) -> str | None:
        return self._vault.open(sealed, f"tasks.note:{case_id}") if sealed else sealed

    def _save_deadline(self, cid: int, d: Deadline) -> None:
        row = dict(
            track=d.track,
            state=d.state,
            due_at=d.due_at,
            started_at=d.started_at,
            status=d.status,
            next_action_at=d.next_action_at,
            extensions=d.extensions,
        )
        if d.id is None:
            result = self._conn.execute(insert(tables.deadlines).values(case_id=cid, **row))
            d.id = _pk(result)
        elif d.dirty:
            self._conn.execute(
                update(tables.deadlines).where(tables.deadlines.c.id == d.id).values(**row)
            )
        d.dirty = False

    def queued_notifications(self, case: Case) -> list[dict[str, Any]]:
        o = tables.outbox
        query = (
            select(o.c.template, o.c.role, o.c.institution, o.c.task_key, o.c.level)
            .where(o.c.case_id == case.id)
            .order_by(o.c.id)
        )
        return [dict(r._mapping) for r in self._conn.execute(query)]

    def due_refs(self, now: datetime, limit: int) -> list[str]:
        t, d, c = tables.tasks, tables.deadlines, tables.cases
        due = union(
            select(t.c.case_id).where(t.c.next_action_at <= now),
            select(d.c.case_id).where(d.c.next_action_at <= now),
        ).subquery()
        query = select(c.c.ref).where(c.c.id.in_(select(due.c.case_id))).order_by(c.c.id)
        return list(self._conn.execute(query.limit(limit)).scalars())


def _pk(result: CursorResult[Any]) -> int:
    """The primary key an INSERT of one row returned."""
    (key,) = result.inserted_primary_key or (0,)
    return int(key)

"""The case repository on SQL: load cases in three selects, compare-and-set a case's
version, write only what changed: tasks (their notes sealed), events appended to the hash
chain, messages to the outbox and the compliance read model, all in the caller's
transaction. The person record is `persons.py`'s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    Boolean,
    Connection,
    CursorResult,
    Integer,
    String,
    bindparam,
    cast,
    insert,
    literal,
    null,
    select,
    union,
    union_all,
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
from workflows.domain.errors import ConcurrentChange, UnclaimedChange, UnknownCase
from workflows.domain.events import EventKind
from workflows.domain.ports import TaskNotice
from workflows.store import facts, tables
from workflows.store.audit import ChainWriter
from workflows.store.persons import SqlPersons
from workflows.store.vault import Vault

# Statements built once: building a statement and its cache key per call cost a fifth of a
# fire (benchmarks/README.md). Cases load in three selects, one case or fifty alike (every
# select is a round trip to PostgreSQL): the cases with their tracks; their tasks; and their
# deadlines, consents, approvals and links, the small rows, in one UNION.
_C, _TR, _T, _D = tables.cases, tables.tracks, tables.tasks, tables.deadlines
_CN, _AP, _LK = tables.consents, tables.approvals, tables.case_links
_CASES_WITH_TRACKS = (
    select(_C, _TR.c.track, _TR.c.state, _TR.c.opened_at.label("track_opened_at"),
           _TR.c.entered_at)
    .outerjoin(_TR, _TR.c.case_id == _C.c.id)
    .where(_C.c.ref.in_(bindparam("refs", expanding=True)))
)  # fmt: skip
# PostgreSQL: lock the case rows and skip those another transaction holds (SQLite, with one
# writer at a time, ignores it and the version check still holds)
_TAKE = (
    select(_C.c.ref)
    .where(_C.c.ref.in_(bindparam("refs", expanding=True)))
    .with_for_update(skip_locked=True)
)
_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_TASKS = select(_T).where(_T.c.case_id.in_(_IDS)).order_by(_T.c.id)
# The small rows share columns: a, b, c (text), flag, n (a number), d1..d3 (UTC times); the
# deadline comes first, so its columns type the UNION's, and the NULLs are typed for
# PostgreSQL, which types a UNION column from its branches.
_NO_TEXT, _NO_FLAG, _NO_N = cast(null(), String), cast(null(), Boolean), cast(null(), Integer)
_NO_TIME = cast(null(), _D.c.due_at.type)
_SMALL_ROWS = union_all(
    select(literal("deadline").label("kind"), _D.c.case_id, _D.c.id, _D.c.track.label("a"),
           _D.c.state.label("b"), _D.c.status.label("c"), _NO_FLAG.label("flag"),
           _D.c.extensions.label("n"), _D.c.due_at.label("d1"), _D.c.started_at.label("d2"),
           _D.c.next_action_at.label("d3"))
    .where(_D.c.case_id.in_(_IDS)),
    select(literal("consent"), _CN.c.case_id, _CN.c.id, _CN.c.purpose, _CN.c.role,
           _CN.c.legal_basis, _CN.c.given, _NO_N, _CN.c.at, _NO_TIME, _NO_TIME)
    .where(_CN.c.case_id.in_(_IDS)),
    select(literal("approval"), _AP.c.case_id, _AP.c.id, _AP.c.name, _AP.c.role, _NO_TEXT,
           _NO_FLAG, _NO_N, _AP.c.at, _NO_TIME, _NO_TIME)
    .where(_AP.c.case_id.in_(_IDS)),
    select(literal("link"), _LK.c.case_id, _LK.c.id, _LK.c.kind, _LK.c.linked_ref, _NO_TEXT,
           _NO_FLAG, _LK.c.task_id, _LK.c.at, _NO_TIME, _NO_TIME)
    .where(_LK.c.case_id.in_(_IDS)),
).order_by("kind", "id")  # fmt: skip
_CLAIM = (
    update(_C)
    .where(_C.c.id == bindparam("_id"), _C.c.version == bindparam("_version"))
    .values(version=_C.c.version + 1)
)
_VERSION = select(_C.c.version).where(_C.c.id == bindparam("_id"))
_TASK_COLUMNS = [c.name for c in _T.columns if c.name not in ("id", "case_id")]
_INSERT_TASKS = insert(_T).returning(_T.c.id, sort_by_parameter_order=True)
_UPDATE_TASK = (
    update(_T)
    .where(_T.c.id == bindparam("_id"))
    .values({name: bindparam(name) for name in _TASK_COLUMNS})
)
_INSERT_TRACKS = insert(_TR)
_UPDATE_TRACK = (
    update(_TR)
    .where(_TR.c.case_id == bindparam("_case_id"), _TR.c.track == bindparam("_track"))
    .values(state=bindparam("state"), entered_at=bindparam("entered_at"))
)
_DEADLINE_COLUMNS = [c.name for c in _D.columns if c.name not in ("id", "case_id")]
_INSERT_DEADLINES = insert(_D).returning(_D.c.id, sort_by_parameter_order=True)
_UPDATE_DEADLINE = (
    update(_D)
    .where(_D.c.id == bindparam("_id"))
    .values({name: bindparam(name) for name in _DEADLINE_COLUMNS})
)
_INSERT_OUTBOX = insert(tables.outbox)


class SqlCaseRepository(SqlPersons):
    def __init__(self, conn: Connection, vault: Vault, chain: ChainWriter) -> None:
        super().__init__(conn, vault)
        self._chain = chain  # the unit of work's: it writes the chain's head on commit
        self._claimed: set[int] = set()  # cases added or claimed in this transaction

    def settled(self) -> None:
        """The transaction ended (commit or rollback): its claims are gone with its locks."""
        self._claimed.clear()

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
                jurisdiction=case.jurisdiction,
                attributes=case.attributes,
                opened_at=case.opened_at,
                version=case.version,
            )
        )
        case.id = CaseId(_pk(result))
        self._claimed.add(case.id)
        if person:
            self._conn.execute(
                insert(tables.persons).values(
                    case_id=case.id, updated_at=at, **self._seal(case.id, person)
                )
            )

    def get(self, ref: str) -> Case:
        found = self._load(_CASES_WITH_TRACKS, [ref])
        if not found:
            raise UnknownCase(
                f"No case with reference {ref!r}; a reference reads like CO-2026-000123 "
                "(the case list finds cases by the start of their reference)."
            )
        return found[0]

    def take(self, refs: list[str]) -> list[Case]:
        # lock first, then read: rows locked by a statement that also read the tracks could
        # come back newer than the tracks read with them (PostgreSQL's snapshot), so the
        # cases are read only once their locks are held
        held = list(self._conn.execute(_TAKE, {"refs": refs}).scalars())
        return self._load(_CASES_WITH_TRACKS, held) if held else []

    def _load(self, first: Any, refs: list[str]) -> list[Case]:
        """The cases of `refs` that `first` (plain, or locking) finds, in the order given."""
        loaded: dict[int, Case] = {}
        for r in self._conn.execute(first, {"refs": refs}):
            case = loaded.get(r.id)
            if case is None:
                case = loaded[r.id] = Case(
                    ref=r.ref,
                    protocol_id=r.protocol_id,
                    protocol_version=r.protocol_version,
                    protocol_hash=r.protocol_hash,
                    country=r.country,
                    attributes=dict(r.attributes),
                    opened_at=r.opened_at,
                    version=r.version,
                    id=CaseId(r.id),
                    closed_at=r.closed_at,
                    lead_institution=r.lead_institution,
                )
            if r.track is not None:
                case.tracks[r.track] = TrackState(r.track, r.state, r.track_opened_at, r.entered_at)
        if not loaded:
            return []
        ids = {"ids": list(loaded)}
        for r in self._conn.execute(_TASKS, ids):
            loaded[r.case_id].tasks.append(
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
                    note=self._open_note(r.case_id, r.note),
                    routing=r.routing,
                    handoff=dict(r.handoff) if r.handoff is not None else None,
                    ladder_step=r.ladder_step,
                )
            )
        for r in self._conn.execute(_SMALL_ROWS, ids):
            case = loaded[r.case_id]
            if r.kind == "deadline":
                case.deadlines.append(Deadline(r.a, r.b, r.d1, r.d2, r.c, r.d3, r.id, r.n))
            elif r.kind == "consent":
                case.consents.append(ConsentRecord(r.a, r.b, bool(r.flag), r.d1, r.c))
            elif r.kind == "approval":
                case.approvals.append(Approval(r.a, r.b, r.d1))
            else:
                case.links.append(CaseLink(r.a, r.b, r.n, r.d1))
        by_ref = {case.ref: case for case in loaded.values()}
        return [by_ref[ref] for ref in refs if ref in by_ref]

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

    def task_notice(self, task_id: int) -> TaskNotice | None:
        t = tables.tasks
        row = self._conn.execute(
            select(t.c.due_at, t.c.reason, t.c.handoff).where(t.c.id == task_id)
        ).first()
        return TaskNotice(row.due_at, row.reason, row.handoff) if row is not None else None

    def claim(self, case: Case) -> None:
        # compare-and-set: a concurrent writer of the same case loses loudly
        changed = self._conn.execute(_CLAIM, {"_id": case.id, "_version": case.version}).rowcount
        if changed != 1:
            current = self._conn.execute(_VERSION, {"_id": case.id}).scalar()
            raise ConcurrentChange(case.ref, case.version, current)
        case.version += 1
        self._claimed.add(case.id or 0)

    def save(self, case: Case) -> None:
        if case.id is None:
            raise UnknownCase(f"Case {case.ref} was never added; add() it before save().")
        if case.id not in self._claimed and case.changed():
            raise UnclaimedChange(case.ref)
        conn, cid = self._conn, case.id
        values: dict[str, Any] = {}
        if case.attributes_dirty:
            values["attributes"] = case.attributes
            values["jurisdiction"] = case.jurisdiction
        if case.lead_dirty:
            values["lead_institution"] = case.lead_institution
        if case.closed_at is not None:
            values["closed_at"] = case.closed_at
        if values:
            conn.execute(update(_C).where(_C.c.id == cid).values(**values))
        self._save_tracks(cid, case)
        completed = self._save_tasks(cid, case.tasks)
        self._save_deadlines(cid, case.deadlines)
        for table, rows in (
            (_CN, [dict(case_id=cid, purpose=r.purpose, role=r.role, given=r.given,
                        legal_basis=r.legal_basis, at=r.at) for r in case.new_consents]),
            (_LK, [dict(case_id=cid, kind=x.kind, linked_ref=x.ref, task_id=x.task_id, at=x.at)
                   for x in case.new_links]),
            (_AP, [dict(case_id=cid, name=a.name, role=a.role, at=a.at)
                   for a in case.new_approvals]),
        ):  # fmt: skip
            if rows:
                conn.execute(insert(table), rows)
        facts.record(conn, case, completed)  # before the new events are cleared
        if case.new_events:
            self._chain.append(
                [
                    dict(case_id=cid, at=e.at, actor=e.actor, kind=str(e.kind), track=e.track,
                         data=e.data)
                    for e in case.new_events
                ],
            )  # fmt: skip
        if case.new_notifications:
            conn.execute(
                _INSERT_OUTBOX,
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

    def _save_tracks(self, cid: int, case: Case) -> None:
        new = [t for t in case.tracks.values() if t.is_new]
        changed = [t for t in case.tracks.values() if t.dirty and not t.is_new]
        if new:
            self._conn.execute(
                _INSERT_TRACKS,
                [dict(case_id=cid, track=t.name, state=t.state, opened_at=t.opened_at,
                      entered_at=t.entered_at) for t in new],
            )  # fmt: skip
        if changed:
            self._conn.execute(
                _UPDATE_TRACK,
                [dict(_case_id=cid, _track=t.name, state=t.state, entered_at=t.entered_at)
                 for t in changed],
            )  # fmt: skip
        for t in case.tracks.values():
            t.is_new = t.dirty = False

    def _save_tasks(self, cid: int, tasks: list[Task]) -> list[Task]:
        """Write the new and changed tasks (unchanged ones are not written, and their notes
        not sealed again); return those written as completed."""
        new = [t for t in tasks if t.id is None]
        changed = [t for t in tasks if t.id is not None and t.dirty]
        if new:
            ids = self._conn.execute(
                _INSERT_TASKS, [{"case_id": cid, **self._task_row(cid, t)} for t in new]
            ).scalars()
            for task, task_id in zip(new, ids, strict=True):
                task.id = TaskId(task_id)
        if changed:
            self._conn.execute(
                _UPDATE_TASK, [{"_id": t.id, **self._task_row(cid, t)} for t in changed]
            )
        for task in (*new, *changed):
            task.dirty = False
        return [t for t in (*changed, *new) if t.status == "completed"]

    def _task_row(self, cid: int, task: Task) -> dict[str, Any]:
        return dict(
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

    def _save_deadlines(self, cid: int, deadlines: list[Deadline]) -> None:
        new = [d for d in deadlines if d.id is None]
        changed = [d for d in deadlines if d.id is not None and d.dirty]

        def row(d: Deadline) -> dict[str, Any]:
            return {name: getattr(d, name) for name in _DEADLINE_COLUMNS}

        if new:
            ids = self._conn.execute(
                _INSERT_DEADLINES, [{"case_id": cid, **row(d)} for d in new]
            ).scalars()
            for deadline, deadline_id in zip(new, ids, strict=True):
                deadline.id = deadline_id
        if changed:
            self._conn.execute(_UPDATE_DEADLINE, [{"_id": d.id, **row(d)} for d in changed])
        for d in (*new, *changed):
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

"""The ports held in memory: a unit of work, cases, protocols, inbox, outbox and directory.

For the engine and use-case tests (milliseconds, no database) and anything else that wants
Ruta without SQL. `tests/contract/` runs one suite against these and the SQL adapters on
SQLite and PostgreSQL, so they behave alike where the ports say so:

- A unit of work reads its own writes and commits all or nothing: until `commit()` its
  changes live in the unit of work, and leaving the `with` block without committing drops
  them (ids already handed out stay used, as database sequences do).
- `claim` is a compare-and-set that also holds the case, like a row lock, until the unit
  of work ends: a second claim of a case held elsewhere loses with ConcurrentChange, and
  `lock` says False. A save without a claim (reading personal data, the retention purge)
  adds events and forgets data but never rewrites the case.
- Claiming outbox messages skips those another open unit of work holds (SKIP LOCKED).

Not kept here: the hash chain of the event log, the compliance read model and sealing
(person records are held as given): those are SQL's (workflows/store/audit.py, facts.py,
vault.py) and are tested on the databases.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from institutions.directory import InMemoryDirectory
from institutions.domain import Institution, User
from protocols.errors import UnknownProtocol
from protocols.loader import LoadedProtocol
from workflows.domain.attributes import normalise_document
from workflows.domain.case import OPEN_TASK_STATUSES, Case, CaseId, Event, Task, TaskId
from workflows.domain.errors import ConcurrentChange, NotInTransaction, UnknownCase
from workflows.domain.ports import (
    ComplianceCounts,
    InboxRow,
    Outbox,
    OutboxRow,
    PinnedVersion,
    Retained,
    TaskNotice,
)


@dataclass(slots=True)
class Message:
    """An outbox row."""

    id: int
    case_id: int
    template: str
    role: str
    institution: str
    task_key: str | None
    task_id: int | None
    level: int | None
    created_at: datetime
    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    provider_id: str | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    case_id: int
    event: Event


@dataclass(slots=True)
class MemoryData:
    """What the in-memory adapters have committed, shared by every unit of work on it."""

    directory: InMemoryDirectory = field(default_factory=lambda: InMemoryDirectory([]))
    cases: dict[str, Case] = field(default_factory=dict)
    persons: dict[int, dict[str, str]] = field(default_factory=dict)
    counters: dict[tuple[str, int], int] = field(default_factory=dict)
    pinned: dict[str, tuple[LoadedProtocol, datetime]] = field(default_factory=dict)
    outbox: dict[int, Message] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    snapshots: list[tuple[datetime, ComplianceCounts]] = field(default_factory=list)
    held: dict[str, int] = field(default_factory=dict)  # case ref -> unit of work holding it
    held_messages: dict[int, int] = field(default_factory=dict)  # outbox id -> unit of work
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self) -> int:
        return next(self.ids)


def _fresh(case: Case) -> Case:
    """A caller's own copy of a stored case, with nothing pending."""
    out = copy.deepcopy(case)
    out.new_events, out.new_notifications = [], []
    out.new_consents, out.new_approvals, out.new_links = [], [], []
    out.attributes_dirty = out.lead_dirty = False
    for track in out.tracks.values():
        track.is_new = track.dirty = False
    for task in out.tasks:
        task.dirty = False
    for deadline in out.deadlines:
        deadline.dirty = False
    return out


class _Work:
    """One unit of work's pending changes, and its view: committed data overlaid with them."""

    def __init__(self, data: MemoryData, token: int) -> None:
        self.data, self.token = data, token
        self.reset()

    def reset(self) -> None:
        """Nothing pending: a new transaction on the same unit of work."""
        data = self.data
        self.cases: dict[str, Case] = {}  # added or claimed here: written whole on commit
        self.persons: dict[int, dict[str, str] | None] = {}
        self.counters: dict[tuple[str, int], int] = {}
        self.pinned: dict[str, tuple[LoadedProtocol, datetime]] = {}
        self.messages: dict[int, Message] = {}
        self.events: list[StoredEvent] = []
        self.snapshots: list[tuple[datetime, ComplianceCounts]] = []
        self.notes_forgotten: dict[str, set[int]] = {}
        self.directory = copy.deepcopy(data.directory)
        self.directory_changed = False

    def case(self, ref: str) -> Case | None:
        return self.cases.get(ref) or self.data.cases.get(ref)

    def all_cases(self) -> list[Case]:
        merged = {**self.data.cases, **self.cases}
        return sorted(merged.values(), key=lambda c: c.id or 0)

    def person(self, case_id: int) -> dict[str, str] | None:
        if case_id in self.persons:
            return self.persons[case_id]
        return self.data.persons.get(case_id)

    def message(self, message_id: int) -> Message:
        return self.messages.get(message_id) or self.data.outbox[message_id]

    def all_messages(self) -> list[Message]:
        merged = {**self.data.outbox, **self.messages}
        return [merged[k] for k in sorted(merged)]

    def commit(self) -> None:
        d = self.data
        for key, last in self.counters.items():
            d.counters[key] = max(d.counters.get(key, 0), last)
        d.pinned.update(self.pinned)
        for ref, case in self.cases.items():
            d.cases[ref] = case
        for ref, forgotten in self.notes_forgotten.items():
            stored = d.cases.get(ref)
            for task in stored.tasks if stored is not None else []:
                if task.id in forgotten:
                    task.note = None
        for case_id, person in self.persons.items():
            if person is None:
                d.persons.pop(case_id, None)
            else:
                d.persons[case_id] = person
        d.outbox.update(self.messages)
        d.events.extend(self.events)
        d.snapshots.extend(self.snapshots)
        if self.directory_changed:
            d.directory = self.directory
        self.release()  # as a commit releases row locks
        self.reset()

    def release(self) -> None:
        held, messages = self.data.held, self.data.held_messages
        for ref in [k for k, token in held.items() if token == self.token]:
            del held[ref]
        for message_id in [k for k, token in messages.items() if token == self.token]:
            del messages[message_id]


class InMemoryCaseRepository:
    def __init__(self, work: _Work) -> None:
        self._w = work

    def next_ref(self, country: str, year: int) -> str:
        key = (country, year)
        last = self._w.counters.get(key, self._w.data.counters.get(key, 0)) + 1
        self._w.counters[key] = last
        return f"{country}-{year}-{last:06d}"

    def add(self, case: Case, person: dict[str, str] | None, at: datetime) -> None:
        case.id = CaseId(self._w.data.next_id())
        self._w.cases[case.ref] = _fresh(case)
        if person:
            self._w.persons[case.id] = dict(person)

    def get(self, ref: str) -> Case:
        found = self._w.case(ref)
        if found is None:
            raise UnknownCase(
                f"No case with reference {ref!r}; a reference reads like CO-2026-000123 "
                "(the case list finds cases by the start of their reference)."
            )
        return _fresh(found)

    def take(self, refs: list[str]) -> list[Case]:
        return [self.get(ref) for ref in refs if self._w.case(ref) and self._hold(ref)]

    def _hold(self, ref: str) -> bool:
        holder = self._w.data.held.get(ref)
        if holder is not None and holder != self._w.token:
            return False
        self._w.data.held[ref] = self._w.token
        return True

    def claim(self, case: Case) -> None:
        stored = self._w.case(case.ref)
        current = stored.version if stored is not None else None
        if current != case.version or not self._hold(case.ref):
            raise ConcurrentChange(case.ref, case.version, current)
        case.version += 1
        self._w.cases[case.ref] = _fresh(case)

    def save(self, case: Case) -> None:
        if case.id is None:
            raise UnknownCase(f"Case {case.ref} was never added; add() it before save().")
        for task in case.tasks:
            if task.id is None:
                task.id = TaskId(self._w.data.next_id())
        for deadline in case.deadlines:
            if deadline.id is None:
                deadline.id = self._w.data.next_id()
        for event in case.new_events:
            self._w.events.append(StoredEvent(self._w.data.next_id(), case.id, event))
        for n in case.new_notifications:
            message_id = self._w.data.next_id()
            self._w.messages[message_id] = Message(
                message_id,
                case.id,
                n.template,
                n.role,
                n.institution,
                n.task_key,
                n.task.id if n.task is not None else None,
                n.level,
                created_at=n.at,
                next_attempt_at=n.at,
            )
        # added or claimed here, the whole case is this unit of work's to write; saved without
        # a claim (an event about reading personal data), only its events are
        if case.ref in self._w.cases:
            self._w.cases[case.ref] = _fresh(case)
        settled = _fresh(case)
        case.new_events, case.new_notifications = [], []
        case.new_consents, case.new_approvals, case.new_links = [], [], []
        case.attributes_dirty = case.lead_dirty = False
        for name, track in case.tracks.items():
            track.is_new, track.dirty = settled.tracks[name].is_new, False
        for task in case.tasks:
            task.dirty = False
        for deadline in case.deadlines:
            deadline.dirty = False

    def events(self, case: Case) -> list[Event]:
        stored = [*self._w.data.events, *self._w.events]
        return [copy.deepcopy(e.event) for e in stored if e.case_id == case.id]

    def person(self, case: Case) -> dict[str, str]:
        found = self._w.person(case.id or 0)
        return dict(found) if found else {}

    def has_person(self, case: Case) -> bool:
        return self._w.person(case.id or 0) is not None

    def with_document(self, number: str) -> list[str]:
        wanted = normalise_document(number)
        found = [
            c
            for c in self._w.all_cases()
            if wanted
            and wanted
            == normalise_document((self._w.person(c.id or 0) or {}).get("document_number", ""))
        ]
        return [c.ref for c in sorted(found, key=lambda c: c.opened_at, reverse=True)]

    def holding_personal_data(self, closed_by: datetime) -> list[Retained]:
        held = [
            c
            for c in self._w.all_cases()
            if c.closed_at is not None
            and c.closed_at <= closed_by
            and (self._w.person(c.id or 0) is not None or any(t.note for t in c.tasks))
        ]
        return [
            Retained(c.ref, c.protocol_hash, c.closed_at)
            for c in sorted(held, key=lambda c: c.closed_at or closed_by)
            if c.closed_at is not None
        ]

    def forget_person(self, case: Case) -> tuple[list[str], int]:
        fields = sorted(self.person(case))
        self._w.persons[case.id or 0] = None
        stored = self._w.case(case.ref)
        noted = {t.id for t in (stored.tasks if stored else []) if t.note and t.id is not None}
        forgotten = self._w.notes_forgotten.setdefault(case.ref, set())
        forgotten |= {i for i in noted if i is not None}
        if case.ref in self._w.cases:
            for task in self._w.cases[case.ref].tasks:
                task.note = None
        for task in case.tasks:
            task.note = None
        return fields, len(noted)

    def task_notice(self, task_id: int) -> TaskNotice | None:
        task = _task(self._w.all_cases(), task_id)
        return TaskNotice(task.due_at, task.reason, task.handoff) if task else None

    def queued_notifications(self, case: Case) -> list[dict[str, Any]]:
        return [
            {"template": m.template, "role": m.role, "institution": m.institution,
             "task_key": m.task_key, "level": m.level}
            for m in self._w.all_messages()
            if m.case_id == case.id
        ]  # fmt: skip

    def due_refs(self, now: datetime, limit: int) -> list[str]:
        due = [
            c.ref
            for c in self._w.all_cases()
            if any(t.next_action_at is not None and t.next_action_at <= now for t in c.tasks)
            or any(d.next_action_at is not None and d.next_action_at <= now for d in c.deadlines)
        ]
        return due[:limit]


def _task(cases: Iterable[Case], task_id: int) -> Task | None:
    return next((t for c in cases for t in c.tasks if t.id == task_id), None)


class InMemoryProtocolStore:
    def __init__(self, work: _Work) -> None:
        self._w = work

    def _all(self) -> dict[str, tuple[LoadedProtocol, datetime]]:
        return {**self._w.data.pinned, **self._w.pinned}

    def pin(self, loaded: LoadedProtocol, at: datetime) -> None:
        if loaded.content_hash not in self._all():
            self._w.pinned[loaded.content_hash] = (loaded, at)

    def pinned(self, content_hash: str) -> LoadedProtocol:
        found = self._all().get(content_hash)
        if found is None:
            raise UnknownProtocol(
                f"No stored protocol version with hash {content_hash[:12]}; the store lacks "
                "the definition a case was pinned to."
            )
        return found[0]

    def hashes(self) -> list[str]:
        return [h for h, _ in sorted(self._all().items(), key=lambda item: (item[1][1], item[0]))]

    def versions(self, protocol_id: str) -> list[PinnedVersion]:
        cases = self._w.all_cases()
        found = [
            PinnedVersion(
                loaded.protocol.version,
                content_hash,
                at,
                sum(1 for c in cases if c.protocol_hash == content_hash),
            )
            for content_hash, (loaded, at) in self._all().items()
            if loaded.id == protocol_id
        ]
        return sorted(found, key=lambda v: (v.stored_at, v.version))


class InMemoryInbox:
    def __init__(self, work: _Work) -> None:
        self._w = work

    def _tasks(self, countries: Collection[str] | None = None) -> Iterator[tuple[Case, Task]]:
        for case in self._w.all_cases():
            if countries is None or case.country in countries:
                for task in case.tasks:
                    yield case, task

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
        wanted = set(statuses or OPEN_TASK_STATUSES)
        rows = [
            InboxRow(
                task_id=t.id or 0,
                case_ref=c.ref,
                case_version=c.version,
                country=c.country,
                protocol_hash=c.protocol_hash,
                track=t.track,
                task_key=t.key,
                role=t.role,
                status=t.status,
                due_at=t.due_at,
                overdue=t.overdue_at is not None,
                routing=t.routing,
                owner=t.owner,
                created_at=t.created_at,
            )
            for c, t in self._tasks()
            if t.institution == institution
            and t.status in wanted
            and (due_before is None or t.due_at <= due_before)
            and country in (None, c.country)
            and case_ref in (None, c.ref)
        ]
        rows.sort(key=lambda r: (r.due_at, r.task_id))
        return rows[offset : offset + limit]

    def compliance(self, countries: Collection[str], now: datetime) -> list[ComplianceCounts]:
        counts: dict[str, list[int]] = {}
        for case, t in self._tasks(countries):
            row = counts.setdefault(case.country, [0] * 7)
            done = t.status == "completed"
            for i, hit in enumerate(
                (
                    t.is_open,
                    t.is_open and t.due_at < now and t.status != "on-hold",
                    done and t.updated_at <= t.due_at,
                    done and t.updated_at > t.due_at,
                    t.status == "rejected",
                    t.status == "cancelled",
                    t.routing == "gap",
                )
            ):
                row[i] += int(hit)
        return [ComplianceCounts(country, *counts[country]) for country in sorted(counts)]

    def routing_gaps(self, countries: Collection[str]) -> list[tuple[str, str, int]]:
        gaps: dict[tuple[str, str], int] = {}
        for case, t in self._tasks(countries):
            if t.routing == "gap":
                gaps[(case.country, t.role)] = gaps.get((case.country, t.role), 0) + 1
        return [(country, role, n) for (country, role), n in sorted(gaps.items())]

    def countries(self) -> list[str]:
        return sorted({c.country for c in self._w.all_cases()})

    def record_snapshot(self, at: datetime, figures: list[ComplianceCounts]) -> None:
        self._w.snapshots.extend((at, f) for f in figures)


class InMemoryOutbox(Outbox):
    def __init__(self, work: _Work) -> None:
        self._w = work

    def claim(self, now: datetime, limit: int, token: str, lease: timedelta) -> list[OutboxRow]:
        held = self._w.data.held_messages
        picked: list[Message] = []
        for m in self._w.all_messages():
            if len(picked) == limit:
                break
            if _due(m, now) and held.get(m.id, self._w.token) == self._w.token:
                held[m.id] = self._w.token
                picked.append(m)
        cases: dict[int, Case] = {c.id or 0: c for c in self._w.all_cases()}
        out = []
        for m in picked:
            claimed = replace(m, status="sending", claim=token, claimed_until=now + lease)
            self._w.messages[m.id] = claimed
            c = cases[m.case_id]
            out.append(
                OutboxRow(
                    m.id, c.ref, c.country, c.protocol_hash, m.template, m.role, m.institution,
                    m.task_key, m.task_id, m.level, m.attempts,
                )
            )  # fmt: skip
        return out

    def finish(self, row_id: int, token: str, **values: Any) -> bool:
        m = self._w.message(row_id)
        if m.claim != token or m.status != "sending":
            return False
        self._w.messages[row_id] = replace(m, claim=None, claimed_until=None, **values)
        return True

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self._w.all_messages():
            counts[m.status] = counts.get(m.status, 0) + 1
        return counts


def _due(m: Message, now: datetime) -> bool:
    """Pending and due, or being sent by a worker whose lease ran out."""
    if m.status == "pending":
        return m.next_attempt_at is None or m.next_attempt_at <= now
    return m.status == "sending" and m.claimed_until is not None and m.claimed_until < now


class _Directory:
    """The directory inside a unit of work: reads see its writes; a commit keeps them."""

    def __init__(self, work: _Work) -> None:
        self._w = work

    def candidates(self, country: str, role: str, jurisdiction: str) -> list[Institution]:
        return self._w.directory.candidates(country, role, jurisdiction)

    def institution(self, institution_id: str) -> Institution | None:
        return self._w.directory.institution(institution_id)

    def institutions(self, country: str | None = None) -> list[Institution]:
        return self._w.directory.institutions(country)

    def user(self, username: str) -> User | None:
        return self._w.directory.user(username)

    def users(self, institution_id: str | None = None) -> list[User]:
        return self._w.directory.users(institution_id)

    def managers(self, country: str) -> list[User]:
        return self._w.directory.managers(country)

    def upsert(self, institutions: Iterable[Institution]) -> int:
        self._w.directory_changed = True
        return self._w.directory.upsert(institutions)

    def save_user(self, user: User, password_hash: str | None = None) -> None:
        self._w.directory_changed = True
        self._w.directory.save_user(user, password_hash)

    def user_by_email(self, email: str) -> User | None:
        return self._w.directory.user_by_email(email)

    def credentials(self, username: str) -> tuple[str | None, int, datetime | None] | None:
        return self._w.directory.credentials(username)

    def record_sign_in(self, username: str, failures: int, locked_until: datetime | None) -> None:
        self._w.directory_changed = True
        self._w.directory.record_sign_in(username, failures, locked_until)

    def set_password(self, username: str, password_hash: str) -> None:
        self._w.directory_changed = True
        self._w.directory.set_password(username, password_hash)


class InMemoryUnitOfWork:
    """The in-memory unit of work; every one made on the same `MemoryData` shares it."""

    _tokens = itertools.count(1)

    def __init__(self, data: MemoryData) -> None:
        self.data = data
        self._work: _Work | None = None

    @property
    def _w(self) -> _Work:
        if self._work is None:
            raise NotInTransaction()
        return self._work

    @property
    def cases(self) -> InMemoryCaseRepository:
        return InMemoryCaseRepository(self._w)

    @property
    def protocols(self) -> InMemoryProtocolStore:
        return InMemoryProtocolStore(self._w)

    @property
    def directory(self) -> _Directory:
        return _Directory(self._w)

    @property
    def accounts(self) -> _Directory:
        return _Directory(self._w)

    @property
    def inbox(self) -> InMemoryInbox:
        return InMemoryInbox(self._w)

    @property
    def outbox(self) -> InMemoryOutbox:
        return InMemoryOutbox(self._w)

    def __enter__(self) -> InMemoryUnitOfWork:
        self._work = _Work(self.data, next(self._tokens))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        work, self._work = self._w, None
        work.release()  # whatever was not committed is dropped with the work

    def commit(self) -> None:
        self._w.commit()

    def rollback(self) -> None:
        work = self._w
        work.release()
        self._work = _Work(self.data, work.token)

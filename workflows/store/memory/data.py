"""What the in-memory ports keep, and one unit of work's pending changes over it."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from institutions.directory import InMemoryDirectory
from protocols.loader import LoadedProtocol
from workflows.domain.case import Case, Event
from workflows.domain.ports import ComplianceCounts


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
    ambiguous_retries: int = 0
    next_attempt_at: datetime | None = None
    claim: str | None = None
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    provider_id: str | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    case_id: int | None  # None: an event of no case (a user account changed)
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


def fresh(case: Case) -> Case:
    """A caller's own copy of a stored case, with nothing pending."""
    out = copy.deepcopy(case)
    settle(out)
    return out


def settle(case: Case) -> None:
    """Nothing pending on the case any more: what a save leaves, as SQL's does."""
    case.new_events, case.new_notifications = [], []
    case.new_consents, case.new_approvals, case.new_links = [], [], []
    case.attributes_dirty = case.lead_dirty = False
    for track in case.tracks.values():
        track.is_new = track.dirty = False
    for task in case.tasks:
        task.dirty = False
    for deadline in case.deadlines:
        deadline.dirty = False


class Work:
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

"""The case repository and the protocol store in memory."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from protocols.errors import UnknownProtocol
from protocols.loader import LoadedProtocol
from workflows.domain.attributes import normalise_document
from workflows.domain.case import Case, CaseId, Event, Task, TaskId
from workflows.domain.errors import ConcurrentChange, UnclaimedChange, UnknownCase
from workflows.domain.ports import PinnedVersion, Retained, TaskNotice
from workflows.store.memory.data import Message, StoredEvent, Work, fresh, settle


class InMemoryCaseRepository:
    def __init__(self, work: Work) -> None:
        self._w = work

    def next_ref(self, country: str, year: int) -> str:
        key = (country, year)
        last = self._w.counters.get(key, self._w.data.counters.get(key, 0)) + 1
        self._w.counters[key] = last
        return f"{country}-{year}-{last:06d}"

    def add(self, case: Case, person: dict[str, str] | None, at: datetime) -> None:
        case.id = CaseId(self._w.data.next_id())
        self._w.cases[case.ref] = fresh(case)
        if person:
            self._w.persons[case.id] = dict(person)

    def get(self, ref: str) -> Case:
        found = self._w.case(ref)
        if found is None:
            raise UnknownCase(
                f"No case with reference {ref!r}; a reference reads like CO-2026-000123 "
                "(the case list finds cases by the start of their reference)."
            )
        return fresh(found)

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
        self._w.cases[case.ref] = fresh(case)

    def save(self, case: Case) -> None:
        if case.id is None:
            raise UnknownCase(f"Case {case.ref} was never added; add() it before save().")
        claimed = case.ref in self._w.cases  # added or claimed in this transaction
        if not claimed and case.changed():
            raise UnclaimedChange(case.ref)
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
        if claimed:
            self._w.cases[case.ref] = fresh(case)
        settle(case)

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
    def __init__(self, work: Work) -> None:
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

"""The inbox, the outbox and the directory in memory."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from institutions.domain import Institution, User
from workflows.domain.case import OPEN_TASK_STATUSES, Case, Event, Task
from workflows.domain.ports import ComplianceCounts, InboxRow, Outbox, OutboxRow
from workflows.store.memory.data import Message, StoredEvent, Work


class InMemoryInbox:
    def __init__(self, work: Work) -> None:
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
    def __init__(self, work: Work) -> None:
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
                    m.task_key, m.task_id, m.level, m.attempts, m.ambiguous_retries,
                )
            )  # fmt: skip
        return out

    def renew(self, row_id: int, token: str, now: datetime, lease: timedelta) -> bool:
        m = self._w.message(row_id)
        if m.claim != token or m.status != "sending" or m.claimed_until is None:
            return False
        if m.claimed_until <= now:
            return False
        self._w.messages[row_id] = replace(m, claimed_until=now + lease)
        return True

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


class MemoryDirectory:
    """The directory inside a unit of work: reads see its writes; a commit keeps them."""

    def __init__(self, work: Work) -> None:
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

    def record_failure(
        self, username: str, now: datetime, lock_after: int, lock_for: timedelta
    ) -> int | None:
        self._w.directory_changed = True
        return self._w.directory.record_failure(username, now, lock_after, lock_for)

    def record_success(self, username: str, now: datetime) -> bool:
        self._w.directory_changed = True
        return self._w.directory.record_success(username, now)

    def set_password(self, username: str, password_hash: str) -> None:
        self._w.directory_changed = True
        self._w.directory.set_password(username, password_hash)


class InMemoryEventLog:
    """Events of no case, kept with the cases' events."""

    def __init__(self, work: Work) -> None:
        self._w = work

    def record(self, event: Event) -> None:
        self._w.events.append(StoredEvent(self._w.data.next_id(), None, event))

    def recorded(self, limit: int = 100) -> list[Event]:
        found = [s.event for s in (*self._w.data.events, *self._w.events) if s.case_id is None]
        return found[-limit:]

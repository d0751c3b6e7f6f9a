"""The ports: what the engine and the use cases ask of the world outside, as protocols.

Each port has a SQL adapter (workflows/store/) and an in-memory one
(workflows/store/memory/); `tests/contract/` runs the same suite against both, so the fake
cannot drift from the database. The rows the ports return are plain records here, with no
personal data; only `CaseRepository.person` returns a person record.

    Services              what every use case gets: a unit of work, a clock, a catalog
    UnitOfWork            one transaction: cases, protocols, directory, inbox, outbox
      ├── CaseRepository    load, claim (compare-and-set), save a case; the person record
      ├── ProtocolStore     the exact protocol versions cases are pinned to
      ├── Directory         institutions and users (institutions/directory.py)
      ├── Accounts          sign-in: password hashes and lockouts (institutions/directory.py)
      ├── Inbox             an institution's tasks and the task counts of a country
      ├── Outbox            messages waiting to be sent, claimed under a lease
      └── EventLog          events of no case (user accounts changed), on the cases' chain
    Clock                 now, in UTC
    Catalog               the published protocol a receiving country runs (handoffs)
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol

from institutions.directory import Accounts, Directory
from protocols.errors import ProtocolFileError
from protocols.loader import LoadedProtocol
from workflows.domain.case import Case, Event

# --- the rows the ports return ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One task in an institution's inbox; no personal data."""

    task_id: int
    case_ref: str
    case_version: int
    country: str
    protocol_hash: str
    track: str
    task_key: str
    role: str
    status: str
    due_at: datetime
    overdue: bool
    routing: str
    owner: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ComplianceCounts:
    """Task counts for one country: what was done on time, late, what is overdue now."""

    country: str
    open: int
    overdue_now: int
    completed_on_time: int
    completed_late: int
    rejected: int
    cancelled: int
    routing_gaps: int

    @property
    def on_time_rate(self) -> float | None:
        done = self.completed_on_time + self.completed_late
        return self.completed_on_time / done if done else None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message claimed for sending: who it is for and what it is about, by reference."""

    id: int
    case_ref: str
    country: str
    protocol_hash: str
    template: str
    role: str
    institution: str
    task_key: str | None
    task_id: int | None
    level: int | None
    attempts: int
    ambiguous_retries: int = 0  # retries after a timeout the provider may have accepted


@dataclass(frozen=True, slots=True)
class TaskNotice:
    """What a message about a task says of it, read without loading the case."""

    due_at: datetime
    reason: str | None
    handoff: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Retained:
    """A closed case that still holds personal data (a person record or task notes)."""

    ref: str
    protocol_hash: str
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class PinnedVersion:
    """A protocol version cases were opened under, and how many cases pin it."""

    version: str
    content_hash: str
    stored_at: datetime
    cases: int


# --- the ports -------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class Catalog(Protocol):
    """The protocol files (protocols/registry.py): those that load, and those that do not."""

    @property
    def loaded(self) -> list[LoadedProtocol]: ...

    @property
    def broken(self) -> list[ProtocolFileError]: ...

    def latest(self, country: str, programme: str) -> LoadedProtocol | None:
        """The protocol a receiving country runs a handed-over case under, if it has one."""
        ...


class ProtocolStore(Protocol):
    def pin(self, loaded: LoadedProtocol, at: datetime) -> None:
        """Keep a copy of the exact definition a case opens under."""
        ...

    def pinned(self, content_hash: str) -> LoadedProtocol:
        """The definition a case was pinned to."""
        ...

    def hashes(self) -> list[str]:
        """Every pinned version's content hash, oldest first (then by hash)."""
        ...

    def versions(self, protocol_id: str) -> list[PinnedVersion]:
        """The pinned versions of a protocol with their case counts, oldest first."""
        ...


class CaseRepository(Protocol):
    def next_ref(self, country: str, year: int) -> str:
        """The next opaque reference of a country and year (`CO-2026-000123`)."""
        ...

    def add(self, case: Case, person: dict[str, str] | None, at: datetime) -> None:
        """Store a new case (and its person record, sealed); gives the case its id."""
        ...

    def get(self, ref: str) -> Case:
        """The whole case; raise UnknownCase naming the reference."""
        ...

    def take(self, refs: list[str]) -> list[Case]:
        """The cases of `refs` that no other transaction holds, held for this one (a row lock:
        FOR UPDATE SKIP LOCKED on PostgreSQL), in the order given."""
        ...

    def claim(self, case: Case) -> None:
        """Compare-and-set the case version; raise ConcurrentChange if someone was faster."""
        ...

    def save(self, case: Case) -> None:
        """Write what changed on the aggregate since it was loaded: rows, events, outbox."""
        ...

    def events(self, case: Case) -> list[Event]:
        """The case's saved events, oldest first (they never hold personal data)."""
        ...

    def person(self, case: Case) -> dict[str, str]:
        """The protected person record (names, documents ...); empty when none."""
        ...

    def has_person(self, case: Case) -> bool:
        """Whether a person record exists (without opening it)."""
        ...

    def with_document(self, number: str) -> list[str]:
        """References of cases whose person has this document number (blind index)."""
        ...

    def holding_personal_data(self, closed_by: datetime) -> list[Retained]:
        """Cases closed by then that still hold personal data, oldest closure first."""
        ...

    def forget_person(self, case: Case) -> tuple[list[str], int]:
        """Delete the person record and task notes; return the field names and notes gone."""
        ...

    def task_notice(self, task_id: int) -> TaskNotice | None:
        """A task's due time, reason and handoff, for a message about it."""
        ...

    def queued_notifications(self, case: Case) -> list[dict[str, Any]]:
        """The case's outbox messages, oldest first: template, role, institution, task_key,
        level (of an escalation)."""
        ...

    def due_refs(self, now: datetime, limit: int) -> list[str]:
        """References of cases with a task or deadline whose next action is due."""
        ...


class Inbox(Protocol):
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
        """An institution's tasks (open ones unless `statuses` says), soonest due first."""
        ...

    def compliance(self, countries: Collection[str], now: datetime) -> list[ComplianceCounts]:
        """Task counts per country of the cases in `countries`, by country."""
        ...

    def routing_gaps(self, countries: Collection[str]) -> list[tuple[str, str, int]]:
        """(country, role, tasks) for every role the directory had nobody for."""
        ...

    def countries(self) -> list[str]:
        """Every country that has cases, in order."""
        ...

    def record_snapshot(self, at: datetime, figures: list[ComplianceCounts]) -> None:
        """Keep the figures, each with the audit chain's head at that moment."""
        ...


class Outbox(Protocol):
    """Messages waiting to be sent. The adapters subclass it for the ways a claim ends."""

    def claim(self, now: datetime, limit: int, token: str, lease: timedelta) -> list[OutboxRow]:
        """Take up to `limit` due messages (pending and due, or with an expired lease)."""
        ...

    def renew(self, row_id: int, token: str, now: datetime, lease: timedelta) -> bool:
        """Check and extend a claim in one step: True, and the lease runs to `now + lease`,
        while `token` still holds the message and its lease has not run out; else False and
        nothing written (another worker may have taken it: do not send it)."""
        ...

    def finish(self, row_id: int, token: str, **values: Any) -> bool:
        """Release a claim, writing `values` to the message; False (and nothing written) when
        `token` no longer holds it (its lease ran out and another worker took it)."""
        ...

    def sent(self, row_id: int, token: str, now: datetime, provider_id: str | None) -> bool:
        """Mark a claimed message sent; False when the claim was lost meanwhile."""
        return self.finish(
            row_id, token, status="sent", sent_at=now, provider_id=provider_id, last_error=None
        )

    def retry(
        self,
        row_id: int,
        token: str,
        attempts: int,
        at: datetime,
        reason: str,
        ambiguous_retries: int | None = None,
    ) -> bool:
        """Put a claimed message back for another attempt at `at`; `ambiguous_retries`, when
        given, is the message's new count of retries the provider may have accepted."""
        more = {} if ambiguous_retries is None else {"ambiguous_retries": ambiguous_retries}
        return self.finish(
            row_id, token, status="pending", attempts=attempts, next_attempt_at=at,
            last_error=reason[:2000], **more,
        )  # fmt: skip

    def dead(self, row_id: int, token: str, attempts: int, reason: str) -> bool:
        """Give up on a claimed message, keeping the reason."""
        return self.finish(
            row_id, token, status="dead", attempts=attempts, last_error=reason[:2000]
        )

    def counts(self) -> dict[str, int]:
        """Messages per status (pending, sending, sent, dead)."""
        ...


class EventLog(Protocol):
    """Events that belong to no case (a user deactivated, a role changed), appended to the
    same tamper-evident chain as the cases' events, in the unit of work's transaction."""

    def record(self, event: Event) -> None: ...

    def recorded(self, limit: int = 100) -> list[Event]:
        """The latest `limit` events of no case, oldest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction: a change and every row it leaves commit together, or none does."""

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def protocols(self) -> ProtocolStore: ...

    @property
    def directory(self) -> Directory: ...

    @property
    def accounts(self) -> Accounts: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def events(self) -> EventLog: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Services:
    """The ports every use case needs, wired once by ruta/bootstrap.py (or by a test)."""

    uow: Callable[[], UnitOfWork]
    clock: Clock
    catalog: Catalog

"""The ports the services need: a clock, a directory, protocol storage and a unit of work."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from institutions.directory import Directory
from protocols.loader import LoadedProtocol
from workflows.domain.case import Case

if TYPE_CHECKING:
    from workflows.store.inbox import SqlInbox
    from workflows.store.outbox import SqlOutbox


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


class Catalog(Protocol):
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


class CaseRepository(Protocol):
    def next_ref(self, country: str, year: int) -> str: ...

    def add(self, case: Case, person: dict[str, str] | None, at: datetime) -> None: ...

    def get(self, ref: str) -> Case: ...

    def lock(self, ref: str) -> bool:
        """Lock the case for this transaction; False when another worker holds it."""
        ...

    def claim(self, case: Case) -> None:
        """Compare-and-set the case version; raise ConcurrentChange if someone was faster."""
        ...

    def save(self, case: Case) -> None:
        """Write what changed on the aggregate since it was loaded."""
        ...

    def person(self, case: Case) -> dict[str, str]:
        """The protected person record (names, documents ...); empty when none."""
        ...

    def with_document(self, number: str) -> list[str]:
        """References of cases whose person has this document number (blind index)."""
        ...

    def holding_personal_data(self, closed_by: datetime) -> list[tuple[str, str, datetime]]:
        """(ref, protocol hash, closed at) of cases closed by then that still hold personal data."""
        ...

    def forget_person(self, case: Case) -> tuple[list[str], int]:
        """Delete the person record and task notes; return the field names and notes gone."""
        ...

    def ref_of_task(self, task_id: int) -> str: ...

    def task_row(self, task_id: int) -> dict[str, Any] | None: ...

    def queued_notifications(self, case: Case) -> list[dict[str, Any]]:
        """The case's outbox messages, oldest first (template, role, institution, task_key)."""
        ...

    def due_refs(self, now: datetime, limit: int) -> list[str]:
        """References of cases with a task or deadline whose next action is due."""
        ...


class UnitOfWork(Protocol):
    @property
    def cases(self) -> CaseRepository: ...

    @property
    def protocols(self) -> ProtocolStore: ...

    @property
    def directory(self) -> Directory: ...

    @property
    def inbox(self) -> SqlInbox: ...

    @property
    def outbox(self) -> SqlOutbox: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

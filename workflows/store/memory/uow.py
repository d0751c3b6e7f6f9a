"""The unit of work in memory: every one made on the same `MemoryData` shares it."""

from __future__ import annotations

import itertools
from types import TracebackType

from workflows.domain.errors import NotInTransaction
from workflows.store.memory.boxes import (
    InMemoryEventLog,
    InMemoryInbox,
    InMemoryOutbox,
    MemoryDirectory,
)
from workflows.store.memory.cases import InMemoryCaseRepository, InMemoryProtocolStore
from workflows.store.memory.data import MemoryData, Work


class InMemoryUnitOfWork:
    """The in-memory unit of work; every one made on the same `MemoryData` shares it."""

    _tokens = itertools.count(1)

    def __init__(self, data: MemoryData) -> None:
        self.data = data
        self._work: Work | None = None

    @property
    def _w(self) -> Work:
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
    def directory(self) -> MemoryDirectory:
        return MemoryDirectory(self._w)

    @property
    def accounts(self) -> MemoryDirectory:
        return MemoryDirectory(self._w)

    @property
    def inbox(self) -> InMemoryInbox:
        return InMemoryInbox(self._w)

    @property
    def outbox(self) -> InMemoryOutbox:
        return InMemoryOutbox(self._w)

    @property
    def events(self) -> InMemoryEventLog:
        return InMemoryEventLog(self._w)

    def __enter__(self) -> InMemoryUnitOfWork:
        self._work = Work(self.data, next(self._tokens))
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
        self._work = Work(self.data, work.token)

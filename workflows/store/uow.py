"""The SQL unit of work: one connection, one transaction for a change and every row it
leaves (the case, its tasks, events, outbox and read model), or none of them."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import Connection, Engine

from institutions.store import SqlDirectory
from workflows.domain.errors import NotInTransaction
from workflows.store.audit import ChainWriter
from workflows.store.cases import SqlCaseRepository
from workflows.store.events import SqlEventLog
from workflows.store.inbox import SqlInbox
from workflows.store.outbox import SqlOutbox
from workflows.store.protocols import SqlProtocolStore
from workflows.store.vault import Vault


class SqlUnitOfWork:
    """One connection, one transaction: a state change and its rows commit together."""

    cases: SqlCaseRepository
    protocols: SqlProtocolStore
    directory: SqlDirectory
    inbox: SqlInbox
    outbox: SqlOutbox
    events: SqlEventLog

    @property
    def accounts(self) -> SqlDirectory:
        return self.directory  # the directory's table holds the accounts too

    def __init__(self, engine: Engine, vault: Vault) -> None:
        self._engine = engine
        self.vault = vault
        self._conn: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            raise NotInTransaction()
        return self._conn

    def __enter__(self) -> SqlUnitOfWork:
        self._conn = self._engine.connect()
        self._chain = ChainWriter(self._conn)
        self.cases = SqlCaseRepository(self._conn, self.vault, self._chain)
        self.protocols = SqlProtocolStore(self._conn)
        self.directory = SqlDirectory(self._conn)
        self.inbox = SqlInbox(self._conn)
        self.outbox = SqlOutbox(self._conn)
        self.events = SqlEventLog(self._conn, self._chain)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self.connection, None
        try:
            conn.rollback()  # a no-op after commit; discards an unfinished change
        finally:
            conn.close()

    def commit(self) -> None:
        self._chain.flush()  # the event chain's head, kept in memory during the transaction
        self.connection.commit()
        self.cases.settled()

    def rollback(self) -> None:
        self._chain.forget()
        self.connection.rollback()
        self.cases.settled()

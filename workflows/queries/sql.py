"""The SQL read models' door: the connection of a SQL unit of work.

The case list and the compliance figures are aggregates computed by the database (counts,
pages, percentiles over every task), so they run only on the SQL adapter; every other read
goes through the ports and runs on the in-memory adapter too.
"""

from __future__ import annotations

from sqlalchemy import Connection

from workflows.domain.ports import UnitOfWork
from workflows.store.uow import SqlUnitOfWork


def connection(uow: UnitOfWork) -> Connection:
    """The unit of work's connection; a unit of work without SQL is refused by name."""
    if not isinstance(uow, SqlUnitOfWork):
        raise TypeError(
            f"The case list and the compliance figures are SQL read models; "
            f"{type(uow).__name__} has no database. Wire the services with SqlUnitOfWork."
        )
    return uow.connection

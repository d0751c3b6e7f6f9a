"""Database engines and migrations: `ruta init` creates or upgrades the schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, create_engine, event, make_url
from sqlalchemy.pool import StaticPool

from institutions import tables as institution_tables
from ruta import datadir
from workflows.store import tables as workflow_tables
from workflows.store.vault import Vault

MIGRATIONS = Path(__file__).parent / "migrations"

# Every package's tables; alembic compares the migrations against these.
METADATA: list[MetaData] = [institution_tables.metadata, workflow_tables.metadata]


def make_engine(url: str) -> Engine:
    """An engine with the settings Ruta relies on for each database."""
    if url.startswith("sqlite"):
        kwargs: dict[str, Any] = {}
        if url in ("sqlite://", "sqlite:///:memory:"):
            # one shared connection, so every unit of work sees the same in-memory database
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        _private_database_file(url)
        # hide_parameters: a failed statement's message never carries the values it wrote
        engine = create_engine(url, hide_parameters=True, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _private_database_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does (it would follow the umask, 0644);
    SQLite gives its -journal, -wal and -shm files the database file's mode."""
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if path.parent.is_dir():  # else SQLite names the missing directory when it connects
        datadir.private_file(path)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA secure_delete=ON")  # purged rows are overwritten, not left in free pages
    cursor.close()


def alembic_config(engine: Engine, vault: Vault | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    config.attributes["vault"] = vault  # migrations that seal existing personal data need it
    return config


def upgrade(engine: Engine, vault: Vault | None = None) -> None:
    """Create or upgrade the schema to the newest migration."""
    command.upgrade(alembic_config(engine, vault), "head")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()

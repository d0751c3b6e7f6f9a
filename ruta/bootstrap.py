"""Wires real adapters to the services. The only module that reads settings."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from functools import cache

from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError

from institutions.directory import Directory, InMemoryDirectory
from institutions.seeds import load_seeds
from institutions.store import SqlDirectory
from notifications.senders import EmailSender, FileEmailSender
from notifications.sendgrid_sender import SendGridEmailSender
from protocols.registry import COUNTRIES_DIR, Registry, WatchedRegistry
from ruta import datadir, keys
from ruta.db import make_engine, upgrade
from ruta.settings import ConfigurationError, Settings
from workflows.domain.clocks import SimulatedClock, SystemClock
from workflows.domain.ports import Services
from workflows.store.memory import InMemoryUnitOfWork, MemoryData
from workflows.store.uow import SqlUnitOfWork
from workflows.store.vault import Vault, new_key


@cache
def settings() -> Settings:
    return Settings()


def make_home(cfg: Settings) -> None:
    """Create RUTA_HOME, or say why it cannot be."""
    try:
        datadir.ensure(cfg.home)
    except OSError as exc:
        raise ConfigurationError(
            f"RUTA_HOME={cfg.home} cannot be created ({exc.strerror}); point RUTA_HOME at a "
            'directory Ruta may create and write (README "Configuration").'
        ) from None


def engine(cfg: Settings | None = None) -> Engine:
    cfg = cfg or settings()
    if cfg.database_url is None:
        make_home(cfg)
    try:
        return make_engine(cfg.resolved_database_url)
    except ArgumentError:  # the URL itself is never echoed: it may hold a password
        raise ConfigurationError(
            "RUTA_DATABASE_URL is not a database URL Ruta can use; write "
            "postgresql+psycopg://USER@HOST:PORT/DB or sqlite:////path/to/ruta.sqlite3 "
            '(README "Configuration").'
        ) from None


def registry(cfg: Settings | None = None) -> Registry:
    cfg = cfg or settings()
    return Registry.scan(cfg.protocols_dir or COUNTRIES_DIR)


def vault(cfg: Settings | None = None) -> Vault:
    """The personal-data vault: RUTA_SECRET_KEY, else the key file `ruta init` made."""
    return keys.vault(cfg or settings())


_WIRED: dict[tuple[str, str, str], Services] = {}


def services(cfg: Settings | None = None) -> Services:
    """The real services, wired once per process and configuration: the worker's flows, the
    console and the CLI reuse one connection pool, one key ring and the parsed protocols."""
    cfg = cfg or settings()
    secret = cfg.secret_key.get_secret_value() if cfg.secret_key else str(keys.key_file(cfg))
    key = (
        cfg.resolved_database_url,
        str(cfg.protocols_dir or COUNTRIES_DIR),
        hashlib.sha256(secret.encode()).hexdigest(),
    )
    wired = _WIRED.get(key)
    if wired is None:
        db, sealing = engine(cfg), vault(cfg)
        wired = _WIRED[key] = Services(
            uow=lambda: SqlUnitOfWork(db, sealing),
            clock=SystemClock(),
            catalog=WatchedRegistry(cfg.protocols_dir or COUNTRIES_DIR),
        )
    return wired


def seed_directory(db: Engine) -> int:
    """Load the seed institutions (institutions/seeds/*.yaml) into the directory."""
    with db.begin() as conn:
        return SqlDirectory(conn).upsert(load_seeds())


def scenario_services(
    clock: SimulatedClock,
    inactive: list[str] | None = None,
    url: str = "sqlite://",
    vault: Vault | None = None,
) -> Services:
    """A fresh database per scenario (in memory by default), migrated and seeded like a real
    one; its personal data is sealed under a throwaway key unless a vault is given."""
    db = make_engine(url)
    upgrade(db)
    seed_directory(db)
    if inactive:
        with db.begin() as conn:
            _deactivate(SqlDirectory(conn), inactive)
    sealing = vault or Vault.from_text([new_key()], "scenario key")
    return Services(uow=lambda: SqlUnitOfWork(db, sealing), clock=clock, catalog=registry())


def memory_scenario_services(clock: SimulatedClock, inactive: list[str] | None = None) -> Services:
    """Scenario services on the in-memory ports (workflows/store/memory/): the same seed
    directory as `scenario_services`, no database."""
    directory = InMemoryDirectory(load_seeds())
    _deactivate(directory, inactive or [])
    data = MemoryData(directory=directory)
    return Services(uow=lambda: InMemoryUnitOfWork(data), clock=clock, catalog=registry())


def _deactivate(directory: Directory, inactive: list[str]) -> None:
    """Close the seed institutions a scenario names as `inactive:`."""
    for inst_id in inactive:
        found = directory.institution(inst_id)
        if found is None:
            raise LookupError(f"No institution {inst_id!r} in the seed directory.")
        directory.upsert([replace(found, active=False)])


def email_sender(cfg: Settings | None = None) -> EmailSender:
    """SendGrid when RUTA_SENDGRID_API_KEY is set, else .eml files under RUTA_HOME/outbox/."""
    cfg = cfg or settings()
    if cfg.sendgrid_api_key is not None:
        return SendGridEmailSender(
            api_key=cfg.sendgrid_api_key.get_secret_value(),
            from_address=cfg.email_from,
            host=cfg.sendgrid_host,
            sandbox=cfg.sendgrid_sandbox,
        )
    return FileEmailSender(cfg.outbox_dir, cfg.email_from)

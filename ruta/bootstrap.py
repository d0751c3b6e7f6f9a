"""Wires real adapters to the services. The only module that reads settings."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine

from institutions.directory import SeedDirectory
from protocols.registry import COUNTRIES_DIR, Registry
from ruta.db import make_engine, upgrade
from ruta.settings import Settings
from workflows.clocks import SimulatedClock, SystemClock
from workflows.repository import SqlUnitOfWork
from workflows.services import Services


@cache
def settings() -> Settings:
    return Settings()


def engine(cfg: Settings | None = None) -> Engine:
    cfg = cfg or settings()
    if cfg.database_url is None:
        cfg.home.mkdir(parents=True, exist_ok=True)
    return make_engine(cfg.resolved_database_url)


def registry(cfg: Settings | None = None) -> Registry:
    cfg = cfg or settings()
    return Registry.scan(cfg.protocols_dir or COUNTRIES_DIR)


def services(cfg: Settings | None = None) -> Services:
    db = engine(cfg)
    return Services(uow=lambda: SqlUnitOfWork(db), clock=SystemClock(), directory=SeedDirectory())


def scenario_services(clock: SimulatedClock) -> Services:
    """A fresh in-memory database per scenario, migrated like a real one."""
    db = make_engine("sqlite://")
    upgrade(db)
    return Services(uow=lambda: SqlUnitOfWork(db), clock=clock, directory=SeedDirectory())

"""Console tests with Streamlit's AppTest, on a real migrated SQLite database.

`console` gives a function that builds an AppTest of `ui/app.py` signed in as a persona
(or signed out) with the test services injected, so pages run against the same database
the test prepares.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from institutions.accounts import hash_password
from institutions.domain import User
from institutions.seeds import load_seeds
from institutions.store import SqlDirectory
from protocols.registry import Registry
from ruta.db import make_engine, upgrade
from tests.conftest import VAULT
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Services
from workflows.store.uow import SqlUnitOfWork

APP = str(Path(__file__).resolve().parents[2] / "ui" / "app.py")
PASSWORD = "correct horse battery staple"
PERSONAS = {
    "fp.co": User("fp.co", "co-mininterior-coat", "focal_point", frozenset({"CO"})),
    "fp.pe": User("fp.pe", "pe-mimp", "focal_point", frozenset({"PE"})),
    "off.ipiales": User("off.ipiales", "co-alcaldia-ipiales", "officer"),
    "off.narino": User("off.narino", "co-gobernacion-narino", "officer"),
    "mgr.co": User("mgr.co", "co-comite-interinstitucional", "manager", frozenset({"CO"})),
    "admin": User("admin", "co-mininterior-coat", "admin", frozenset({"CO", "PE", "EC"})),
}


@pytest.fixture
def console_engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'console.sqlite3'}")
    upgrade(engine)
    seed_personas(engine)
    return engine


def seed_personas(engine: Engine) -> None:
    """The seed institutions and the personas, each signing in with PASSWORD."""
    password_hash = hash_password(PASSWORD)
    with engine.begin() as conn:
        store = SqlDirectory(conn)
        store.upsert(load_seeds())
        for user in PERSONAS.values():
            store.save_user(user, password_hash=password_hash)


@pytest.fixture
def console_svc(console_engine: Engine, clock: SimulatedClock) -> Services:
    return Services(lambda: SqlUnitOfWork(console_engine, VAULT), clock, Registry.scan())


@pytest.fixture
def console(console_svc: Services) -> Callable[..., AppTest]:
    def build(persona: str | None = None, locale: str = "en") -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        at.session_state["services"] = console_svc
        at.session_state["locale"] = locale
        if persona is not None:
            at.session_state["user"] = PERSONAS[persona]
            at.session_state["last_seen"] = console_svc.clock.now()
        return at

    return build

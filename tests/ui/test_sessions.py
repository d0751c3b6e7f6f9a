"""An open console session follows the directory at every request, on SQLite and PostgreSQL:
a user deactivated between two reruns is signed out at once, a new scope or role narrows
what the next rerun shows."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, event
from streamlit.testing.v1 import AppTest

from protocols.registry import Registry
from tests.conftest import VAULT
from tests.ui.conftest import APP, PASSWORD, seed_personas
from tests.ui.test_cases import listed, open_co, open_pe
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Services
from workflows.services import admin
from workflows.store.uow import SqlUnitOfWork

ADMIN = Actor.system("test")


@pytest.fixture
def svc(engine: Engine, clock: SimulatedClock) -> Services:
    """The console's services on a migrated database of each kind, with the personas."""
    seed_personas(engine)
    return Services(lambda: SqlUnitOfWork(engine, VAULT), clock, Registry.scan())


@pytest.fixture
def signed_in(svc: Services) -> Callable[[str], AppTest]:
    """The console signed in through the form (state injected before a run is re-applied
    on every rerun, so it could not show a change)."""

    def sign_in(username: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=30)
        at.session_state["services"] = svc
        at.session_state["locale"] = "en"
        at.run()
        at.text_input(key="sign_in_user").input(username)
        at.text_input(key="sign_in_password").input(PASSWORD)
        at.button[0].click().run()
        assert at.session_state["user"].username == username
        return at

    return sign_in


def test_a_user_deactivated_between_two_requests_is_signed_out_at_once(signed_in, svc):
    at = signed_in("fp.co")
    assert at.title[0].value == "Cases"
    assert admin.set_active(svc, ADMIN, "fp.co", active=False)
    at.run()
    assert not at.exception
    assert "user" not in at.session_state
    assert at.info[0].value == "Your account was deactivated, so you were signed out."
    assert not at.title  # nothing of the page was drawn
    at.run()
    assert "user" not in at.session_state


def test_a_new_scope_or_role_narrows_the_next_request(signed_in, svc):
    colombian, peruvian = open_co(svc), open_pe(svc)
    at = signed_in("fp.co")
    assert listed(at) == [colombian]
    admin.set_role(svc, ADMIN, "fp.co", "focal_point", frozenset({"PE"}))
    at.run()
    assert not at.exception
    assert at.session_state["user"].countries == {"PE"}
    assert listed(at) == [peruvian]  # the Colombian case is gone at once
    admin.set_role(svc, ADMIN, "fp.co", "manager", frozenset({"PE"}))
    at.run()
    assert not at.exception
    assert not listed(at)  # the page still open is refused its cases at once
    assert "(manager of co-mininterior-coat) may not list cases" in at.error[0].value


def test_each_request_reads_the_user_by_name_only(signed_in, svc, engine):
    """The user is re-read by primary key only, at most twice a request (the shell, the page)."""
    at = signed_in("mgr.co")
    reads: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if "FROM users" in statement:
            reads.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        at.run()
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not at.exception
    assert reads
    by_name = re.compile(r".* FROM users WHERE users\.username = (\?|%\(\w+\)s(::VARCHAR)?)$")
    assert all(by_name.match(r) for r in reads), reads
    assert 1 <= len(reads) <= 2  # app.py checks, and the page again

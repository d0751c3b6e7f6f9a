"""The event log is hash-chained, append-only in the database, and verifiable."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.conftest import FOCAL_CO, VAULT
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.store.audit_verify import check_chain
from workflows.store.uow import SqlUnitOfWork

ADULT = {"jurisdiction": "CO-NAR", "minor": False, "nationality": "VE"}


def test_every_event_is_chained_and_the_chain_verifies(svc, test_protocol, engine):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    cases.record_consent(svc, ref, "assistance", True, FOCAL_CO)
    with engine.connect() as conn:
        result = check_chain(conn)
    assert result.problems == []
    assert result.events == result.intact >= 4


def test_editing_or_deleting_an_event_is_refused_by_the_database(svc, test_protocol, engine):
    cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    for statement in ("UPDATE events SET actor = 'someone else'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with engine.connect() as conn:
        assert check_chain(conn).ok


def test_an_edit_forced_past_the_trigger_is_named_by_verify(svc, test_protocol, engine):
    cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(id) FROM events")).scalar_one()
    victim = first + 1
    with engine.begin() as conn:  # a DBA drops the trigger, edits, and puts it back
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_append_only"))
            conn.execute(text(f"UPDATE events SET actor = 'forged' WHERE id = {victim}"))
            conn.execute(text("ALTER TABLE events ENABLE TRIGGER events_append_only"))
        else:
            conn.execute(text("DROP TRIGGER events_no_update"))
            conn.execute(text(f"UPDATE events SET actor = 'forged' WHERE id = {victim}"))
    with engine.connect() as conn:
        result = check_chain(conn)
    assert result.problems == [f"Event {victim} was altered: its content does not match its hash."]
    assert result.intact == 1


def test_concurrent_writers_never_fork_the_chain(svc, test_protocol, engine):
    refs = [cases.open_case(svc, test_protocol, ADULT, FOCAL_CO) for _ in range(6)]
    errors: list[BaseException] = []

    def work(ref: str) -> None:
        own = Services(lambda: SqlUnitOfWork(engine, VAULT), svc.clock, svc.catalog)
        try:
            cases.record_consent(own, ref, "assistance", True, FOCAL_CO)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(ref,)) for ref in refs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with engine.connect() as conn:
        assert check_chain(conn).ok

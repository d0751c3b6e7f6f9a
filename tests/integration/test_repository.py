"""What only the databases show about the SQL case repository: personal data sealed in its
own table, and two sweepers in two processes' worth of connections (SKIP LOCKED and the
version check). The rest of the repository's behaviour is held to the in-memory one by
tests/contract/."""

from __future__ import annotations

import threading
from datetime import datetime

from sqlalchemy import select, update

from institutions import tables as institution_tables
from protocols.loader import from_text
from protocols.registry import Registry
from tests.conftest import FIXTURES, FOCAL_CO, VAULT
from workflows.domain.ports import Services
from workflows.services import cases, tasks
from workflows.services.sweep import sweep
from workflows.store import tables
from workflows.store.uow import SqlUnitOfWork

ADULT = {"jurisdiction": "CO-NAR", "minor": False, "nationality": "VE"}
LADDER = """escalation:
  remind_before: ["50%", "2 hours"]
  overdue_notify: [assignee, case_lead]
  escalate_after: {"1 business_days": coordinator, "2 business_days": manager}
tracks:"""


def test_personal_data_stays_sealed_in_its_table(svc, test_protocol, engine):
    person = {"given_name": "Zorbalina", "document_number": "SYN-0000001"}
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO, person=person)
    tasks.move(svc, FOCAL_CO, ref, "characterise", "complete", outcome={"modality": "internal"})
    with engine.connect() as conn:
        dumped = " ".join(
            str(list(row))
            for table in (tables.cases, tables.events, tables.tasks, tables.outbox)
            for row in conn.execute(select(table))
        )
        stored = conn.execute(select(tables.persons.c.payload)).scalar_one()
    assert stored.startswith(f"v1.{VAULT.primary_id}.")  # sealed: the name is not in it
    assert "Zorbalina" not in stored
    assert "Zorbalina" not in dumped
    assert "SYN-0000001" not in dumped


def test_two_sweepers_at_once_send_each_rung_exactly_once(svc, clock, engine):
    text = (FIXTURES / "test-protocol.yaml").read_text().replace("tracks:", LADDER, 1)
    loaded = from_text("test-protocol-ladder.yaml", text)
    svc = Services(svc.uow, svc.clock, Registry(loaded=[loaded]))
    refs = [cases.open_case(svc, loaded, ADULT, FOCAL_CO) for _ in range(12)]
    # two reminders and the overdue mark are due
    clock.advance(datetime.fromisoformat("2026-03-03T09:30-05:00") - clock.now())
    errors: list[BaseException] = []

    def work() -> None:
        try:
            sweep(Services(lambda: SqlUnitOfWork(engine, VAULT), clock, svc.catalog))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    sweep(svc)  # anything a busy sweeper skipped is still due, and done now
    with svc.uow() as uow:
        for ref in refs:
            case = uow.cases.get(ref)
            templates = sorted(m["template"] for m in uow.cases.queued_notifications(case))
            assert templates == ["task_assigned", "task_overdue", "task_overdue"], ref
            assert case.task("characterise").ladder_step == 3


def test_a_directory_edited_by_hand_in_sql_is_seen_at_once(svc, engine):
    """The triggers of migration 0009 bump the revision whoever writes, so the directory a
    process keeps is dropped even after an administrator's UPDATE by hand."""
    with svc.uow() as uow:
        assert uow.directory.candidates("CO", "shelter", "CO-NAR")[0].id == "test-shelter-narino"
    i = institution_tables.institutions
    with engine.begin() as conn:
        conn.execute(update(i).where(i.c.id == "test-shelter-narino").values(active=False))
    with svc.uow() as uow:
        found = uow.directory.candidates("CO", "shelter", "CO-NAR")
    assert [x.id for x in found] == ["test-shelter-national"]

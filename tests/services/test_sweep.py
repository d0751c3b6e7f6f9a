"""The sweep: reminders, overdue, escalation levels, expiries, holds, idempotence."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from institutions.domain import Institution
from protocols.loader import from_text
from protocols.registry import Registry
from tests.conftest import FIXTURES, FOCAL_CO, START
from tests.services.conftest import messages
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Services
from workflows.services import cases, tasks
from workflows.services.sweep import sweep

LADDER = """escalation:
  remind_before: ["50%", "2 hours"]
  overdue_notify: [assignee, case_lead]
  escalate_after: {"1 business_days": coordinator, "2 business_days": manager}
tracks:"""
ADULT = {"jurisdiction": "CO-NAR", "minor": False, "nationality": "VE"}


@pytest.fixture
def laddered(svc):
    """The test protocol with a reminder and escalation ladder; services that know it."""
    text = (FIXTURES / "test-protocol.yaml").read_text().replace("tracks:", LADDER, 1)
    loaded = from_text("test-protocol-ladder.yaml", text)
    return Services(svc.uow, svc.clock, Registry(loaded=[loaded])), loaded


def at(local: str) -> datetime:
    return datetime.fromisoformat(f"2026-03-{local}-05:00")


def outbox(svc, ref):
    """The case's queued messages: (ref, template, role, institution, level), oldest first."""
    return [
        (ref, m["template"], m["role"], m["institution"], m["level"]) for m in messages(svc, ref)
    ]


def sweep_at(svc, clock: SimulatedClock, when: datetime):
    clock.advance(when - clock.now())
    return sweep(svc)


def new_messages(svc, ref, before):
    return [m[1:] for m in outbox(svc, ref)[len(before) :]]


def test_ladder_reminds_marks_overdue_and_escalates_level_by_level(laddered, clock):
    svc, loaded = laddered
    ref = cases.open_case(svc, loaded, ADULT, FOCAL_CO)  # Monday 09:00; due Tuesday 09:00
    seen = outbox(svc, ref)
    steps = [
        ("02T21:00", [("task_reminder", "lead", "test-lead", None)]),  # 50% of the time
        ("03T07:00", [("task_reminder", "lead", "test-lead", None)]),  # 2 hours before
        (
            "03T09:00",
            [
                ("task_overdue", "lead", "test-lead", None),
                ("task_overdue", "lead", "test-lead", None),
            ],
        ),
        ("04T09:00", [("task_escalated", "coordinator", "test-coordination", 1)]),
        ("05T09:00", [("task_escalated", "manager", "test-coordination", 2)]),
    ]
    for when, expected in steps:
        assert sweep_at(svc, clock, at(when) - timedelta(minutes=1)).handled == 0
        report = sweep_at(svc, clock, at(when))
        assert report.handled == 1, when
        assert new_messages(svc, ref, seen) == expected, when
        seen = outbox(svc, ref)
        assert sweep(svc).handled == 0  # twice at the same time: nothing twice
        assert outbox(svc, ref) == seen
    case = cases.load_case(svc, ref, FOCAL_CO)
    task = case.task("characterise")
    assert task.ladder_step == 5
    assert task.next_action_at is None
    assert task.overdue_at == at("03T09:00")


def test_a_late_sweep_skips_stale_reminders_but_does_every_overdue_rung(laddered, clock):
    svc, loaded = laddered
    ref = cases.open_case(svc, loaded, ADULT, FOCAL_CO)
    seen = outbox(svc, ref)
    report = sweep_at(svc, clock, at("06T10:00"))  # the worker was down for days
    assert report.handled == 5
    templates = [m[0] for m in new_messages(svc, ref, seen)]
    assert templates == ["task_overdue", "task_overdue", "task_escalated", "task_escalated"]


def test_on_hold_the_ladder_pauses_and_resume_shifts_it(laddered, clock):
    svc, loaded = laddered
    ref = cases.open_case(svc, loaded, ADULT, FOCAL_CO)
    tasks.move(svc, FOCAL_CO, ref, "characterise", "hold", reason="waiting_for_person")
    seen = outbox(svc, ref)
    assert sweep_at(svc, clock, at("06T09:00")).handled == 0  # held: never reminded or late
    assert outbox(svc, ref) == seen
    # held 4 days with its 1 business day left: due on the business day after Friday resume
    tasks.move(svc, FOCAL_CO, ref, "characterise", "resume")
    task = cases.load_case(svc, ref, FOCAL_CO).task("characterise")
    assert task.due_at == at("09T09:00")  # Monday: 96 elapsed hours made it Saturday
    assert task.next_action_at == task.due_at - (task.due_at - task.created_at) / 2


def test_an_extension_restarts_the_overdue_rungs_after_the_new_due_time(laddered, clock):
    svc, loaded = laddered
    ref = cases.open_case(svc, loaded, ADULT, FOCAL_CO)
    sweep_at(svc, clock, at("03T09:30"))  # overdue
    cases.extend(svc, ref, "coordinator", FOCAL_CO, task="characterise")
    task = cases.load_case(svc, ref, FOCAL_CO).task("characterise")
    assert task.overdue_at is None
    assert task.due_at == at("04T09:00")
    assert task.next_action_at == task.due_at  # reminders already sent are not sent again
    seen = outbox(svc, ref)
    sweep_at(svc, clock, at("04T09:00"))
    assert [m[0] for m in new_messages(svc, ref, seen)] == ["task_overdue", "task_overdue"]


def test_a_state_deadline_expiry_fires_its_trigger(svc, test_protocol, clock):
    ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
    tasks.move(svc, FOCAL_CO, ref, "characterise", "complete", outcome={"modality": "internal"})
    cases.record_consent(svc, ref, "assistance", True, FOCAL_CO)
    cases.fire(svc, ref, "care", "admit_immediate", FOCAL_CO)
    sweep_at(svc, clock, START + timedelta(days=5, minutes=1))
    case = cases.load_case(svc, ref, FOCAL_CO)
    assert case.tracks["care"].state == "review"
    assert {d.state: d.status for d in case.deadlines}["immediate"] == "expired"


def test_a_case_the_engine_fails_on_is_left_as_it_was_and_the_others_are_swept(laddered, clock):
    svc, loaded = laddered
    ipiales = cases.open_case(svc, loaded, {**ADULT, "jurisdiction": "CO-NAR-52356"}, FOCAL_CO)
    narino = cases.open_case(svc, loaded, ADULT, FOCAL_CO)  # CO-NAR
    with svc.uow() as uow:  # the national coordination closes; Ipiales gets its own
        national = uow.directory.institution("test-coordination")
        assert national is not None
        own = Institution("test-coordination-ipiales", "CO", "CO-NAR-52356", "Ipiales",
                          ("coordinator",))  # fmt: skip
        uow.directory.upsert([replace(national, active=False), own])
        uow.commit()
    sweep_at(svc, clock, at("03T09:00"))  # reminders and overdue: no coordinator needed
    before = cases.load_case(svc, narino, FOCAL_CO)
    report = sweep_at(svc, clock, at("04T09:00"))  # the first escalation: to the coordinator
    (failed,) = report.failed  # no coordinator anywhere on CO-NAR's chain
    assert failed.startswith(f"{narino}: No active institution in CO fills the coordinator")
    assert report.cases == 1
    assert outbox(svc, ipiales)[-1][1:] == (
        "task_escalated",
        "coordinator",
        "test-coordination-ipiales",
        1,
    )
    after = cases.load_case(svc, narino, FOCAL_CO)
    assert after.version == before.version  # untouched, and still due
    assert after.task("characterise").next_action_at == at("04T09:00")


def test_cases_are_swept_several_to_a_transaction(laddered, clock):
    svc, loaded = laddered
    refs = [cases.open_case(svc, loaded, ADULT, FOCAL_CO) for _ in range(5)]
    clock.advance(at("03T09:00") - clock.now())
    report = sweep(svc, batch=3, per_commit=2)
    assert (report.cases, report.handled, report.skipped, report.failed) == (5, 15, [], [])
    for ref in refs:
        assert [m[1] for m in outbox(svc, ref)].count("task_overdue") == 2

"""The case engine through its use cases, on the in-memory ports."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from protocols.loader import from_text
from tests.conftest import FIXTURES, FOCAL_CO
from tests.services.conftest import events, messages
from workflows.domain.errors import (
    ConcurrentChange,
    ExtensionRefused,
    GuardFailed,
    InvalidInput,
    TransitionNotAllowed,
)
from workflows.services import cases, tasks
from workflows.services.sweep import sweep

ADULT = {"jurisdiction": "CO-NAR", "minor": False, "nationality": "VE"}
ME = FOCAL_CO


def at(text_: str) -> datetime:
    return datetime.fromisoformat(text_)


def open_adult(svc, test_protocol) -> str:
    return cases.open_case(svc, test_protocol, ADULT, ME)


def to_immediate(svc, ref):
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "internal"})
    cases.record_consent(svc, ref, "assistance", True, ME)
    cases.fire(svc, ref, "care", "admit_immediate", ME)


def test_opening_a_case_pins_the_protocol_and_opens_tasks_with_deadlines(svc, test_protocol):
    ref = open_adult(svc, test_protocol)
    assert ref == "CO-2026-000001"
    case = cases.load_case(svc, ref, ME)
    assert case.protocol_hash == test_protocol.content_hash
    assert {n: t.state for n, t in case.tracks.items()} == {
        "care": "reported",
        "justice": "no_complaint",
    }
    (task,) = case.open_tasks()
    assert (task.key, task.role, task.institution) == ("characterise", "lead", "test-lead")
    assert task.due_at == at("2026-03-03T09:00:00-05:00")  # 1 business day
    assert open_adult(svc, test_protocol) == "CO-2026-000002"


def test_completing_a_task_fires_its_trigger_and_records_the_outcome(svc, test_protocol):
    ref = open_adult(svc, test_protocol)
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "external"})
    case = cases.load_case(svc, ref, ME)
    assert case.tracks["care"].state == "identified"
    assert [t.key for t in case.open_tasks()] == ["admit"]
    assert case.task("characterise").outcome == {"modality": "external"}


def test_an_outcome_outside_the_protocol_is_refused_and_nothing_changes(svc, test_protocol):
    ref = open_adult(svc, test_protocol)
    with pytest.raises(InvalidInput, match="one of: internal, external"):
        tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "abroad"})
    with pytest.raises(InvalidInput, match="allowed: modality"):
        tasks.move(svc, ME, ref, "characterise", "complete", outcome={"name": "x"})
    case = cases.load_case(svc, ref, ME)
    assert case.tracks["care"].state == "reported"
    assert case.version == 1


def test_an_illegal_trigger_is_refused_with_the_allowed_triggers(svc, test_protocol):
    ref = open_adult(svc, test_protocol)
    with pytest.raises(TransitionNotAllowed) as info:
        cases.fire(svc, ref, "care", "close_case", ME)
    assert str(info.value) == (
        f"Case {ref}: track 'care' is in 'reported' and 'close_case' is not allowed there; "
        "allowed: characterised."
    )


def test_a_guarded_trigger_names_the_unmet_conditions(svc, test_protocol):
    ref = open_adult(svc, test_protocol)
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "internal"})
    with pytest.raises(GuardFailed, match="consent for assistance has not been recorded"):
        cases.fire(svc, ref, "care", "admit_immediate", ME)
    cases.record_consent(svc, ref, "assistance", False, ME)
    with pytest.raises(GuardFailed, match="consent for assistance was refused or withdrawn"):
        cases.fire(svc, ref, "care", "admit_immediate", ME)
    cases.record_consent(svc, ref, "assistance", True, ME)
    cases.fire(svc, ref, "care", "admit_immediate", ME)
    case = cases.load_case(svc, ref, ME)
    assert case.tracks["care"].state == "immediate"
    assert case.tracks["shelter"].state == "requested"  # opens_when: care in immediate


def test_second_writer_on_a_stale_version_gets_a_reload_error_and_nothing_is_lost(
    svc, test_protocol
):
    ref = open_adult(svc, test_protocol)
    loaded = cases.load_case(svc, ref, ME).version
    tasks.move(
        svc,
        ME,
        ref,
        "characterise",
        "complete",
        outcome={"modality": "internal"},
        expected_version=loaded,
    )
    with pytest.raises(ConcurrentChange, match="changed since you loaded it.*Reload"):
        cases.record_consent(svc, ref, "assistance", True, ME, expected_version=loaded)
    case = cases.load_case(svc, ref, ME)
    assert case.tracks["care"].state == "identified"
    assert case.consents == []


def test_hold_stops_the_clock_and_resume_moves_the_due_time(svc, test_protocol, clock):
    ref = open_adult(svc, test_protocol)
    due = cases.load_case(svc, ref, ME).task("characterise").due_at
    clock.advance(timedelta(hours=2))
    tasks.move(svc, ME, ref, "characterise", "hold", reason="waiting_for_person")
    clock.advance(timedelta(hours=30))
    assert sweep(svc).handled == 0  # on hold: never overdue
    tasks.move(svc, ME, ref, "characterise", "resume")
    task = cases.load_case(svc, ref, ME).task("characterise")
    assert task.status == "requested"
    # 1 business day was left at the hold (Tuesday's): counted again from Tuesday's resume
    assert due == at("2026-03-03T09:00:00-05:00")
    assert task.due_at == at("2026-03-04T09:00:00-05:00")
    assert task.next_action_at == task.due_at


def test_state_deadline_extension_is_bounded_and_only_for_the_approver(svc, test_protocol, clock):
    ref = open_adult(svc, test_protocol)
    to_immediate(svc, ref)
    deadline = cases.load_case(svc, ref, ME).running_deadline("care")
    assert deadline.due_at == at("2026-03-07T09:00:00-05:00")
    with pytest.raises(ExtensionRefused, match="only committee may extend"):
        cases.extend(svc, ref, "lead", ME, track="care")
    cases.extend(svc, ref, "committee", ME, track="care")
    assert cases.load_case(svc, ref, ME).running_deadline("care").due_at == at(
        "2026-03-12T09:00:00-05:00"
    )
    with pytest.raises(ExtensionRefused, match="already extended 1 time.*limit is 1"):
        cases.extend(svc, ref, "committee", ME, track="care")


def test_sweep_marks_overdue_fires_expiry_and_is_idempotent(svc, test_protocol, clock):
    ref = open_adult(svc, test_protocol)
    to_immediate(svc, ref)
    clock.advance(timedelta(days=6))
    report = sweep(svc)
    assert report.cases == 1
    case = cases.load_case(svc, ref, ME)
    assert case.tracks["care"].state == "review"  # on_expiry: period_expired
    assert [t.key for t in case.open_tasks() if t.overdue_at] == ["find_bed"]
    assert sweep(svc).handled == 0
    overdue = [m for m in messages(svc, ref) if m["template"] == "task_overdue"]
    assert len(overdue) == 4  # lodge and find_bed: assignee and case lead


def test_every_change_is_an_event_and_events_name_the_person_fields_never_their_values(
    svc, test_protocol
):
    person = {"given_name": "Zorbalina", "document_number": "SYN-0000001"}
    ref = cases.open_case(svc, test_protocol, ADULT, ME, person=person)
    to_immediate(svc, ref)
    found = events(svc, ref)
    kinds = [kind for kind, _ in found]
    assert kinds[:3] == ["case_opened", "personal_data_recorded", "track_opened"]
    assert {"task_completed", "transition", "consent_recorded", "deadline_started"} <= set(kinds)
    assert found[1][1] == {"fields": ["document_number", "given_name"]}
    assert "Zorbalina" not in str(found)
    assert "SYN-0000001" not in str([*found, messages(svc, ref)])


def test_a_running_case_keeps_its_pinned_protocol_when_the_file_changes(svc, test_protocol):
    ref = open_adult(svc, test_protocol)
    edited = from_text(
        "edited.yaml",
        (FIXTURES / "test-protocol.yaml")
        .read_text()
        .replace('within: "1 business_days"', 'within: "3 business_days"')
        .replace('version: "1"', 'version: "2"'),
    )
    assert edited.content_hash != test_protocol.content_hash
    newer = cases.open_case(svc, edited, ADULT, ME)
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "internal"})
    assert cases.load_case(svc, ref, ME).protocol_version == "1"
    assert cases.load_case(svc, newer, ME).task("characterise").due_at == at(
        "2026-03-05T09:00:00-05:00"
    )
    with svc.uow() as uow:
        assert set(uow.protocols.hashes()) == {test_protocol.content_hash, edited.content_hash}


def test_minor_opens_child_protection_and_legal_basis_stands_in_for_consent(svc, test_protocol):
    ref = cases.open_case(svc, test_protocol, {**ADULT, "minor": True}, ME)
    tasks.move(svc, ME, ref, "characterise", "complete", outcome={"modality": "internal"})
    cases.record_consent(
        svc, ref, "assistance", True, ME, legal_basis="Ley 1098 de 2006 (Código de la Infancia)"
    )
    cases.fire(svc, ref, "care", "admit_immediate", ME)
    case = cases.load_case(svc, ref, ME)
    assert case.tracks["child_protection"].state == "referred"
    assert case.consents[-1].legal_basis.startswith("Ley 1098")


def test_bad_attributes_are_refused_naming_what_is_allowed(svc, test_protocol):
    with pytest.raises(InvalidInput, match="Unknown case attribute 'name'.*protected person"):
        cases.open_case(svc, test_protocol, {**ADULT, "name": "x"}, ME)
    with pytest.raises(InvalidInput, match="'jurisdiction' cannot be 'PE-LIM'"):
        cases.open_case(svc, test_protocol, {**ADULT, "jurisdiction": "PE-LIM"}, ME)
    ref = open_adult(svc, test_protocol)
    with pytest.raises(InvalidInput, match="one of low, medium, high"):
        cases.set_attributes(svc, ref, {"risk": "extreme"}, ME)

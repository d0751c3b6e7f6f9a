"""The inbox: an institution sees only its own tasks and moves them; stale forms are refused.

A Colombian case in Ipiales (Narino) has reached lodging, asked of the Ipiales mayor's office;
a Peruvian case in Lima has tasks for Lima institutions only.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from institutions.domain import User
from institutions.store import SqlDirectory
from tests.ui.conftest import APP, PERSONAS
from ui import i18n
from workflows.domain.access import Actor
from workflows.domain.ports import Services
from workflows.services import cases, tasks
from workflows.store import tables

SYSTEM = Actor.system("test")
COMITE = User("off.comite", "co-comite-trata-narino", "officer")
PAGE = "pages/inbox.py"


def _case(svc, registry_id: str, jurisdiction: str) -> str:
    return cases.open_case(
        svc,
        svc.catalog.latest_published(registry_id),
        {"jurisdiction": jurisdiction, "minor": False, "nationality": "VE"},
        SYSTEM,
        person={"given_name": "Synthetic", "family_name": "Person"},
    )


@pytest.fixture
def co_case(console_svc) -> str:
    """A CO case in Ipiales at characterisation (asked of the Narino territorial committee)."""
    ref = _case(console_svc, "CO-TRATA", "CO-NAR-52356")
    tasks.move(console_svc, SYSTEM, ref, "register_case", "complete")
    cases.record_consent(console_svc, ref, "assistance", True, SYSTEM)
    tasks.move(
        console_svc,
        SYSTEM,
        ref,
        "security_risk_assessment",
        "complete",
        outcome={"risk_level": "low"},
    )
    return ref


@pytest.fixture
def lodging(console_svc: Services, co_case: str) -> str:
    """The CO case with lodging asked of Ipiales, and a Lima case beside it."""
    outcome = {"modality": "external", "victim_abroad": False}
    tasks.move(console_svc, SYSTEM, co_case, "characterise_case", "complete", outcome=outcome)
    _case(console_svc, "PE-TRATA", "PE-LMA")
    return co_case


def _task(svc, ref: str, key: str):
    return cases.load_case(svc, ref, SYSTEM).task(key)


def _choose(at, svc, ref: str, key: str):
    at.selectbox(key="inbox_task").select(_task(svc, ref, key).id).run()
    assert not at.exception
    return at


def _inbox(console, persona: str = "off.ipiales"):
    at = console(persona).run()
    return at.switch_page(PAGE).run()


def test_the_ipiales_officer_sees_only_the_ipiales_tasks(console, console_svc, lodging):
    at = _inbox(console)
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["Case"]) == [lodging]
    assert list(table["Task"]) == ["Provide safe and decent lodging"]
    assert list(table["Due state"]) == ["Due within 24 hours"]  # 12 hours given
    assert not any(ref.startswith("PE-") for ref in table["Case"])
    assert len(at.selectbox(key="inbox_task").options) == 1
    assert not at.subheader  # nothing is opened (nor any data shared) until a task is chosen


def test_another_institution_sees_none_of_them(console, lodging):
    at = _inbox(console, "off.narino")
    assert not at.exception
    assert at.info[0].value == "No tasks match these filters."


def test_a_manager_is_refused_the_inbox_even_without_the_menu(console_svc, lodging):
    at = AppTest.from_file(str(Path(APP).parent / PAGE), default_timeout=30)
    at.session_state["services"] = console_svc
    at.session_state["user"] = PERSONAS["mgr.co"]
    at.session_state["last_seen"] = console_svc.clock.now()
    at.run()
    assert not at.exception
    assert "may not open the inbox" in at.error[0].value
    assert not at.dataframe


def test_the_task_shows_what_the_step_shares_and_withholds_the_rest(console, console_svc, lodging):
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    assert at.subheader[0].value == "Provide safe and decent lodging"
    shared = at.table[0].value
    assert dict(zip(shared["Field"], shared["Value"], strict=True)) == {
        "Minor": "No",
        "Nationality": "VE",
    }
    assert "Given name, Family name" in at.info[0].value  # no consent to share data yet
    labels = [b.label for b in at.button]
    assert {"Acknowledge", "Accept", "Start"} <= set(labels)
    assert "Resume" not in labels


def test_consented_person_fields_are_shown_and_the_sharing_recorded_once(
    console, console_svc, lodging
):
    cases.record_consent(
        console_svc, lodging, "data_sharing", True, SYSTEM, role="entidad_territorial"
    )
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    shared = at.table[0].value
    assert dict(zip(shared["Field"], shared["Value"], strict=True))["Given name"] == "Synthetic"
    assert not at.info  # nothing withheld
    at.selectbox(key="inbox_status").select("all").run()  # reruns keep the view
    assert at.subheader[0].value == "Provide safe and decent lodging"
    assert _shared_events(console_svc) == 1


def _shared_events(svc) -> int:
    with svc.uow() as uow:
        query = select(func.count()).where(tables.events.c.kind == "personal_data_shared")
        return int(uow.connection.execute(query).scalar_one())


def test_an_email_link_opens_the_case_s_task(console, lodging):
    at = console("off.ipiales")
    at.query_params["case"] = lodging  # the link in the email: the officer lands on the inbox
    at.run()
    assert not at.exception
    assert at.text_input(key="inbox_case").value == lodging
    assert at.subheader[0].value == "Provide safe and decent lodging"


def test_accept_then_complete_moves_the_task_and_the_case(console, console_svc, lodging):
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    at.button(key="inbox_move_accept").click().run()
    assert not at.exception
    assert at.success[0].value == "Task accepted."
    assert _task(console_svc, lodging, "arrange_lodging").status == "accepted"
    at.button(key="inbox_complete_submit").click().run()
    assert not at.exception
    assert at.success[0].value == "Task completed."
    case = cases.load_case(console_svc, lodging, SYSTEM)
    assert case.task("arrange_lodging").status == "completed"
    assert case.tracks["shelter"].state == "lodged"  # its on_complete trigger fired
    assert at.info[0].value == "No tasks match these filters."  # done: out of the open list


def test_the_outcome_form_asks_the_step_s_fields(console, console_svc, co_case):
    with console_svc.uow() as uow:
        SqlDirectory(uow.connection).save_user(COMITE)
        uow.commit()
    at = console("off.ipiales")
    at.session_state["user"] = COMITE
    at.run().switch_page(PAGE).run()
    at = _choose(at, console_svc, co_case, "characterise_case")
    assert at.selectbox(key="inbox_outcome_modality").options == ["Internal", "External"]
    assert at.radio(key="inbox_outcome_victim_abroad").options == ["Yes", "No"]
    at.selectbox(key="inbox_outcome_modality").select("external")
    at.button(key="inbox_complete_submit").click().run()
    assert "Fill in:" in at.error[0].value  # victim_abroad is required
    assert _task(console_svc, co_case, "characterise_case").status == "requested"
    at.radio(key="inbox_outcome_victim_abroad").set_value(False)
    at.button(key="inbox_complete_submit").click().run()
    assert not at.exception
    assert at.success[0].value == "Task completed."
    task = _task(console_svc, co_case, "characterise_case")
    assert (task.status, task.outcome) == (
        "completed",
        {"modality": "external", "victim_abroad": False},
    )
    assert cases.load_case(console_svc, co_case, SYSTEM).tracks["care"].state != "identification"


def test_reject_needs_a_reason_and_re_routes_the_task(console, console_svc, lodging):
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    at.button(key="inbox_reject_submit").click().run()
    assert at.error[0].value == "Choose a reason."
    at.selectbox(key="inbox_reject_reason").select("other")
    at.button(key="inbox_reject_submit").click().run()
    assert "note" in at.error[0].value
    assert _task(console_svc, lodging, "arrange_lodging").institution == "co-alcaldia-ipiales"
    at.selectbox(key="inbox_reject_reason").select("no_capacity")
    at.text_area(key="inbox_reject_note").input("Shelter full tonight")
    at.button(key="inbox_reject_submit").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Task rejected")
    assert at.info[0].value == "No tasks match these filters."  # gone from this inbox
    task = _task(console_svc, lodging, "arrange_lodging")
    assert (task.institution, task.routing, task.status) == (
        "co-gobernacion-narino",
        "rerouted",
        "requested",
    )
    narino = _inbox(console, "off.narino")
    assert list(narino.dataframe[0].value["Case"]) == [lodging]


def test_a_stale_form_is_refused_with_a_reload_prompt(console, console_svc, lodging):
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    cases.set_attributes(console_svc, lodging, {"risk": "medium"}, SYSTEM)  # meanwhile
    version = cases.load_case(console_svc, lodging, SYSTEM).version
    at.run()  # the list is fresh, the form still shows the case as it was: a warning
    assert "has changed since you opened" in at.warning[0].value
    at.button(key="inbox_move_accept").click().run()
    assert not at.exception
    assert "changed since you loaded it" in at.error[0].value
    assert not at.success
    assert cases.load_case(console_svc, lodging, SYSTEM).version == version
    assert _task(console_svc, lodging, "arrange_lodging").status == "requested"
    assert [b.key for b in at.button if b.key and b.key.startswith("inbox_")] == ["inbox_reload"]
    at.button(key="inbox_reload").click().run()
    assert not at.error
    at.button(key="inbox_move_accept").click().run()
    assert at.success[0].value == "Task accepted."
    assert _task(console_svc, lodging, "arrange_lodging").status == "accepted"


def test_hold_stops_the_clock_and_resume_restarts_it(console, console_svc, lodging):
    due = _task(console_svc, lodging, "arrange_lodging").due_at
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    at.selectbox(key="inbox_hold_reason").select("waiting_for_person")
    at.button(key="inbox_hold_submit").click().run()
    assert not at.exception
    assert at.success[0].value.startswith("Task put on hold")
    assert list(at.dataframe[0].value["Due state"]) == ["On hold (clock stopped)"]
    assert [b.label for b in at.button if b.key and b.key.startswith("inbox_move_")] == ["Resume"]
    console_svc.clock.advance(timedelta(hours=3))
    at.session_state["last_seen"] = console_svc.clock.now()  # the officer was not idle
    at.button(key="inbox_move_resume").click().run()
    assert not at.exception
    task = _task(console_svc, lodging, "arrange_lodging")
    assert task.status == "requested"
    assert task.due_at == due + timedelta(hours=3)


def test_a_task_is_reassigned_to_a_colleague(console, console_svc, lodging):
    with console_svc.uow() as uow:
        colleague = User("off.ipiales2", "co-alcaldia-ipiales", "officer")
        SqlDirectory(uow.connection).save_user(colleague)
        uow.commit()
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    assert at.selectbox(key="inbox_assign_to").options == ["Nobody", "off.ipiales", "off.ipiales2"]
    at.selectbox(key="inbox_assign_to").select("off.ipiales2")
    at.button(key="inbox_assign_submit").click().run()
    assert at.success[0].value == "Task reassigned."
    assert _task(console_svc, lodging, "arrange_lodging").owner == "off.ipiales2"
    assert list(at.dataframe[0].value["Assigned to"]) == ["off.ipiales2"]


def test_overdue_tasks_are_marked(console, console_svc, lodging):
    console_svc.clock.advance(timedelta(hours=13))
    at = _inbox(console)
    assert list(at.dataframe[0].value["Due state"]) == ["Overdue"]


def test_protocol_labels_follow_the_user_s_language(console, lodging):
    at = console("off.ipiales", locale="es").run().switch_page(PAGE).run()
    assert not at.exception
    assert "Proveer alojamiento digno y seguro" in at.dataframe[0].value.iloc[0].tolist()


def test_an_acknowledged_task_has_one_name_in_the_inbox_and_on_the_case_page(
    console, console_svc, lodging
):
    at = _choose(_inbox(console), console_svc, lodging, "arrange_lodging")
    at.button(key="inbox_move_receive").click().run()
    assert not at.exception
    assert at.success[0].value == "Task acknowledged."
    assert list(at.dataframe[0].value["Status"]) == ["Acknowledged"]  # the button's word

    page = console("fp.co")
    page.query_params["case"] = lodging
    page.run()
    assert not page.exception
    tasks_table = next(df.value for df in page.dataframe if "Task" in df.value.columns)
    row = tasks_table[tasks_table["Task"] == "Provide safe and decent lodging"]
    assert list(row["Status"]) == ["Acknowledged"]


def test_due_times_are_read_in_the_zone_of_the_task_s_pinned_protocol(
    console, console_svc, lodging
):
    task = _task(console_svc, lodging, "arrange_lodging")
    case = cases.load_case(console_svc, lodging, SYSTEM)
    with console_svc.uow() as uow:
        zone = uow.protocols.pinned(case.protocol_hash).protocol.timezone
    at = _inbox(console)
    assert list(at.dataframe[0].value["Due"]) == [i18n.when(task.due_at, "en", zone)]
    at = _choose(at, console_svc, lodging, "arrange_lodging")
    assert any(i18n.when(task.due_at, "en", zone) in m.value for m in at.markdown)

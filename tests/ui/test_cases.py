"""The focal point's Cases screen: the list and its filters, a case's page (diagrams, steps,
timeline, tasks, consents), firing a step, a stale page, a new case, the logged reveal of
personal data, and who may not open it at all."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from workflows.domain.access import Actor
from workflows.queries import casebook
from workflows.services import cases

SYSTEM = Actor.system("test")
PAGE = str(Path(__file__).resolve().parents[2] / "ui" / "pages" / "cases.py")
CO_ATTRS = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
PE_ATTRS = {"jurisdiction": "PE-LMA", "minor": False, "nationality": "VE"}
SYNTHETIC = {"given_name": "Prueba", "family_name": "Sintética", "document_number": "X-000"}


def open_co(svc, person=None) -> str:
    return cases.open_case(
        svc, svc.catalog.latest_published("CO-TRATA"), CO_ATTRS, SYSTEM, person=person
    )


def open_pe(svc) -> str:
    return cases.open_case(svc, svc.catalog.latest_published("PE-TRATA"), PE_ATTRS, SYSTEM)


def listed(at: AppTest) -> list[str]:
    if not at.dataframe:
        return []
    return list(at.dataframe[0].value["Reference"])


def care_state(svc, ref: str) -> str:
    return cases.load_case(svc, ref, SYSTEM).tracks["care"].state


def test_the_list_shows_the_cases_in_scope_and_the_filters_narrow_it(console, console_svc):
    older = open_co(console_svc)
    console_svc.clock.advance(timedelta(days=3))  # `older`'s first task is overdue now
    newer = open_co(console_svc)
    cases.fire(console_svc, newer, "care", "case_registered", SYSTEM)
    peru = open_pe(console_svc)

    at = console("fp.co").run()
    assert not at.exception
    assert at.title[0].value == "Cases"
    assert listed(at) == [newer, older]  # newest first; never the Peruvian case
    assert peru not in listed(at)

    at.selectbox(key="cases_state").select("identification").run()
    assert listed(at) == [newer]
    at.selectbox(key="cases_state").select(None).run()
    at.checkbox(key="cases_overdue").check().run()
    assert listed(at) == [older]
    row = at.dataframe[0].value.iloc[0]
    assert row["Overdue"] >= 1
    assert row["Open tasks"] >= row["Overdue"]
    at.checkbox(key="cases_overdue").uncheck().run()
    at.text_input(key="cases_ref").input(older.lower()).run()  # prefix, any case
    assert listed(at) == [older]
    at.text_input(key="cases_ref").input("CO-1999").run()
    assert listed(at) == []
    assert "No case matches" in at.info[0].value


def test_the_list_is_paginated_by_25(console, console_svc):
    refs = [open_co(console_svc) for _ in range(27)]
    at = console("fp.co").run()
    assert listed(at) == refs[::-1][:25]
    assert any(c.value == "27 cases · page 1 of 2" for c in at.caption)
    at.number_input(key="cases_page").set_value(2).run()
    assert listed(at) == refs[1::-1]
    at.text_input(key="cases_ref").input(refs[0]).run()  # a new filter starts on page 1
    assert listed(at) == [refs[0]]
    assert at.number_input(key="cases_page").value == 1


def test_opening_a_case_shows_diagrams_steps_timeline_and_tasks(console, console_svc):
    ref = open_co(console_svc)
    at = console("fp.co").run()
    at.text_input(key="cases_ref").input("CO-2026").run()
    at.selectbox(key="cases_open").select(ref).run()
    assert not at.exception
    assert at.query_params["case"] == ref
    assert at.header[0].value == f"Case {ref}"
    case = cases.load_case(console_svc, ref, SYSTEM)
    charts = at.get("graphviz_chart")
    assert len(charts) == len(case.tracks) >= 2
    care = charts[0].proto.spec
    assert care.startswith('digraph "CO-TRATA 2026.1: Protection and assistance"')
    # the current state stands out, named in the reader's language
    assert 'reported [label="Case intake (COAT)\\l" color=red' in care
    assert any(b.key == "fire_care_case_registered" for b in at.button)
    blocked = [m.value for m in at.markdown if m.value.startswith("🔒")]
    assert any("consent for law_enforcement_contact has not been recorded" in b for b in blocked)
    tables = {next(iter(df.value.columns)): df.value for df in at.dataframe}
    tasks = tables["Task"]
    assert set(tasks["Status"]) == {"Requested"}
    assert len(tasks) == len(case.open_tasks())
    timeline = tables["When"]
    assert "Case opened" in list(timeline["What"])
    assert list(timeline["What"])[-1] == "Case opened"  # newest first

    at.button(key="cases_back").click().run()
    assert "case" not in at.query_params
    assert listed(at) == [ref]
    assert at.text_input(key="cases_ref").value == "CO-2026"  # the filters are kept


def test_an_email_link_opens_the_case_page(console, console_svc):
    ref = open_co(console_svc)
    at = console("fp.co")
    at.query_params["case"] = ref
    at.run()
    assert not at.exception
    assert at.header[0].value == f"Case {ref}"


def test_firing_an_allowed_step_moves_the_track(console, console_svc):
    ref = open_co(console_svc)
    at = console("fp.co")
    at.query_params["case"] = ref
    at.run()
    at.button(key="fire_care_case_registered").click().run()
    assert not at.exception
    assert not at.error
    assert "Done: Case registered." in at.success[0].value
    assert care_state(console_svc, ref) == "identification"
    assert any("Case characterisation" in m.value for m in at.markdown if "Now:" in m.value)


def test_a_stale_page_is_refused_with_a_reload_prompt_and_changes_nothing(console, console_svc):
    ref = open_co(console_svc)
    at = console("fp.co")
    at.query_params["case"] = ref
    at.run()
    # someone else changes the case while the page is open
    cases.record_consent(console_svc, ref, "assistance", True, SYSTEM)
    at.button(key="fire_care_case_registered").click().run()
    assert "changed since you loaded it" in at.error[0].value
    assert care_state(console_svc, ref) == "reported"
    at.button(key="cases_reload").click().run()
    assert not at.error
    at.button(key="fire_care_case_registered").click().run()  # the fresh page works
    assert care_state(console_svc, ref) == "identification"


def test_recording_consent_from_the_case_page(console, console_svc):
    ref = open_co(console_svc)
    at = console("fp.co")
    at.query_params["case"] = ref
    at.run()
    at.selectbox(key="consent_purpose").select("law_enforcement_contact")
    at.button(key="consent_submit").click().run()
    assert not at.exception
    assert "Consent recorded." in at.success[0].value
    case = cases.load_case(console_svc, ref, SYSTEM)
    assert [(c.purpose, c.given) for c in case.consents] == [("law_enforcement_contact", True)]
    assert any(b.key == "fire_justice_file_complaint" for b in at.button)  # no longer blocked


def test_recording_a_new_case_puts_the_person_in_the_protected_record(console, console_svc):
    at = console("fp.co").run()
    at.text_input(key="new_jurisdiction").input("co-nar-52356")
    at.text_input(key="new_nationality").input("ve")
    at.checkbox(key="new_minor").check()
    at.text_input(key="new_given_name").input("Prueba")
    at.text_input(key="new_family_name").input("Sintética")
    at.date_input(key="new_birth_date").set_value(date(2010, 5, 1))
    at.button(key="new_case_submit").click().run()
    assert not at.exception
    assert not at.error
    message = at.success[0].value
    ref = message.split()[1]
    assert message == f"Case {ref} recorded."
    assert ref.startswith("CO-2026-")
    case = cases.load_case(console_svc, ref, SYSTEM)
    assert case.attributes == {"jurisdiction": "CO-NAR-52356", "minor": True, "nationality": "VE"}
    with console_svc.uow() as uow:
        person = uow.cases.person(uow.cases.get(ref))
    assert person == {
        "given_name": "Prueba",
        "family_name": "Sintética",
        "birth_date": "2010-05-01",
    }
    assert at.text_input(key="new_given_name").value == ""  # not kept in the form
    assert listed(at) == [ref]
    at.button(key="cases_open_new").click().run()
    assert at.header[0].value == f"Case {ref}"


def test_a_case_with_a_wrong_jurisdiction_is_refused_with_the_reason(console, console_svc):
    at = console("fp.co").run()
    at.text_input(key="new_jurisdiction").input("PE-LMA")
    at.button(key="new_case_submit").click().run()
    assert "jurisdiction" in at.error[0].value
    assert listed(at) == []


def test_revealing_personal_data_asks_a_reason_shows_the_record_and_logs_it(console, console_svc):
    ref = open_co(console_svc, person=SYNTHETIC)
    at = console("fp.co")
    at.query_params["case"] = ref
    at.run()
    assert not any("Prueba" in str(t.value) for t in at.table)
    at.button(key="cases_reveal").click().run()
    assert at.button(key="cases_reveal_show").disabled  # no reason yet
    at.selectbox(key="cases_reveal_reason").select("contact_person").run()
    at.button(key="cases_reveal_show").click().run()
    assert not at.exception
    shown = at.table[0].value
    assert "Prueba" in list(shown["Value"])
    assert "Sintética" in list(shown["Value"])
    fp = Actor("fp.co", "focal_point", "co-mininterior-coat", frozenset({"CO"}))
    viewed = [
        e
        for e in casebook.case_detail(console_svc, fp, ref).timeline
        if e.kind == "personal_data_viewed"
    ]
    assert [(e.actor, e.data) for e in viewed] == [
        (
            "fp.co",
            {
                "reason": "contact_person",
                "fields": ["document_number", "family_name", "given_name"],
            },
        )
    ]
    at.run()  # any other action hides it again; the next view asks again
    assert not at.table
    assert any(b.key == "cases_reveal" for b in at.button)


def test_finding_a_case_by_document_number_asks_a_reason_and_forgets_the_number(
    console, console_svc
):
    ref = open_co(console_svc, person=SYNTHETIC)
    open_co(console_svc, person={**SYNTHETIC, "document_number": "X-999"})
    at = console("fp.co").run()
    at.text_input(key="cases_doc_number").input("x 000")
    at.button[[b.label for b in at.button].index("Search")].click().run()
    assert at.error[0].value == "Choose a reason."
    at.text_input(key="cases_doc_number").input("x 000")
    at.selectbox(key="cases_doc_reason").select("verification")
    at.button[[b.label for b in at.button].index("Search")].click().run()
    assert not at.exception
    assert [b.label for b in at.button if b.key.startswith("cases_doc_C")] == [ref]
    assert at.session_state["cases_doc_number"] == ""  # the form cleared: the number is gone
    at.button(key=f"cases_doc_{ref}").click().run()
    assert at.header[0].value == f"Case {ref}"
    fp = Actor("fp.co", "focal_point", "co-mininterior-coat", frozenset({"CO"}))
    searched = [
        (e.actor, e.data)
        for e in casebook.case_detail(console_svc, fp, ref).timeline
        if e.kind == "personal_data_searched"
    ]
    assert searched == [("fp.co", {"reason": "verification"})]


def test_a_peruvian_focal_point_cannot_open_a_colombian_case(console, console_svc):
    ref = open_co(console_svc)
    at = console("fp.pe")
    at.query_params["case"] = ref
    at.run()
    assert not at.exception
    assert "their country scope is PE" in at.error[0].value
    assert not at.get("graphviz_chart")


@pytest.mark.parametrize("persona", ["off.ipiales", "mgr.co", "admin"])
def test_other_roles_have_no_cases_page_and_the_page_refuses_them(console, console_svc, persona):
    ref = open_co(console_svc)
    at = console(persona).run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/cases.py")  # not in their menu
    # opened directly (bypassing the menu), the page asks the service layer, which refuses
    page = AppTest.from_file(PAGE, default_timeout=30)
    page.session_state["services"] = console_svc
    page.session_state["locale"] = "en"
    page.session_state["user"] = at.session_state["user"]
    page.session_state["last_seen"] = console_svc.clock.now()
    page.query_params["case"] = ref
    page.run()
    assert not page.exception
    assert "only focal points work on whole cases" in page.error[0].value
    assert not page.dataframe
    assert not page.get("graphviz_chart")


def test_the_case_page_shows_protocol_labels_and_dates_in_the_user_s_language(console, console_svc):
    ref = open_co(console_svc)
    at = console("fp.co", locale="es")
    at.query_params["case"] = ref
    at.run()
    assert not at.exception
    now = [m.value for m in at.markdown if "Recepción del caso (COAT)" in m.value]
    assert now, [m.value for m in at.markdown]
    assert "2 mar 2026" in now[0]  # Babel, in Bogota time (the case's zone)
    assert "9:00" in now[0]


def test_past_tasks_name_their_reason_in_words(console, console_svc):
    ref = open_co(console_svc)
    cases.fire(console_svc, ref, "care", "case_registered", SYSTEM)  # cancels the intake task
    at = console("fp.co")
    at.query_params["case"] = ref
    at.run()
    assert not at.exception
    past = [df.value for df in at.dataframe if "Reason" in df.value.columns][-1]
    assert list(past["Status"]) == ["Cancelled"]
    assert list(past["Reason"]) == ["The case moved to another step"]  # not `state_left`

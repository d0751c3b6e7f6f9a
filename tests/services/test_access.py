"""Access rules in detail, on the real seed directory (in-memory ports): what each persona
sees of a case's fields, and the refusals' words. Who may do which action at all is the
matrix of test_access_matrix.py.
"""

from __future__ import annotations

import pytest

from institutions.directory import InMemoryDirectory
from institutions.seeds import load_seeds
from protocols.registry import Registry
from tests.services.conftest import memory_services
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import NotAuthorised
from workflows.domain.ports import Services
from workflows.queries import compliance, inbox
from workflows.services import cases, privacy, tasks

SYSTEM = Actor.system("test")
# obviously synthetic people, every protected field filled
PERSON_CO = {
    "given_name": "Zorbalina",
    "family_name": "Sintética Prueba",
    "document_type": "passport",
    "document_number": "SYN-CO-000111",
    "birth_date": "1990-01-01",
    "phone": "+57 300 000 0000",
    "address": "Calle Ficticia 0",
    "narrative": "Relato sintético de prueba",
}
PERSON_PE = {**PERSON_CO, "given_name": "Quintila", "document_number": "SYN-PE-000222"}
PERSONAS = {
    "focal point CO": Actor("fp.co", "focal_point", "co-mininterior-coat", frozenset({"CO"})),
    "focal point PE": Actor("fp.pe", "focal_point", "pe-mimp", frozenset({"PE"})),
    "Ipiales shelter": Actor("off.ipiales", "officer", "co-alcaldia-ipiales"),
    "Lima police unit": Actor("off.dirctptim", "officer", "pe-pnp-dirctptim"),
    "manager CO": Actor("mgr.co", "manager", "co-comite-interinstitucional", frozenset({"CO"})),
    "admin CO": Actor("admin.co", "admin", "co-mininterior-coat", frozenset({"CO"})),
}


@pytest.fixture
def world(clock: SimulatedClock) -> tuple[Services, str, str]:
    """The seed directory, a CO case with lodging asked of Ipiales, a Lima case."""
    registry = Registry.scan()
    svc = memory_services(clock, registry, InMemoryDirectory(load_seeds()))
    co = cases.open_case(
        svc,
        registry.latest_published("CO-TRATA"),
        {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
        SYSTEM,
        person=PERSON_CO,
    )
    move = tasks.move
    move(svc, SYSTEM, co, "register_case", "complete")
    cases.record_consent(svc, co, "assistance", True, SYSTEM)
    move(svc, SYSTEM, co, "security_risk_assessment", "complete", outcome={"risk_level": "low"})
    outcome = {"modality": "external", "victim_abroad": False}
    move(svc, SYSTEM, co, "characterise_case", "complete", outcome=outcome)
    pe = cases.open_case(
        svc,
        registry.latest_published("PE-TRATA"),
        {"jurisdiction": "PE-LMA", "minor": False, "nationality": "VE"},
        SYSTEM,
        person=PERSON_PE,
    )
    return svc, co, pe


def test_the_ipiales_shelter_sees_its_task_but_not_the_lima_case(world):
    svc, co, pe = world
    shelter = PERSONAS["Ipiales shelter"]
    rows = inbox.inbox(svc, shelter)
    assert [(r.case_ref, r.task_key) for r in rows] == [(co, "arrange_lodging")]
    with pytest.raises(NotAuthorised, match="addressed to pe-pnp-dirctptim"):
        tasks.view_task(svc, shelter, pe, "register_case_reta")
    with pytest.raises(NotAuthorised, match="only focal points work on whole cases"):
        cases.load_case(svc, pe, shelter)


def test_a_decision_is_recorded_by_the_role_it_belongs_to_or_a_focal_point(world):
    svc, co, _pe = world
    committee = Actor("off.comite", "officer", "co-comite-trata-narino")
    training = Actor("off.sena", "officer", "co-sena")
    with pytest.raises(NotAuthorised, match="that is for comite_territorial"):
        cases.approve(svc, co, "mediate_plan", "comite_territorial", training)
    cases.approve(svc, co, "mediate_plan", "comite_territorial", committee)
    with pytest.raises(NotAuthorised, match="their country scope is PE"):
        cases.approve(svc, co, "mediate_plan", "comite_territorial", PERSONAS["focal point PE"])
    case = cases.load_case(svc, co, PERSONAS["focal point CO"])
    assert [a.name for a in case.approvals] == ["mediate_plan"]


# --- field-level need-to-know ---------------------------------------------------------------
# What each persona gets of each case's fields: `refused`, or the attributes and person fields
# it sees (and those the step would share once consent allows). The CO lodging step shares
# given and family name, minor, risk and nationality with the territorial entity (risk is
# not set yet, so it is not there); the PE
# police registration shares the identity, document, birth date and narrative with the unit.
NAMES = ["family_name", "given_name"]
IDENTITY = ["birth_date", "document_number", "document_type", "family_name", "given_name"]
PE_POLICE = {
    "attributes": ["jurisdiction", "minor", "nationality"],
    "person": [],
    "withheld": [*IDENTITY, "narrative"],
}
CO_LODGING = {"attributes": ["minor", "nationality"], "person": NAMES, "withheld": []}
EVERYTHING = sorted(PERSON_CO)
FIELDS: dict[str, dict[str, object]] = {
    "focal point CO": {
        "CO lodging task": CO_LODGING,
        "PE police task": "refused",
        "reveal CO": EVERYTHING,
        "reveal PE": "refused",
        "find CO document": "CO",
        "find PE document": [],
    },
    "focal point PE": {
        "CO lodging task": "refused",
        "PE police task": PE_POLICE,
        "reveal CO": "refused",
        "reveal PE": EVERYTHING,
        "find CO document": [],
        "find PE document": "PE",
    },
    "Ipiales shelter": {
        "CO lodging task": CO_LODGING,
        "PE police task": "refused",
        "reveal CO": "refused",
        "reveal PE": "refused",
        "find CO document": "refused",
        "find PE document": "refused",
    },
    "Lima police unit": {
        "CO lodging task": "refused",
        "PE police task": PE_POLICE,
        "reveal CO": "refused",
        "reveal PE": "refused",
        "find CO document": "refused",
        "find PE document": "refused",
    },
    **{
        persona: dict.fromkeys(
            (
                "CO lodging task",
                "PE police task",
                "reveal CO",
                "reveal PE",
                "find CO document",
                "find PE document",
            ),
            "refused",
        )
        for persona in ("manager CO", "admin CO")
    },
}


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_each_persona_sees_exactly_the_fields_the_protocol_shares_with_it(world, persona):
    svc, co, pe = world
    # consent to share with the lodging institution (CO), none yet with the police (PE)
    cases.record_consent(svc, co, "data_sharing", True, SYSTEM, role="entidad_territorial")
    actor = PERSONAS[persona]
    probes = {
        "CO lodging task": lambda: _projection(tasks.view_task(svc, actor, co, "arrange_lodging")),
        "PE police task": lambda: _projection(
            tasks.view_task(svc, actor, pe, "register_case_reta")
        ),
        "reveal CO": lambda: sorted(privacy.reveal_person(svc, actor, co, "case_work")),
        "reveal PE": lambda: sorted(privacy.reveal_person(svc, actor, pe, "case_work")),
        "find CO document": lambda: privacy.find_by_document(
            svc, actor, "syn co 000111", "verification"
        ),
        "find PE document": lambda: privacy.find_by_document(
            svc, actor, "SYN-PE-000222", "verification"
        ),
    }
    seen: dict[str, object] = {}
    for name, probe in probes.items():
        try:
            seen[name] = probe()
        except NotAuthorised as exc:
            seen[name] = "refused" if actor.name in str(exc) else str(exc)
    expected = {
        name: {"CO": [co], "PE": [pe]}.get(want, want) if isinstance(want, str) else want
        for name, want in FIELDS[persona].items()
    }
    assert seen == expected


def _projection(view: tasks.TaskView) -> dict[str, list[str]]:
    shared = PERSON_CO if view.country == "CO" else PERSON_PE
    for field, value in view.person.items():  # the values are the person's, unaltered
        assert value == shared[field]
    return {
        "attributes": sorted(view.attributes),
        "person": sorted(view.person),
        "withheld": sorted(view.withheld),
    }


def test_a_manager_gets_counts_and_never_an_identity(world):
    svc, co, _pe = world
    rows = compliance.counts(svc, PERSONAS["manager CO"], {"CO"})
    text = repr(rows)
    assert rows
    assert co not in text
    for value in PERSON_CO.values():
        assert value not in text

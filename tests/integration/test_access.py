"""Access rules as a matrix of personas, on the real directory, on SQLite and PostgreSQL.

Each persona tries each action on a Colombian case in Ipiales (Narino) and a Peruvian case
in Lima. The service layer, not the console, says yes or no, and a no names why.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from institutions.seeds import load_seeds
from institutions.store import SqlDirectory
from protocols.registry import Registry
from tests.conftest import VAULT
from workflows import inbox, services
from workflows.access import Actor
from workflows.clocks import SimulatedClock
from workflows.errors import NotAuthorised
from workflows.repository import SqlUnitOfWork
from workflows.services import Services

SYSTEM = Actor.system("test")
PERSONAS = {
    "focal point CO": Actor("fp.co", "focal_point", "co-mininterior-coat", frozenset({"CO"})),
    "focal point PE": Actor("fp.pe", "focal_point", "pe-mimp", frozenset({"PE"})),
    "Ipiales shelter": Actor("off.ipiales", "officer", "co-alcaldia-ipiales"),
    "Lima police unit": Actor("off.dirctptim", "officer", "pe-pnp-dirctptim"),
    "manager CO": Actor("mgr.co", "manager", "co-comite-interinstitucional", frozenset({"CO"})),
    "admin CO": Actor("admin.co", "admin", "co-mininterior-coat", frozenset({"CO"})),
}
ACTIONS = (
    "read CO case",
    "read PE case",
    "fire on CO case",
    "fire on PE case",
    "view CO lodging task",
    "view PE police task",
    "accept CO lodging task",
    "accept PE police task",
    "cancel CO lodging task",
    "Ipiales inbox",
    "Lima police inbox",
    "compliance CO",
    "compliance PE",
)
# persona -> the actions it may do; every other action must be refused.
ALLOWED = {
    "focal point CO": {
        "read CO case",
        "fire on CO case",
        "view CO lodging task",
        "cancel CO lodging task",
        "compliance CO",
    },
    "focal point PE": {"read PE case", "fire on PE case", "view PE police task", "compliance PE"},
    "Ipiales shelter": {"view CO lodging task", "accept CO lodging task", "Ipiales inbox"},
    "Lima police unit": {"view PE police task", "accept PE police task", "Lima police inbox"},
    "manager CO": {"compliance CO"},
    "admin CO": set(),
}


@pytest.fixture
def world(engine: Engine, clock: SimulatedClock) -> tuple[Services, str, str]:
    """The seed directory, a CO case with lodging asked of Ipiales, a Lima case."""
    with engine.begin() as conn:
        SqlDirectory(conn).upsert(load_seeds())
    registry = Registry.scan()
    svc = Services(uow=lambda: SqlUnitOfWork(engine, VAULT), clock=clock, catalog=registry)
    co = services.open_case(
        svc,
        registry.latest_published("CO-TRATA"),
        {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
        SYSTEM,
    )
    move = inbox.move
    move(svc, SYSTEM, co, "register_case", "complete")
    services.record_consent(svc, co, "assistance", True, SYSTEM)
    move(svc, SYSTEM, co, "security_risk_assessment", "complete", outcome={"risk_level": "low"})
    outcome = {"modality": "external", "victim_abroad": False}
    move(svc, SYSTEM, co, "characterise_case", "complete", outcome=outcome)
    pe = services.open_case(
        svc,
        registry.latest_published("PE-TRATA"),
        {"jurisdiction": "PE-LMA", "minor": False, "nationality": "VE"},
        SYSTEM,
    )
    return svc, co, pe


def _actions(svc: Services, co: str, pe: str) -> dict[str, Callable[[Actor], object]]:
    return {
        "read CO case": lambda a: services.load_case(svc, co, a),
        "read PE case": lambda a: services.load_case(svc, pe, a),
        "fire on CO case": lambda a: services.set_attributes(svc, co, {"risk": "low"}, a),
        "fire on PE case": lambda a: services.set_attributes(svc, pe, {"risk": "low"}, a),
        "view CO lodging task": lambda a: inbox.view_task(svc, a, co, "arrange_lodging"),
        "view PE police task": lambda a: inbox.view_task(svc, a, pe, "register_case_reta"),
        "accept CO lodging task": lambda a: inbox.move(svc, a, co, "arrange_lodging", "accept"),
        "accept PE police task": lambda a: inbox.move(svc, a, pe, "register_case_reta", "accept"),
        "cancel CO lodging task": lambda a: inbox.move(
            svc, a, co, "arrange_lodging", "cancel", reason="not_needed"
        ),
        "Ipiales inbox": lambda a: inbox.inbox(svc, a, "co-alcaldia-ipiales"),
        "Lima police inbox": lambda a: inbox.inbox(svc, a, "pe-pnp-dirctptim"),
        "compliance CO": lambda a: inbox.compliance(svc, a, {"CO"}),
        "compliance PE": lambda a: inbox.compliance(svc, a, {"PE"}),
    }


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_each_persona_may_do_exactly_what_its_role_and_scope_allow(world, persona):
    svc, co, pe = world
    actor = PERSONAS[persona]
    outcome = {}
    for action in ACTIONS:
        try:
            _actions(svc, co, pe)[action](actor)
        except NotAuthorised as exc:
            outcome[action] = str(exc)
        else:
            outcome[action] = "allowed"
    allowed = {a for a, result in outcome.items() if result == "allowed"}
    assert allowed == ALLOWED[persona], outcome
    for result in outcome.values():
        if result != "allowed":  # a refusal names who and why, never a person's data
            assert actor.name in result, result


def test_the_ipiales_shelter_sees_its_task_but_not_the_lima_case(world):
    svc, co, pe = world
    shelter = PERSONAS["Ipiales shelter"]
    rows = inbox.inbox(svc, shelter)
    assert [(r.case_ref, r.task_key) for r in rows] == [(co, "arrange_lodging")]
    with pytest.raises(NotAuthorised, match="addressed to pe-pnp-dirctptim"):
        inbox.view_task(svc, shelter, pe, "register_case_reta")
    with pytest.raises(NotAuthorised, match="only focal points work on whole cases"):
        services.load_case(svc, pe, shelter)


def test_a_decision_is_recorded_by_the_role_it_belongs_to_or_a_focal_point(world):
    svc, co, _pe = world
    committee = Actor("off.comite", "officer", "co-comite-trata-narino")
    training = Actor("off.sena", "officer", "co-sena")
    with pytest.raises(NotAuthorised, match="that is for comite_territorial"):
        services.approve(svc, co, "mediate_plan", "comite_territorial", training)
    services.approve(svc, co, "mediate_plan", "comite_territorial", committee)
    with pytest.raises(NotAuthorised, match="their country scope is PE"):
        services.approve(svc, co, "mediate_plan", "comite_territorial", PERSONAS["focal point PE"])
    case = services.load_case(svc, co, PERSONAS["focal point CO"])
    assert [a.name for a in case.approvals] == ["mediate_plan"]

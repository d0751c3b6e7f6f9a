"""Every service action x every persona (role x institution x jurisdiction), on the seed directory.

The world: Colombian cases in Ipiales (Narino) at the lodging step, one return to Ecuador
whose handoff Ecuador accepted (its arrival not yet confirmed), a Peruvian case in Lima.
Each persona tries each action on its own copy of the world; the service layer, not the
console, says yes or no. An action is allowed when it succeeds and refused when it raises
NotAuthorised naming the actor; any other outcome is a fault of the world or the code.

A new service action (a public function of `workflows.services` or `workflows.queries` taking
an `actor`) or a new task move fails `test_every_service_action_has_a_row` until it is given
a row here.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import workflows.queries
import workflows.services
from institutions.directory import InMemoryDirectory
from institutions.domain import Institution, User
from institutions.seeds import load_seeds
from institutions.store import SqlDirectory
from protocols.loader import LoadedProtocol
from protocols.registry import Registry
from ruta.db import make_engine, upgrade
from tests.conftest import START, VAULT
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import NotAuthorised
from workflows.domain.lifecycle import MOVES
from workflows.domain.ports import Services
from workflows.queries import casebook, compliance, directory, inbox
from workflows.services import admin, cases, crossborder, privacy, tasks
from workflows.store.memory import InMemoryUnitOfWork, MemoryData
from workflows.store.uow import SqlUnitOfWork

SYSTEM = Actor.system("test")
CO, PE = frozenset({"CO"}), frozenset({"PE"})
COLLEAGUE = User("off.colleague", "co-alcaldia-ipiales", "officer")  # whom admins change
PERSONAS = {
    # focal points: by country
    "focal point CO": Actor("fp.co", "focal_point", "co-mininterior-coat", CO),
    "focal point EC": Actor("fp.ec", "focal_point", "ec-mininterior-dptt", frozenset({"EC"})),
    "focal point PE": Actor("fp.pe", "focal_point", "pe-mimp", PE),
    # the institution the lodging task is addressed to, by role
    "Ipiales town hall officer": Actor("off.ipiales", "officer", "co-alcaldia-ipiales"),
    "Ipiales town hall manager": Actor("mgr.ipiales", "manager", "co-alcaldia-ipiales", CO),
    "Ipiales town hall admin": Actor("adm.ipiales", "admin", "co-alcaldia-ipiales", CO),
    # the same role (entidad_territorial) in another municipality of Narino
    "Pasto town hall officer": Actor("off.pasto", "officer", "co-alcaldia-pasto"),
    # the approver role (comite_territorial): routed, above on the chain, elsewhere
    "Narino committee officer": Actor("off.narino", "officer", "co-comite-trata-narino"),
    "national committee officer": Actor("off.comite", "officer", "co-comite-interinstitucional"),
    "Bogota committee officer": Actor("off.bogota", "officer", "co-comite-trata-bogota"),
    "SENA officer": Actor("off.sena", "officer", "co-sena"),
    # the receiving side of the return to Ecuador
    "Ecuador DPTT officer": Actor("off.dptt", "officer", "ec-mininterior-dptt"),
    "Ecuador DPTT manager": Actor("mgr.dptt", "manager", "ec-mininterior-dptt", frozenset({"EC"})),
    "Ecuador health officer": Actor("off.msp", "officer", "ec-msp"),
    "Lima police officer": Actor("off.dirctptim", "officer", "pe-pnp-dirctptim"),
    "manager CO": Actor("mgr.co", "manager", "co-comite-interinstitucional", CO),
    "admin CO": Actor("admin.co", "admin", "co-mininterior-coat", CO),
}
PERSON = {
    "given_name": "Zorbalina",
    "family_name": "Sintética Prueba",
    "document_type": "passport",
    "document_number": "SYN-CO-000333",
}
LODGING = "arrange_lodging"
ADULT_IN_IPIALES = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "EC"}


@dataclass
class World:
    """The cases in memory (each try on its own copy) and the same cases in SQLite, for the
    read models that are SQL only (case list, case page, compliance report)."""

    data: MemoryData
    clock: SimulatedClock
    registry: Registry
    sql: Services
    refs: dict[str, str]  # co (lodging requested), started, held, returned, ec (linked), pe
    clean: Services | None = None  # a copy nothing has changed yet (a refusal changes nothing)

    def services(self, action: str) -> Services:
        """Services on a copy of the world where no action has succeeded yet: what one try
        does never reaches another."""
        if action in SQL_READS:
            return self.sql
        if self.clean is not None:
            return self.clean
        # the pinned protocols and the events are read-only here: shared, not copied
        shared: dict[int, object] = {id(e): e for e in self.data.events}
        shared.update({id(loaded): loaded for loaded, _at in self.data.pinned.values()})
        data = copy.deepcopy(self.data, shared)
        self.clean = Services(
            lambda: InMemoryUnitOfWork(data), copy.copy(self.clock), self.registry
        )
        return self.clean


def _co_case(svc: Services, registry: Registry) -> str:
    ref = cases.open_case(
        svc, registry.latest_published("CO-TRATA"), ADULT_IN_IPIALES, SYSTEM, person=PERSON
    )
    tasks.move(svc, SYSTEM, ref, "register_case", "complete")
    cases.record_consent(svc, ref, "assistance", True, SYSTEM)
    cases.record_consent(svc, ref, "data_sharing", True, SYSTEM)
    low = {"risk_level": "low"}
    tasks.move(svc, SYSTEM, ref, "security_risk_assessment", "complete", outcome=low)
    cases.set_attributes(svc, ref, {"risk": "low"}, SYSTEM)
    outcome = {"modality": "external", "victim_abroad": False}
    tasks.move(svc, SYSTEM, ref, "characterise_case", "complete", outcome=outcome)
    return ref


def _returned_to_ecuador(svc: Services, registry: Registry) -> tuple[str, str]:
    """A CO case whose return handoff Ecuador accepted: (the CO case, the linked EC case)."""
    ref = _co_case(svc, registry)
    move = tasks.move
    for key in (LODGING, "immediate_assistance_plan", "emergency_health_care"):
        move(svc, SYSTEM, ref, key, "complete")
    cases.record_consent(svc, ref, "return", True, SYSTEM)
    cases.fire(svc, ref, "care", "decide_solution", SYSTEM)
    move(svc, SYSTEM, ref, "pre_return_risk_assessment", "complete", outcome={"risk_level": "low"})
    plan = {"solution": "voluntary_return"}
    move(svc, SYSTEM, ref, "durable_solution_plan", "complete", outcome=plan)
    cases.fire(svc, ref, "care", "choose_voluntary_return", SYSTEM)
    move(svc, SYSTEM, ref, "return_handoff", "accept")
    with svc.uow() as uow:
        linked = uow.cases.get(ref).links[0].ref
    return ref, linked


def _build(svc: Services, registry: Registry) -> dict[str, str]:
    refs = {"co": _co_case(svc, registry)}
    refs["started"] = _co_case(svc, registry)
    tasks.move(svc, SYSTEM, refs["started"], LODGING, "start")
    refs["held"] = _co_case(svc, registry)
    tasks.move(svc, SYSTEM, refs["held"], LODGING, "hold", reason="security")
    refs["returned"], refs["ec"] = _returned_to_ecuador(svc, registry)
    refs["pe"] = cases.open_case(
        svc,
        registry.latest_published("PE-TRATA"),
        {"jurisdiction": "PE-LMA", "minor": False, "nationality": "VE"},
        SYSTEM,
        person={**PERSON, "document_number": "SYN-PE-000444"},
    )
    return refs


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    registry = Registry.scan()
    seeds = load_seeds()
    data = MemoryData(directory=InMemoryDirectory(seeds, [COLLEAGUE]))
    clock = SimulatedClock(START)
    refs = _build(Services(lambda: InMemoryUnitOfWork(data), clock, registry), registry)
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'ruta.sqlite3'}")
    upgrade(engine)
    with engine.begin() as conn:
        SqlDirectory(conn).upsert(seeds)
    sql = Services(lambda: SqlUnitOfWork(engine, VAULT), SimulatedClock(START), registry)
    assert _build(sql, registry) == refs
    yield World(data, clock, registry, sql, refs)
    engine.dispose()


Action = Callable[[Services, dict[str, str], Actor], object]


# read models that are SQL only: these run on the SQLite world (they change nothing)
SQL_READS = {
    "CO case page",
    "list cases",
    "case list filters",
    "compliance report",
    "compliance filters",
}
MOVES_TRIED: set[str] = set()


def _move(name: str, case: str = "co", task: str = LODGING, **kw: Any) -> Action:
    MOVES_TRIED.add(name)
    return lambda s, r, a: tasks.move(s, a, r[case], task, name, **kw)


# action -> (the service function it exercises, how)
ACTIONS: dict[str, tuple[Callable[..., object], Action]] = {
    "open a CO case": (
        cases.open_case,
        lambda s, r, a: cases.open_case(s, _co_trata(s), ADULT_IN_IPIALES, a),
    ),
    "read the CO case": (cases.load_case, lambda s, r, a: cases.load_case(s, r["co"], a)),
    "read the PE case": (cases.load_case, lambda s, r, a: cases.load_case(s, r["pe"], a)),
    "CO case page": (casebook.case_detail, lambda s, r, a: casebook.case_detail(s, a, r["co"])),
    "list cases": (casebook.list_cases, lambda s, r, a: casebook.list_cases(s, a)),
    "case list filters": (casebook.list_options, lambda s, r, a: casebook.list_options(s, a)),
    "protocols for a new case": (
        casebook.new_case_protocols,
        lambda s, r, a: casebook.new_case_protocols(s, a),
    ),
    "fire on the CO case": (
        cases.fire,
        lambda s, r, a: cases.fire(s, r["co"], "shelter", "lodging_not_needed", a),
    ),
    "set CO attributes": (
        cases.set_attributes,
        lambda s, r, a: cases.set_attributes(s, r["co"], {"risk": "medium"}, a),
    ),
    "record CO consent": (
        cases.record_consent,
        lambda s, r, a: cases.record_consent(s, r["co"], "return", True, a),
    ),
    "approve the CO mediate plan": (
        cases.approve,
        lambda s, r, a: cases.approve(s, r["co"], "mediate_plan", "comite_territorial", a),
    ),
    "extend CO immediate assistance": (
        cases.extend,
        lambda s, r, a: cases.extend(s, r["co"], "comite_territorial", a, track="care"),
    ),
    "reveal the CO person": (
        privacy.reveal_person,
        lambda s, r, a: privacy.reveal_person(s, a, r["co"], "case_work"),
    ),
    "find a CO document": (
        privacy.find_by_document,
        lambda s, r, a: privacy.find_by_document(s, a, "SYN-CO-000333", "verification"),
    ),
    "view the lodging task": (
        tasks.view_task,
        lambda s, r, a: tasks.view_task(s, a, r["co"], LODGING),
    ),
    "lodging outcome form": (
        inbox.step_outcome,
        lambda s, r, a: inbox.step_outcome(s, a, r["co"], LODGING),
    ),
    "receive the lodging task": (tasks.move, _move("receive")),
    "accept the lodging task": (tasks.move, _move("accept")),
    "reject the lodging task": (tasks.move, _move("reject", reason="no_capacity")),
    "start the lodging task": (tasks.move, _move("start")),
    "hold the lodging task": (tasks.move, _move("hold", reason="security")),
    "resume the held lodging task": (tasks.move, _move("resume", case="held")),
    "complete the lodging task": (tasks.move, _move("complete")),
    "fail the started lodging task": (
        tasks.move,
        _move("fail", case="started", reason="person_declined"),
    ),
    "cancel the lodging task": (tasks.move, _move("cancel", reason="not_needed")),
    "accept the PE police task": (tasks.move, _move("accept", "pe", "register_case_reta")),
    "reassign the lodging task": (
        tasks.assign,
        lambda s, r, a: tasks.assign(s, a, r["co"], LODGING, None),
    ),
    "refer the lodging task to Narino": (
        tasks.refer,
        lambda s, r, a: tasks.refer(s, a, r["co"], LODGING, "co-gobernacion-narino"),
    ),
    "confirm the arrival in Ecuador": (
        crossborder.confirm_arrival,
        lambda s, r, a: crossborder.confirm_arrival(s, a, r["ec"]),
    ),
    "Ipiales inbox": (inbox.inbox, lambda s, r, a: inbox.inbox(s, a, "co-alcaldia-ipiales")),
    "own inbox": (inbox.inbox, lambda s, r, a: inbox.inbox(s, a)),
    "colleagues": (inbox.colleagues, lambda s, r, a: inbox.colleagues(s, a)),
    "own institution": (inbox.own_institution, lambda s, r, a: inbox.own_institution(s, a)),
    "CO compliance counts": (
        compliance.counts,
        lambda s, r, a: compliance.counts(s, a, {"CO"}),
    ),
    "compliance report": (compliance.report, lambda s, r, a: compliance.report(s, a)),
    "compliance filters": (compliance.options, lambda s, r, a: compliance.options(s, a)),
    "CO routing gaps": (
        compliance.routing_gaps,
        lambda s, r, a: compliance.routing_gaps(s, a, {"CO"}),
    ),
    "directory": (directory.directory_rows, lambda s, r, a: directory.directory_rows(s, a)),
    "directory gaps": (directory.gaps_for_admin, lambda s, r, a: directory.gaps_for_admin(s, a)),
    "import institutions": (
        admin.import_institutions,
        lambda s, r, a: admin.import_institutions(s, a, [_institution(s, "co-sena")]),
    ),
    "add a user": (
        admin.add_user,
        lambda s, r, a: admin.add_user(s, a, User("off.new", "co-sena", "officer")),
    ),
    "deactivate a user": (
        admin.set_active,
        lambda s, r, a: admin.set_active(s, a, COLLEAGUE.username, active=False),
    ),
    "change a user's role": (
        admin.set_role,
        lambda s, r, a: admin.set_role(s, a, COLLEAGUE.username, "manager", CO),
    ),
    "reset a user's password": (
        admin.reset_password,
        lambda s, r, a: admin.reset_password(s, a, COLLEAGUE.username, "an argon2 hash"),
    ),
}


# Everyone with an institution sees what it is; officers and focal points their own inbox and
# colleagues (to reassign within it).
MINE = {"own institution"}
INBOX = MINE | {"own inbox", "colleagues"}
# Lists and filters are scoped: a focal point or manager of another country gets its own rows.
LISTS = {"list cases", "case list filters", "protocols for a new case", "find a CO document"}
FIGURES = {"compliance report", "compliance filters"}
RESPONDER = {
    "view the lodging task",
    "lodging outcome form",
    "receive the lodging task",
    "accept the lodging task",
    "reject the lodging task",
    "start the lodging task",
    "hold the lodging task",
    "resume the held lodging task",
    "complete the lodging task",
    "fail the started lodging task",
    "reassign the lodging task",
    "Ipiales inbox",
}
DECISIONS = {"approve the CO mediate plan", "extend CO immediate assistance"}
# administrators keep the directory: institutions and user accounts
DIRECTORY = {
    "directory",
    "directory gaps",
    "import institutions",
    "add a user",
    "deactivate a user",
    "change a user's role",
    "reset a user's password",
}
# persona -> the actions it may do; every other action must be refused.
ALLOWED: dict[str, set[str]] = {
    "focal point CO": INBOX
    | LISTS
    | FIGURES
    | DECISIONS
    | {
        "open a CO case",
        "read the CO case",
        "CO case page",
        "fire on the CO case",
        "set CO attributes",
        "record CO consent",
        "reveal the CO person",
        "view the lodging task",  # the requester sees what it asked for
        "lodging outcome form",
        "cancel the lodging task",
        "refer the lodging task to Narino",
        "CO compliance counts",
        "CO routing gaps",
    },
    # the receiving country's focal point confirms an arrival from Colombia, nothing more
    "focal point EC": INBOX | LISTS | FIGURES | {"confirm the arrival in Ecuador"},
    "focal point PE": INBOX | LISTS | FIGURES | {"read the PE case"},
    "Ipiales town hall officer": INBOX | RESPONDER,
    # a manager or an administrator of the very institution makes no task move
    "Ipiales town hall manager": MINE | FIGURES | {"CO compliance counts", "CO routing gaps"},
    "Ipiales town hall admin": MINE | DIRECTORY,
    # the same role in the next municipality: no part in this case
    "Pasto town hall officer": INBOX,
    # the approver role where the case is, and up its chain; not in another department
    "Narino committee officer": INBOX | DECISIONS,
    "national committee officer": INBOX | DECISIONS,
    "Bogota committee officer": INBOX,
    "SENA officer": INBOX,
    "Ecuador DPTT officer": INBOX | {"confirm the arrival in Ecuador"},
    "Ecuador DPTT manager": MINE | FIGURES,
    "Ecuador health officer": INBOX,
    "Lima police officer": INBOX | {"accept the PE police task"},
    "manager CO": MINE | FIGURES | {"CO compliance counts", "CO routing gaps"},
    "admin CO": MINE | DIRECTORY,
}


def _co_trata(svc: Services) -> LoadedProtocol:
    found = svc.catalog.latest("CO", "trafficking")
    assert found is not None
    return found


def _institution(svc: Services, institution_id: str) -> Institution:
    with svc.uow() as uow:
        found = uow.directory.institution(institution_id)
    assert found is not None
    return found


def _try(world: World, persona: str, action: str) -> str:
    """ "allowed", "refused", or a refusal that does not name who was refused."""
    actor = PERSONAS[persona]
    try:
        ACTIONS[action][1](world.services(action), world.refs, actor)
    except NotAuthorised as exc:
        return "refused" if actor.name in str(exc) else f"refused without naming who: {exc}"
    world.clean = None
    return "allowed"


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_each_persona_may_do_exactly_what_its_role_institution_and_place_allow(world, persona):
    outcome = {action: _try(world, persona, action) for action in ACTIONS}
    assert sorted(a for a, said in outcome.items() if said == "allowed") == sorted(ALLOWED[persona])
    assert {said for said in outcome.values()} <= {"allowed", "refused"}, outcome


def test_every_persona_and_action_has_a_row():
    assert set(ALLOWED) == set(PERSONAS)
    for persona, actions in ALLOWED.items():
        assert actions <= set(ACTIONS), (persona, actions - set(ACTIONS))


# internals of the service layer that take an actor but are not actions of their own
INTERNAL = {"change", "engine", "new_case", "run", "scoped"}


def test_every_service_action_has_a_row():
    """A public function of the services or queries taking an actor is an action: it needs a
    row in ACTIONS (and so a cell for every persona); every task move needs one too."""
    functions = set()
    for package in (workflows.services, workflows.queries):
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            for name, function in inspect.getmembers(module, inspect.isfunction):
                public = function.__module__ == module.__name__ and not name.startswith("_")
                if public and "actor" in inspect.signature(function).parameters:
                    functions.add(f"{module.__name__}.{name}")
    covered = {f"{f.__module__}.{f.__name__}" for f, _how in ACTIONS.values()}
    missing = functions - covered - {f for f in functions if f.rsplit(".", 1)[1] in INTERNAL}
    assert not missing, f"service actions with no row in ACTIONS: {sorted(missing)}"
    assert set(MOVES) <= MOVES_TRIED, f"task moves with no row: {sorted(set(MOVES) - MOVES_TRIED)}"

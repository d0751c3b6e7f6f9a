"""The casebook read models and use cases on SQLite and PostgreSQL: the case list (filters,
pagination, scope), the steps allowed now with what blocks the others, and the logged reveal
of the protected person record."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from institutions.seeds import load_seeds
from institutions.store import SqlDirectory
from protocols.registry import Registry
from tests.conftest import VAULT
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import InvalidInput, NotAuthorised
from workflows.domain.ports import Services
from workflows.queries import casebook
from workflows.services import cases, privacy, tasks
from workflows.store import tables
from workflows.store.uow import SqlUnitOfWork

SYSTEM = Actor.system("test")
FP_CO = Actor("fp.co", "focal_point", "co-mininterior-coat", frozenset({"CO"}))
FP_PE = Actor("fp.pe", "focal_point", "pe-mimp", frozenset({"PE"}))
FP_BOTH = Actor("fp.andes", "focal_point", "co-mininterior-coat", frozenset({"CO", "PE"}))
OFFICER = Actor("off.ipiales", "officer", "co-alcaldia-ipiales")
MANAGER = Actor("mgr.co", "manager", "co-comite-interinstitucional", frozenset({"CO"}))
ADMIN = Actor("admin.co", "admin", "co-mininterior-coat", frozenset({"CO"}))
CO_ATTRS = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
PE_ATTRS = {"jurisdiction": "PE-LMA", "minor": False, "nationality": "VE"}
SYNTHETIC = {"given_name": "Prueba", "family_name": "Sintética", "document_type": "passport"}


@pytest.fixture
def svc(engine: Engine, clock: SimulatedClock) -> Services:
    with engine.begin() as conn:
        SqlDirectory(conn).upsert(load_seeds())
    return Services(uow=lambda: SqlUnitOfWork(engine, VAULT), clock=clock, catalog=Registry.scan())


def open_co(svc: Services, person: dict[str, str] | None = None) -> str:
    loaded = svc.catalog.latest("CO", "trafficking")
    assert loaded is not None
    return cases.open_case(svc, loaded, CO_ATTRS, SYSTEM, person=person)


def open_pe(svc: Services) -> str:
    loaded = svc.catalog.latest("PE", "trafficking")
    assert loaded is not None
    return cases.open_case(svc, loaded, PE_ATTRS, SYSTEM)


@pytest.fixture
def world(svc: Services, clock: SimulatedClock) -> dict[str, str]:
    """An overdue CO case, a CO case moved on to identification, a closed CO case, a PE case."""
    overdue = open_co(svc)
    clock.advance(timedelta(days=3))
    identified = open_co(svc)
    tasks.move(svc, SYSTEM, identified, "register_case", "complete")
    clock.advance(timedelta(hours=1))
    closed = open_co(svc)
    cases.fire(svc, closed, "care", "withdraw", SYSTEM)
    clock.advance(timedelta(hours=1))
    peru = open_pe(svc)
    return {"overdue": overdue, "identified": identified, "closed": closed, "peru": peru}


def refs(page: casebook.CasePage) -> list[str]:
    return [r.ref for r in page.rows]


def test_a_focal_point_lists_only_the_cases_of_their_countries_newest_first(svc, world):
    co = casebook.list_cases(svc, FP_CO)
    assert refs(co) == [world["closed"], world["identified"], world["overdue"]]
    assert (co.total, co.page, co.pages) == (3, 1, 1)
    assert refs(casebook.list_cases(svc, FP_PE)) == [world["peru"]]
    both = casebook.list_cases(svc, FP_BOTH)
    assert refs(both)[0] == world["peru"]
    assert both.total == 4
    assert refs(casebook.list_cases(svc, FP_BOTH, country="PE")) == [world["peru"]]
    with pytest.raises(NotAuthorised, match="may not list CO cases; their country scope is PE"):
        casebook.list_cases(svc, FP_PE, country="CO")


def test_each_row_says_where_the_case_stands_computed_in_sql(svc, world):
    rows = {r.ref: r for r in casebook.list_cases(svc, FP_CO).rows}
    overdue, identified, closed = (rows[world[k]] for k in ("overdue", "identified", "closed"))
    assert overdue.care_state == "reported"
    assert overdue.overdue_tasks >= 1
    assert overdue.open_tasks >= overdue.overdue_tasks
    assert identified.care_state == "identification"
    assert identified.overdue_tasks == 0
    assert closed.care_state == "withdrawn"
    assert closed.closed_at is not None
    assert closed.open_tasks == closed.overdue_tasks == 0
    assert overdue.protocol_id == "CO-TRATA"
    assert overdue.jurisdiction == "CO-NAR-52356"
    assert overdue.lead_institution == "co-mininterior-coat"
    case = cases.load_case(svc, world["overdue"], SYSTEM)
    assert overdue.open_tasks == len(case.open_tasks())
    assert overdue.version == case.version


def test_the_filters_narrow_the_list(svc, world):
    def listed(**filters: object) -> list[str]:
        return refs(casebook.list_cases(svc, FP_CO, **filters))  # type: ignore[arg-type]

    assert listed(care_state="identification") == [world["identified"]]
    assert listed(overdue_only=True) == [world["overdue"]]
    assert listed(lead_institution="co-mininterior-coat") == listed()
    assert listed(lead_institution="co-alcaldia-ipiales") == []
    assert listed(ref_prefix=world["identified"].lower()) == [world["identified"]]
    assert listed(ref_prefix="CO-2026-") == listed()
    assert listed(ref_prefix="CO-2026-%") == []  # a prefix, not a pattern
    assert listed(care_state="reported", overdue_only=True) == [world["overdue"]]
    options = casebook.list_options(svc, FP_CO)
    assert options.countries == ["CO"]
    assert {"reported", "identification", "withdrawn"} <= set(options.care_states)
    assert options.care_states["reported"].get("en") == "Case intake (COAT)"
    assert list(options.lead_institutions) == ["co-mininterior-coat"]


def test_the_list_is_paginated_and_a_page_past_the_end_shows_the_last(svc):
    opened = [open_co(svc) for _ in range(7)]
    newest_first = opened[::-1]
    first = casebook.list_cases(svc, FP_CO, page_size=3)
    assert (refs(first), first.total, first.pages) == (newest_first[:3], 7, 3)
    assert refs(casebook.list_cases(svc, FP_CO, page=2, page_size=3)) == newest_first[3:6]
    last = casebook.list_cases(svc, FP_CO, page=99, page_size=3)
    assert (refs(last), last.page) == (newest_first[6:], 3)
    empty = casebook.list_cases(svc, FP_PE)
    assert (empty.rows, empty.total, empty.page, empty.pages) == ([], 0, 1, 1)


@pytest.mark.parametrize("actor", [OFFICER, MANAGER, ADMIN], ids=lambda a: a.role)
def test_only_focal_points_use_the_casebook(svc, world, actor):
    ref = world["overdue"]
    calls = [
        lambda: casebook.list_cases(svc, actor),
        lambda: casebook.list_options(svc, actor),
        lambda: casebook.case_detail(svc, actor, ref),
        lambda: privacy.reveal_person(svc, actor, ref, "case_work"),
        lambda: casebook.new_case_protocols(svc, actor),
    ]
    for call in calls:
        with pytest.raises(NotAuthorised, match="only focal points work on whole cases") as exc:
            call()
        assert actor.name in str(exc.value)


def test_allowed_steps_say_which_triggers_are_blocked_and_why(svc, world):
    steps = casebook.case_detail(svc, FP_CO, world["overdue"], "en").steps
    care = {s.trigger: s for s in steps["care"]}
    assert care["case_registered"].allowed
    assert care["case_registered"].unmet == []
    assert care["case_registered"].label == "Case registered"
    assert care["case_registered"].target == "identification"
    assert care["case_registered"].fired_by == ["register_case"]
    justice = {s.trigger: s for s in steps["justice"]}
    blocked = justice["file_complaint"]
    assert not blocked.allowed
    assert blocked.unmet == ["consent for law_enforcement_contact has not been recorded"]
    cases.record_consent(svc, world["overdue"], "law_enforcement_contact", True, SYSTEM)
    after = casebook.case_detail(svc, FP_CO, world["overdue"], "en").steps
    assert {s.trigger: s for s in after["justice"]}["file_complaint"].allowed
    closed = casebook.case_detail(svc, FP_CO, world["closed"]).steps
    assert all(not s.allowed for track in closed.values() for s in track)
    assert closed["care"] == []  # withdrawn is final: nothing leaves it
    with pytest.raises(NotAuthorised, match="their country scope is PE"):
        casebook.case_detail(svc, FP_PE, world["overdue"])


def test_the_case_detail_holds_the_timeline_newest_first_and_no_personal_data(svc):
    ref = open_co(svc, person=SYNTHETIC)
    detail = casebook.case_detail(svc, FP_CO, ref, "en")
    kinds = [e.kind for e in detail.timeline]
    assert kinds[-1] == "case_opened"
    assert "personal_data_recorded" in kinds
    assert detail.has_person
    assert "Prueba" not in repr(detail)
    assert detail.institutions["co-mininterior-coat"].startswith("Ministerio del Interior")
    assert set(detail.steps) == set(detail.case.tracks)
    assert not casebook.case_detail(svc, FP_CO, open_co(svc)).has_person


def test_revealing_personal_data_records_the_reason_and_the_field_names_only(svc, engine):
    ref = open_co(svc, person=SYNTHETIC)
    version = cases.load_case(svc, ref, SYSTEM).version
    with pytest.raises(InvalidInput, match="reasons: case_work, contact_person"):
        privacy.reveal_person(svc, FP_CO, ref, "curiosity")
    with pytest.raises(NotAuthorised, match="their country scope is PE"):
        privacy.reveal_person(svc, FP_PE, ref, "case_work")
    assert privacy.reveal_person(svc, FP_CO, ref, "verification") == SYNTHETIC
    e = tables.events
    with engine.connect() as conn:
        rows = conn.execute(
            select(e.c.actor, e.c.data).where(e.c.kind == "personal_data_viewed")
        ).all()
    assert [(r.actor, r.data) for r in rows] == [
        ("fp.co", {"reason": "verification", "fields": sorted(SYNTHETIC)})
    ]  # one event: the refusals left none, and no value is in it
    assert cases.load_case(svc, ref, SYSTEM).version == version  # no claim, no bump


def test_new_cases_open_under_the_latest_published_protocol_of_the_scope(svc):
    assert [p.id for p in casebook.new_case_protocols(svc, FP_CO)] == ["CO-TRATA"]
    assert [p.id for p in casebook.new_case_protocols(svc, FP_BOTH)] == [
        "CO-TRATA",
        "PE-TRATA",
        "PE-TIM",  # Peru's smuggled-migrants route too
    ]

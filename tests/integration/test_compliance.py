"""Compliance figures on real databases (SQLite always, PostgreSQL in CI), to the exact number.

The `figures` fixture works three cases of the synthetic CO-TEST protocol with the simulated
clock (T0 = Monday 2026-03-02 09:00 in Bogota; `characterise` is due a business day later,
T0+24h):

- A (adult): `characterise` completed at T0+2h (on time); admitted, so `admit` is cancelled
  and `lodge` (Ipiales, 24 h) and `find_bed` (Ipiales, 12 h) open. At T0+6h Ipiales rejects
  `lodge` (no capacity: re-routed to Narino, due T0+30h) and completes `find_bed` (4 h, on
  time). Narino completes `lodge` at T0+36h: 30 h, late.
- B (minor): the child-authority task is a routing gap; `characterise` completed at T0+28h
  (late); `admit` opens then, due T0+52h.
- C (adult): `characterise` still open at T0+36h: overdue.
"""

from __future__ import annotations

import statistics
from datetime import timedelta
from typing import Any

import pytest
import yaml
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, inspect, select

from institutions.seeds import load_seeds
from institutions.store import SqlDirectory
from protocols.registry import SCENARIOS_DIR, Registry
from protocols.yamlfile import YamlDocument
from ruta.db import alembic_config, make_engine, upgrade
from ruta.scenarios import run
from tests.conftest import FOCAL_CO, START, VAULT, officer
from workflows.domain.access import Actor
from workflows.domain.case import Event
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import NotAuthorised
from workflows.domain.events import EventKind
from workflows.domain.ports import Services
from workflows.queries import compliance
from workflows.queries.compliance import (
    Filters,
    FunnelStep,
    Gap,
    Handoff,
    OnTime,
    Overdue,
    Rejection,
    StepTime,
)
from workflows.queries.figures import SqlCompliance
from workflows.services import cases, tasks
from workflows.services.sweep import sweep
from workflows.store import facts, tables
from workflows.store.uow import SqlUnitOfWork

ME = FOCAL_CO
ADULT = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
MANAGER_CO = Actor("mgr.co", "manager", "test-coordination", frozenset({"CO"}))
MANAGER_ALL = Actor("mgr.all", "manager", "test-coordination", frozenset({"CO", "PE"}))
FOCAL_PE = Actor("fp.pe", "focal_point", "pe-mimp", frozenset({"PE"}))


@pytest.fixture
def figures(svc, test_protocol, clock) -> dict[str, str]:
    a = cases.open_case(svc, test_protocol, ADULT, ME)
    b = cases.open_case(svc, test_protocol, {**ADULT, "minor": True}, ME)
    c = cases.open_case(svc, test_protocol, ADULT, ME)
    clock.advance(timedelta(hours=2))
    tasks.move(svc, ME, a, "characterise", "complete", outcome={"modality": "internal"})
    cases.record_consent(svc, a, "assistance", True, ME)
    cases.fire(svc, a, "care", "admit_immediate", ME)
    clock.advance(timedelta(hours=4))
    ipiales = officer("test-shelter-ipiales")
    tasks.move(svc, ipiales, a, "lodge", "reject", reason="no_capacity")
    tasks.move(svc, ipiales, a, "find_bed", "complete")
    clock.advance(timedelta(hours=22))
    tasks.move(svc, ME, b, "characterise", "complete", outcome={"modality": "external"})
    clock.advance(timedelta(hours=8))  # T0+36h
    tasks.move(svc, officer("test-shelter-narino"), a, "lodge", "complete")
    return {"A": a, "B": b, "C": c}


def test_on_time_rates_per_step_institution_country_and_month(svc, figures):
    report = compliance.report(svc, MANAGER_CO, locale="en")
    assert report.countries == ("CO",)
    assert report.by_step == [
        OnTime("characterise", 2, 1, "CO-TEST", "Characterise"),
        OnTime("find_bed", 1, 1, "CO-TEST", "Bed"),
        OnTime("lodge", 1, 0, "CO-TEST", "Lodge"),
    ]
    assert [r.rate for r in report.by_step] == [0.5, 1.0, 0.0]
    assert report.by_institution == [
        OnTime("test-lead", 2, 1),
        OnTime("test-shelter-ipiales", 1, 1),
        OnTime("test-shelter-narino", 1, 0),
    ]
    assert report.by_country == [OnTime("CO", 4, 2)]
    assert report.by_month == [OnTime("2026-03", 4, 2)]
    assert report.by_country[0].late == 2
    es = compliance.report(svc, MANAGER_CO, locale="es")
    assert [r.label for r in es.by_step] == ["Caracterizar", "Cupo", "Alojar"]


def test_overdue_now_per_country_and_institution(svc, figures, clock):
    report = compliance.report(svc, MANAGER_CO)
    # C's characterise is past due; B's admit (due T0+52h) is open but not yet due
    assert report.overdue == [Overdue("CO", "test-lead", open=2, overdue=1)]
    clock.advance(timedelta(hours=16))  # T0+52h: admit is due now, not yet past due
    assert compliance.report(svc, MANAGER_CO).overdue == [Overdue("CO", "test-lead", 2, 1)]
    clock.advance(timedelta(minutes=1))
    assert compliance.report(svc, MANAGER_CO).overdue == [Overdue("CO", "test-lead", 2, 2)]


def test_a_task_on_hold_is_not_overdue(svc, figures, clock):
    tasks.move(svc, ME, figures["C"], "characterise", "hold", reason="waiting_for_person")
    assert compliance.report(svc, MANAGER_CO).overdue == []


def test_median_and_90th_percentile_hours_per_step(svc, figures):
    assert compliance.report(svc, MANAGER_CO, locale="en").step_times == [
        # 2 h and 28 h: median 15, p90 = 2 + 0.9 * 26
        StepTime("CO-TEST", "characterise", 2, 15.0, 25.4, "Characterise"),
        StepTime("CO-TEST", "find_bed", 1, 4.0, 4.0, "Bed"),
        StepTime("CO-TEST", "lodge", 1, 30.0, 30.0, "Lodge"),
    ]


def test_the_care_funnel_counts_cases_that_ever_reached_each_state_in_protocol_order(
    svc, figures, clock
):
    funnel = compliance.report(svc, MANAGER_CO, locale="en").funnel
    assert funnel == [
        FunnelStep("CO-TEST", "reported", 3, "Reported"),
        FunnelStep("CO-TEST", "identified", 2, "Identified"),
        FunnelStep("CO-TEST", "immediate", 1, "Immediate"),
    ]
    clock.advance(timedelta(days=6))  # A's immediate period expires: it moves on to review
    sweep(svc)
    funnel = compliance.report(svc, MANAGER_CO, locale="en").funnel
    assert [(f.state, f.cases) for f in funnel] == [
        ("reported", 3),
        ("identified", 2),
        ("immediate", 1),  # A left it, but it reached it
        ("review", 1),
    ]


def test_rejection_reasons_and_routing_gaps(svc, figures):
    report = compliance.report(svc, MANAGER_CO, locale="en")
    assert report.rejections == [Rejection("no_capacity", 1)]
    assert report.gaps == [Gap("CO", "child_authority", 1, "Child authority")]
    assert report.handoffs == []
    assert report.institutions["test-shelter-narino"] == "Test shelter of Narino"


def test_filters_narrow_every_figure(svc, figures):
    def report(**filters):
        return compliance.report(svc, MANAGER_CO, Filters(**filters))

    narino = report(institution="test-shelter-narino")
    assert narino.by_step == [OnTime("lodge", 1, 0, "CO-TEST", "Alojar")]
    assert (narino.overdue, narino.rejections, narino.gaps) == ([], [], [])
    ipiales = report(institution="test-shelter-ipiales")
    assert ipiales.rejections == [Rejection("no_capacity", 1)]
    # tasks created from T0+1h on: not the three characterise tasks of T0
    later = report(since=START + timedelta(hours=1))
    assert [(r.key, r.completed) for r in later.by_step] == [("find_bed", 1), ("lodge", 1)]
    assert later.overdue == []
    assert later.funnel == []  # the funnel counts cases opened in the range
    before = report(until=START + timedelta(hours=1))
    assert before.by_country == [OnTime("CO", 2, 1)]
    assert [f.cases for f in before.funnel] == [3, 2, 1]
    assert before.gaps == [Gap("CO", "child_authority", 1, "Autoridad de niñez")]
    other = report(protocol="CO-TRATA")
    assert (other.by_country, other.funnel, other.gaps) == ([], [], [])
    assert report(protocol="CO-TEST", countries=frozenset({"CO"})).by_country == [
        OnTime("CO", 4, 2)
    ]


def test_a_manager_reads_only_the_countries_in_scope(svc, figures):
    assert compliance.report(svc, MANAGER_CO).countries == ("CO",)
    assert compliance.report(svc, FOCAL_CO).by_country == [OnTime("CO", 4, 2)]
    with pytest.raises(NotAuthorised, match=r"mgr.co .* may not read compliance for PE"):
        compliance.report(svc, MANAGER_CO, Filters(countries=frozenset({"CO", "PE"})))
    with pytest.raises(NotAuthorised, match="fp.pe .* may not read compliance for CO"):
        compliance.report(svc, FOCAL_PE, Filters(countries=frozenset({"CO"})))
    assert compliance.report(svc, FOCAL_PE).by_country == []  # PE: nothing there
    for refused in (
        officer("test-shelter-ipiales"),
        Actor("admin.co", "admin", None, ME.countries),
    ):
        with pytest.raises(NotAuthorised, match="may not read compliance for CO"):
            compliance.report(svc, refused, Filters(countries=frozenset({"CO"})))
        with pytest.raises(NotAuthorised, match=f"{refused.name} .* may not read compliance"):
            compliance.options(svc, refused)
    nobody = Actor("mgr.none", "manager", "test-coordination")
    with pytest.raises(NotAuthorised, match="this user has none"):
        compliance.report(svc, nobody)
    pe_only = compliance.report(svc, MANAGER_ALL, Filters(countries=frozenset({"PE"})))
    assert (pe_only.countries, pe_only.by_country) == (("PE",), [])


def test_the_filter_options_are_the_scope_s_protocols_and_institutions(svc, figures):
    opts = compliance.options(svc, MANAGER_CO, locale="en")
    assert opts.countries == ("CO",)
    assert opts.protocols == [("CO-TEST", "Test protocol")]
    ids = [i for i, _ in opts.institutions]
    assert "test-shelter-ipiales" in ids
    assert len(ids) == 9
    assert compliance.options(svc, MANAGER_ALL).protocols == [("CO-TEST", "Protocolo de prueba")]


# --- cross-border handoffs, on the seed directory and the real protocols --------------------


def _scenario_with_wait(wait: str) -> YamlDocument:
    """The Rumichaca return (CO -> EC), Ecuador confirming the arrival `wait` after accepting."""
    path = SCENARIOS_DIR / "co-ec-retorno-rumichaca.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    steps = data["steps"]
    at = next(i for i, s in enumerate(steps) if "confirm_arrival" in s)
    steps.insert(at, {"wait": wait})
    return YamlDocument(f"rumichaca+{wait}", yaml.safe_dump(data, allow_unicode=True))


def test_cross_border_handoff_times_and_open_handoffs(engine: Engine):
    with engine.begin() as conn:
        SqlDirectory(conn).upsert(load_seeds())
    registry = Registry.scan()

    def make(clock: SimulatedClock, inactive: list[str]) -> Services:
        return Services(lambda: SqlUnitOfWork(engine, VAULT), clock, registry)

    for wait in ("1 days", "3 days"):
        result = run(_scenario_with_wait(wait), registry, make)
        assert result.passed, [s.summary for s in result.steps if not s.ok]
    doc = _scenario_with_wait("1 days")
    accepted = {"accept": {"task": "return_handoff"}}
    at = next(i for i, s in enumerate(doc.data["steps"]) if s == accepted)
    assert run(doc, registry, make, steps=at + 1).passed  # accepted, not yet arrived
    svc = Services(lambda: SqlUnitOfWork(engine, VAULT), SimulatedClock(START), registry)
    manager = Actor("mgr.co", "manager", "co-comite-interinstitucional", frozenset({"CO"}))
    (handoff,) = compliance.report(svc, manager).handoffs
    # accepted at creation time, arrival 24 h and 72 h later: median 48, p90 24 + 0.9 * 48
    assert handoff == Handoff(
        "CO", "EC", open=1, accepted=1, completed=2, median_hours=48.0, p90_hours=67.2
    )
    ec = Actor("mgr.ec", "manager", "ec-mininterior-dptt", frozenset({"EC"}))
    assert compliance.report(svc, ec).handoffs == []  # the linked cases hand nothing over
    assert [f.state for f in compliance.report(svc, ec).funnel][:1] == ["reported"]


# --- the read model (workflows/store/facts.py) ---------------------------------------------


def test_the_read_model_rebuilt_by_the_migration_gives_the_same_figures(svc, figures, engine):
    """The rows the repository adds as cases move are exactly what migration 0008 rebuilds
    from the tasks and events of a database that had none."""
    live = compliance.report(svc, MANAGER_CO, locale="en")
    with engine.connect() as conn:
        before = _read_model(conn)
    assert len(before[0]) == 4
    assert len(before[1]) > 3
    command.downgrade(alembic_config(engine), "0007")
    assert not {"task_completions", "care_states_reached"} & set(inspect(engine).get_table_names())
    upgrade(engine)
    with engine.connect() as conn:
        after = _read_model(conn)
    assert after[1] == before[1]
    for was, now in zip(before[0], after[0], strict=True):  # hours: SQL arithmetic vs Python
        assert was[:-1] == now[:-1]
        assert now[-1] == pytest.approx(was[-1], abs=1e-5)
    assert compliance.report(svc, MANAGER_CO, locale="en") == live


def _read_model(conn: Connection) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    d, r = tables.task_completions, tables.care_states_reached
    return (
        [tuple(row) for row in conn.execute(select(d).order_by(d.c.task_id))],
        [tuple(row) for row in conn.execute(select(r).order_by(r.c.case_id, r.c.state))],
    )


def test_a_task_completed_and_a_state_entered_twice_are_counted_once(svc, figures, engine):
    case = cases.load_case(svc, figures["A"], ME)
    done = [t for t in case.tasks if t.status == "completed"]
    again = {"target": case.tracks["care"].state}  # a state it is in: reached already
    case.new_events.append(Event(EventKind.transition, START, "test", again, track="care"))
    with engine.begin() as conn:
        before = _read_model(conn)
        facts.record(conn, case, done)
        assert _read_model(conn) == before
    assert len(done) == 3  # characterise, find_bed, lodge
    assert case.tracks["care"].state in {r[1] for r in before[1]}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hours=st.lists(st.integers(1, 24 * 90), min_size=1, max_size=40))
def test_medians_and_90th_percentiles_interpolate_like_percentile_cont(hours, tmp_path_factory):
    """Read off the index by offset, they equal numpy's and PostgreSQL's linear interpolation
    (statistics.quantiles, inclusive) for any number of completions."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('pct') / 'p.sqlite3'}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # completions alone, without tasks
        rows = [
            {
                "task_id": i,
                "protocol_id": "CO-TEST",
                "task_key": "lodge",
                "institution": "test-shelter-ipiales",
                "country": "CO",
                "created_at": START,
                "completed_at": START + timedelta(hours=h),
                "month": "2026-03",
                "on_time": int(h <= 24),
                "hours": float(h),
            }
            for i, h in enumerate(hours, start=1)
        ]
        conn.execute(tables.task_completions.insert(), rows)
        rates, (times,) = SqlCompliance(conn).completed(Filters())
    engine.dispose()
    cuts = statistics.quantiles(hours, n=10, method="inclusive") if len(hours) > 1 else hours * 9
    assert times.completed == len(hours)
    assert times.median_hours == pytest.approx(statistics.median(hours), abs=0.005)
    assert times.p90_hours == pytest.approx(cuts[8], abs=0.005)
    assert rates["step"][0].on_time == sum(h <= 24 for h in hours)

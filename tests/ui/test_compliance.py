"""The compliance page (manager): charts, tables with the exact figures, filters, CSV, refusals.

Three Colombian cases in Ipiales (CO-TRATA, the seed directory), T0 = Monday 2026-03-02
09:00 in Bogota; `register_case` (the COAT) is due 24 hours after opening:
- case 1: registered at T0+2h (on time); the police reject the risk assessment, which
  returns to the COAT (due T0+26h); the characterisation (Narino committee) is due T0+26h;
- case 2: registered at T0+30h (late);
- case 3: not registered: overdue at T0+30h.
At T0+30h three tasks are overdue: two at the COAT, one at the Narino committee.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from protocols.registry import Registry
from tests.ui.conftest import PERSONAS
from workflows.domain.access import Actor
from workflows.services import cases, tasks

SYSTEM = Actor.system("test")
IPIALES = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
COAT = "Ministerio del Interior: Centro Operativo Anti-Trata de Personas (COAT)"
NARINO_COMMITTEE = "Comité Departamental de Lucha contra la Trata de Personas de Nariño"
PAGE = str(Path(__file__).resolve().parents[2] / "ui" / "pages" / "compliance.py")


@pytest.fixture
def opened(console_svc) -> list[str]:
    svc, clock = console_svc, console_svc.clock
    co = Registry.scan().latest_published("CO-TRATA")
    refs = [cases.open_case(svc, co, IPIALES, SYSTEM) for _ in range(3)]
    clock.advance(timedelta(hours=2))
    tasks.move(svc, SYSTEM, refs[0], "register_case", "complete")
    task = cases.load_case(svc, refs[0], SYSTEM).task("security_risk_assessment")
    police = Actor("off.police", "officer", task.institution)
    tasks.move(svc, police, refs[0], task.key, "reject", reason="not_competent")
    clock.advance(timedelta(hours=28))
    tasks.move(svc, SYSTEM, refs[1], "register_case", "complete")
    return refs


def frame(at, column: str):
    """The first table that has this column."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_the_manager_sees_charts_and_tables_with_the_figures(console, opened):
    at = console("mgr.co").run()
    assert not at.exception
    assert at.title[0].value == "Compliance"
    assert not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Completed on time": "50%",
        "Overdue now": "3",
        "Rejected tasks": "1",
        "Routing gaps": "0",
    }
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    marks = [c["mark"]["type"] for c in charts]
    assert marks == ["line", "bar", "bar", "bar", "bar", "bar"]  # month, country, step ...
    titles = [c["encoding"]["y"]["title"] for c in charts]
    assert titles == ["On-time rate", "Country", "Step", "Step", "Care state", "Reason"]

    months = frame(at, "Month")
    assert months.to_dict("records") == [
        {"Month": "Mar 2026", "Completed": "2", "On time": "1", "Late": "1", "On-time rate": "50%"}
    ]
    country = frame(at, "Country")
    assert country.to_dict("records") == [
        {
            "Country": "Colombia",
            "Completed": "2",
            "On time": "1",
            "Late": "1",
            "On-time rate": "50%",
        }
    ]
    steps = frame(at, "Step")
    assert steps["Step"].str.startswith("Register the case").tolist() == [True]
    assert steps[["Completed", "On-time rate"]].values.tolist() == [["2", "50%"]]
    overdue = frame(at, "Overdue")
    assert overdue.values.tolist() == [
        ["Colombia", COAT, "2", "2"],
        ["Colombia", NARINO_COMMITTEE, "2", "1"],
    ]
    times = frame(at, "Median (hours)")
    # registered after 2 h and 30 h: median 16, p90 2 + 0.9 * 28 = 27.2
    assert times[["Median (hours)", "90th percentile (hours)"]].values.tolist() == [["16", "27.2"]]
    funnel = frame(at, "Care state")
    assert funnel[["Care state", "Cases"]].values.tolist() == [
        ["Case intake (COAT)", "3"],
        ["Case characterisation", "2"],
    ]
    reasons = frame(at, "Reason")
    assert reasons.values.tolist() == [["not within the institution's mandate", "1"]]
    downloads = at.get("download_button")  # one CSV export per table
    assert len(downloads) == len(at.dataframe) == 8  # no gaps, no handoffs: no table
    assert {b.proto.label for b in downloads} == {"Download CSV"}


def test_filters_change_the_figures(console, opened):
    at = console("mgr.co").run()
    at.selectbox(key="cmp_institution").select("co-mininterior-coat").run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Rejected tasks"] == "0"
    assert "Reason" not in [c for df in at.dataframe for c in df.value.columns]
    assert "The funnel counts cases" in " ".join(c.value for c in at.caption)
    at.selectbox(key="cmp_institution").select(None).run()
    at.date_input(key="cmp_period").set_value((date(2026, 3, 3), date(2026, 3, 3))).run()
    # nothing was created on 3 March (Bogota): every table is empty
    assert {m.label: m.value for m in at.metric}["Completed on time"] == "—"
    assert at.info
    assert "Nothing to show" in at.info[0].value
    at.date_input(key="cmp_period").set_value((date(2026, 3, 2), date(2026, 3, 2))).run()
    assert {m.label: m.value for m in at.metric}["Completed on time"] == "50%"
    at.selectbox(key="cmp_protocol").select("CO-TRATA").run()
    assert frame(at, "Country")["Completed"].tolist() == ["2"]


def test_figures_are_formatted_for_the_language(console, opened):
    at = console("mgr.co", locale="es").run()
    assert not at.exception
    assert at.metric[0].value == "50\xa0%"  # Spanish: a (non-breaking) space before %
    assert at.dataframe[0].value.iloc[0].tolist() == ["mar 2026", "2", "1", "1", "50\xa0%"]
    assert "Colombia" in at.caption[0].value
    assert "3 mar 2026" in at.caption[0].value
    at = console("mgr.co", locale="pt").run()
    assert at.dataframe[0].value.iloc[0].tolist() == ["mar. de 2026", "2", "1", "1", "50%"]
    assert "Colômbia" in at.caption[0].value


def test_a_focal_point_of_peru_asking_for_colombia_is_refused(console_svc):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["services"] = console_svc
    at.session_state["locale"] = "en"
    at.session_state["user"] = PERSONAS["fp.pe"]
    at.session_state["last_seen"] = console_svc.clock.now()
    at.query_params["country"] = "CO"
    at.run()
    assert not at.exception
    (error,) = at.error
    assert "fp.pe" in error.value
    assert "may not read compliance for CO" in error.value
    assert not at.dataframe
    assert not at.get("vega_lite_chart")


def test_an_officer_opening_the_page_is_refused(console_svc):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(PAGE, default_timeout=30)
    at.session_state["services"] = console_svc
    at.session_state["locale"] = "en"
    at.session_state["user"] = PERSONAS["off.ipiales"]
    at.session_state["last_seen"] = console_svc.clock.now()
    at.run()
    assert not at.exception
    assert "off.ipiales" in at.error[0].value
    assert not at.dataframe

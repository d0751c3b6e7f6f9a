"""Compliance (managers): on-time rates, overdue now, time per step, the care funnel,
rejections, routing gaps and cross-border handoffs for the countries in the user's scope.

Every figure comes from workflows/queries/compliance.py (SQL aggregates, scope checked
there). A link may name countries (`?country=CO`); one outside the user's scope is refused
by the service.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st
from babel import Locale
from babel.dates import format_skeleton
from babel.numbers import get_decimal_symbol, get_group_symbol

from notifications.labels import reason_label
from ui import deps, i18n
from ui.deps import _
from workflows.domain.errors import NotAuthorised
from workflows.queries import compliance
from workflows.queries.compliance import Filters, Report

actor = deps.actor()
st.title(_("Compliance"))
locale = deps.locale()
svc = deps.services()


def country_name(code: str) -> str:
    return str(Locale.parse(locale).territories.get(code, code))


def month_name(key: str) -> str:
    year, month = key.split("-")
    return str(format_skeleton("yMMM", date(int(year), int(month), 1), locale=locale))


@cache  # the same small numbers fill every table
def count(value: Any) -> str:
    return i18n.number(int(value), locale)


def hours(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else i18n.number(round(float(value), 1), locale)


def rate(value: Any) -> str:
    return i18n.percent(None if value is None or pd.isna(value) else float(value), locale)


Format = Callable[[Any], str]


def enc(name: str, kind: str, title: str | None, **extra: Any) -> dict[str, Any]:
    """One Vega-Lite encoding channel. Chart data keep plain field names; the translated
    words go into titles (a field name with a dot would read as a nested field)."""
    return {"field": name, "type": kind, "title": title, **extra}


def tips(*channels: dict[str, Any]) -> list[dict[str, Any]]:
    """Tooltips of these channels (a tooltip takes no axis, scale or sort)."""
    return [{k: c[k] for k in ("field", "type", "title")} for c in channels]


def chart(
    key: str, rows: list[dict[str, Any]], mark: Literal["bar", "line"], **encoding: Any
) -> None:
    """An Altair chart with the user's decimal and grouping marks. Channels are given as
    dicts: Altair's typed channel classes cost ~20 ms a chart in schema lookups."""
    if not rows:
        return
    number = {
        "decimal": get_decimal_symbol(locale),
        "thousands": get_group_symbol(locale),
        "grouping": [3],
        "currency": ["", ""],
    }
    spec = alt.Chart(pd.DataFrame(rows), mark=mark, encoding=alt.FacetedEncoding(**encoding))
    st.altair_chart(spec.configure(locale={"number": number}), width="stretch", key=key)


def table(
    key: str, rows: list[dict[str, Any]], columns: dict[str, tuple[str, Format | None]]
) -> None:
    """The figures formatted for the user's language, and the raw ones as CSV.

    `columns` maps each field of `rows` to its title and, for numbers, how to show them."""
    if not rows:
        st.info(_("Nothing to show for these filters."))
        return
    raw = pd.DataFrame(rows, columns=list(columns))
    titles = {name: title for name, (title, _fmt) in columns.items()}
    shown = raw.copy()
    for name, (_title, fmt) in columns.items():
        if fmt is not None:
            shown[name] = raw[name].map(fmt)
    st.dataframe(shown.rename(columns=titles), hide_index=True)
    st.download_button(
        _("Download CSV"),
        lambda: raw.rename(columns=titles).to_csv(index=False).encode("utf-8"),  # on click
        file_name=f"ruta-compliance-{key}.csv",
        mime="text/csv",
        key=f"csv_{key}",
        on_click="ignore",
    )


# --- filters ---------------------------------------------------------------------------

try:
    options = compliance.options(svc, actor, locale)
except NotAuthorised as exc:
    st.error(str(exc))
    st.stop()

asked = [c.strip().upper() for c in st.query_params.get_all("country") if c.strip()]
protocols = dict(options.protocols)
institutions = dict(options.institutions)
today = deps.now().date()
cols = st.columns(4)
chosen = cols[0].multiselect(
    _("Countries"),
    sorted({*options.countries, *asked}),
    default=asked or list(options.countries),
    format_func=country_name,
    key="cmp_countries",
)
every_protocol, every_institution = _("All protocols"), _("All institutions")
protocol = cols[1].selectbox(
    _("Protocol"),
    [None, *protocols],
    format_func=lambda p: every_protocol if p is None else f"{p} · {protocols[p]}",
    key="cmp_protocol",
)
period = cols[2].date_input(
    _("Created between"),
    value=[],
    min_value=date(2015, 1, 1),
    max_value=today,
    format="YYYY/MM/DD" if locale == "en" else "DD/MM/YYYY",
    key="cmp_period",
)
institution = cols[3].selectbox(
    _("Institution"),
    [None, *institutions],
    format_func=lambda i: every_institution if i is None else institutions[i],
    key="cmp_institution",
)

zone = ZoneInfo(deps.country_zone(chosen[0] if chosen else (options.countries or ("",))[0]))
days = list(period) if isinstance(period, (list, tuple)) else [period] if period else []
since = datetime.combine(days[0], time(), zone) if days else None
until = datetime.combine(days[-1] + timedelta(days=1), time(), zone) if days else None
filters = Filters(
    countries=frozenset(chosen) or None,
    protocol=protocol,
    since=since,
    until=until,
    institution=institution,
)
try:
    report: Report = compliance.report(svc, actor, filters, locale)
except NotAuthorised as exc:
    st.error(str(exc))
    st.stop()

# --- headline ------------------------------------------------------------------------

completed = sum(r.completed for r in report.by_country)
on_time = sum(r.on_time for r in report.by_country)
m = st.columns(4)
m[0].metric(_("Completed on time"), rate(on_time / completed if completed else None))
m[1].metric(_("Overdue now"), count(sum(o.overdue for o in report.overdue)))
m[2].metric(_("Rejected tasks"), count(sum(r.tasks for r in report.rejections)))
m[3].metric(_("Routing gaps"), count(sum(g.tasks for g in report.gaps)))
st.caption(
    _(
        "Figures for {countries} as of {when}. A task is on time when it was completed by its "
        "due time; months are months of completion (UTC)."
    ).format(
        countries=", ".join(country_name(c) for c in report.countries) or "—",
        when=deps.when(report.at, deps.country_zone(next(iter(report.countries), None))),
    )
)

tabs = st.tabs(
    [
        _("On time"),
        _("Overdue now"),
        _("Time per step"),
        _("Care funnel"),
        _("Rejections and gaps"),
        _("Cross-border handoffs"),
    ]
)
PROTOCOL, STEP, COUNTRY, INST = _("Protocol"), _("Step"), _("Country"), _("Institution")
DONE, ON_TIME, LATE, RATE = _("Completed"), _("On time"), _("Late"), _("On-time rate")
MEDIAN, P90 = _("Median (hours)"), _("90th percentile (hours)")
OPEN, TASKS, CASES = _("Open"), _("Tasks"), _("Cases")
RATES: dict[str, tuple[str, Format | None]] = {
    "completed": (DONE, count),
    "on_time": (ON_TIME, count),
    "late": (LATE, count),
    "rate": (RATE, rate),
}
RATE_AXIS = enc("rate", "quantitative", RATE, axis={"format": "%"}, scale={"domain": [0, 1]})
TIPS = tips(enc("completed", "quantitative", DONE), enc("on_time", "quantitative", ON_TIME))


def rates(r: Any) -> dict[str, Any]:
    return {"completed": r.completed, "on_time": r.on_time, "late": r.late, "rate": r.rate}


def institution_name(code: str) -> str:
    return report.institutions.get(code, code)


with tabs[0]:
    st.subheader(_("On-time rate by month of completion"))
    months = [{"month": month_name(r.key), **rates(r)} for r in report.by_month]
    order = [m["month"] for m in months]
    month_axis = enc("month", "ordinal", _("Month"), sort=order)
    chart(
        "chart_month", months, "line", x=month_axis, y=RATE_AXIS, tooltip=[*tips(month_axis), *TIPS]
    )
    table("months", months, {"month": (_("Month"), None), **RATES})

    st.subheader(_("On-time rate by country"))
    countries = [{"country": country_name(r.key), **rates(r)} for r in report.by_country]
    y = enc("country", "nominal", COUNTRY)
    chart("chart_country", countries, "bar", x=RATE_AXIS, y=y, tooltip=[*tips(y), *TIPS])
    table("countries", countries, {"country": (COUNTRY, None), **RATES})

    st.subheader(_("On-time rate by protocol step"))
    steps = [{"protocol": r.protocol, "step": r.label or r.key, **rates(r)} for r in report.by_step]
    y = enc("step", "nominal", STEP, sort="x")
    chart("chart_step", steps, "bar", x=RATE_AXIS, y=y, tooltip=[*tips(y), *TIPS])
    table("steps", steps, {"protocol": (PROTOCOL, None), "step": (STEP, None), **RATES})

    st.subheader(_("On-time rate by institution"))
    by_inst = [{"institution": institution_name(r.key), **rates(r)} for r in report.by_institution]
    table("institutions", by_inst, {"institution": (INST, None), **RATES})

with tabs[1]:
    st.subheader(_("Open tasks past their due time, by institution"))
    overdue = [
        {
            "country": country_name(o.country),
            "institution": institution_name(o.institution),
            "open": o.open,
            "overdue": o.overdue,
        }
        for o in report.overdue
    ]
    table(
        "overdue",
        overdue,
        {
            "country": (COUNTRY, None),
            "institution": (INST, None),
            "open": (OPEN, count),
            "overdue": (_("Overdue"), count),
        },
    )

with tabs[2]:
    st.subheader(_("Hours from creation to completion, per step"))
    times = [
        {
            "protocol": r.protocol,
            "step": r.label or r.task_key,
            "completed": r.completed,
            "median": r.median_hours,
            "p90": r.p90_hours,
        }
        for r in report.step_times
    ]
    bars = [
        {"step": t["step"], "measure": title, "hours": t[key]}
        for t in times
        for key, title in (("median", MEDIAN), ("p90", P90))
    ]
    y, measure = enc("step", "nominal", STEP), enc("measure", "nominal", None)
    hours_axis = enc("hours", "quantitative", _("Hours"))
    chart(
        "chart_times",
        bars,
        "bar",
        x=hours_axis,
        y=y,
        yOffset=measure,
        color=measure,
        tooltip=tips(y, measure, hours_axis),
    )
    table(
        "times",
        times,
        {
            "protocol": (PROTOCOL, None),
            "step": (STEP, None),
            "completed": (DONE, count),
            "median": (MEDIAN, hours),
            "p90": (P90, hours),
        },
    )

with tabs[3]:
    st.subheader(_("Cases that reached each care state"))
    if institution:
        st.caption(_("The funnel counts cases: the institution filter does not apply to it."))
    STATE = _("Care state")
    funnel = [
        {"protocol": f.protocol, "state": f.label or f.state, "cases": f.cases}
        for f in report.funnel
    ]
    y = enc("state", "nominal", STATE, sort=list(dict.fromkeys(f["state"] for f in funnel)))
    x, color = enc("cases", "quantitative", CASES), enc("protocol", "nominal", PROTOCOL)
    chart("chart_funnel", funnel, "bar", x=x, y=y, color=color, tooltip=tips(color, y, x))
    table(
        "funnel",
        funnel,
        {"protocol": (PROTOCOL, None), "state": (STATE, None), "cases": (CASES, count)},
    )

with tabs[4]:
    REASON = _("Reason")
    st.subheader(_("Why institutions rejected tasks"))
    reasons = [
        {"reason": reason_label(r.reason, locale), "tasks": r.tasks} for r in report.rejections
    ]
    y, x = enc("reason", "nominal", REASON, sort="-x"), enc("tasks", "quantitative", TASKS)
    chart("chart_reasons", reasons, "bar", x=x, y=y, tooltip=tips(y, x))
    table("rejections", reasons, {"reason": (REASON, None), "tasks": (TASKS, count)})

    st.subheader(_("Routing gaps: roles nobody in the directory fills"))
    gaps = [
        {"country": country_name(g.country), "role": g.label or g.role, "tasks": g.tasks}
        for g in report.gaps
    ]
    table(
        "gaps",
        gaps,
        {"country": (COUNTRY, None), "role": (_("Role"), None), "tasks": (TASKS, count)},
    )

with tabs[5]:
    st.subheader(_("Cross-border handoffs"))
    handoffs = [
        {
            "country": country_name(h.country),
            "to": country_name(h.to_country),
            "open": h.open,
            "accepted": h.accepted,
            "completed": h.completed,
            "median": h.median_hours,
            "p90": h.p90_hours,
        }
        for h in report.handoffs
    ]
    table(
        "handoffs",
        handoffs,
        {
            "country": (_("From"), None),
            "to": (_("To"), None),
            "open": (OPEN, count),
            "accepted": (_("Accepted"), count),
            "completed": (_("Arrived"), count),
            "median": (MEDIAN, hours),
            "p90": (P90, hours),
        },
    )

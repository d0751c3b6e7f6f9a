"""Compliance for managers: every figure of the Compliance screen for the actor's scope,
labelled in the reader's language from the protocols the cases run under.

The figures are SQL aggregates (workflows/queries/figures.py); this module checks the scope
and puts them together. No case reference or identity leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from protocols.schema import Protocol
from workflows.domain.access import Actor, require_compliance
from workflows.domain.errors import NotAuthorised
from workflows.domain.ports import ComplianceCounts, Services, UnitOfWork
from workflows.queries.figures import (
    Filters,
    FunnelStep,
    Gap,
    Handoff,
    OnTime,
    Overdue,
    Rejection,
    SqlCompliance,
    StepTime,
)
from workflows.queries.sql import connection

__all__ = [
    "Filters",
    "FunnelStep",
    "Gap",
    "Handoff",
    "OnTime",
    "Options",
    "Overdue",
    "Rejection",
    "Report",
    "StepTime",
    "counts",
    "options",
    "report",
    "routing_gaps",
    "scoped",
]


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the compliance page shows, for one scope and set of filters."""

    countries: tuple[str, ...]
    at: datetime
    by_step: list[OnTime]
    by_institution: list[OnTime]
    by_country: list[OnTime]
    by_month: list[OnTime]
    overdue: list[Overdue]
    step_times: list[StepTime]
    funnel: list[FunnelStep]
    rejections: list[Rejection]
    gaps: list[Gap]
    handoffs: list[Handoff]
    institutions: dict[str, str] = field(default_factory=dict)  # id -> name


@dataclass(frozen=True, slots=True)
class Options:
    """The filter choices of a scope."""

    countries: tuple[str, ...]
    protocols: list[tuple[str, str]]  # (id, title)
    institutions: list[tuple[str, str]]  # (id, name)


def scoped(actor: Actor, filters: Filters) -> Filters:
    """The filters narrowed to what the actor may read; refuse countries outside the scope."""
    wanted = set(filters.countries) if filters.countries else None
    if wanted is None and actor.is_system:
        return filters
    countries = wanted if wanted is not None else set(actor.countries)
    if not countries:  # say why, rather than "may not read compliance for (nothing)"
        raise NotAuthorised(
            f"{actor.describe()} may not read compliance figures: managers and focal points "
            "read them for the countries in their scope, and this user has none."
        )
    require_compliance(actor, countries)
    return replace(filters, countries=frozenset(countries))


def _protocols(uow: UnitOfWork, q: SqlCompliance) -> dict[str, Protocol]:
    return {pid: uow.protocols.pinned(h).protocol for pid, h in q.latest_hashes().items()}


def report(
    svc: Services, actor: Actor, filters: Filters | None = None, locale: str = "es"
) -> Report:
    """Every compliance figure for the actor's scope (or the countries asked, within it),
    labelled in `locale` from the protocols the cases run under."""
    f = scoped(actor, filters or Filters())
    now = svc.clock.now()
    with svc.uow() as uow:
        q = SqlCompliance(connection(uow))
        protocols = _protocols(uow, q)

        def step_label(protocol: str | None, key: str) -> str | None:
            p = protocols.get(protocol or "")
            try:
                return p.task_spec(key)[2].label.get(locale) if p else None
            except KeyError:
                return None

        rates, durations = q.completed(f)
        by_step = [replace(r, label=step_label(r.protocol, r.key)) for r in rates["step"]]
        times = [replace(r, label=step_label(r.protocol, r.task_key)) for r in durations]
        names = {i.id: i.name for i in uow.directory.institutions()}
        return Report(
            countries=tuple(sorted(f.countries or ())),
            at=now,
            by_step=by_step,
            by_institution=rates["institution"],
            by_country=rates["country"],
            by_month=rates["month"],
            overdue=q.overdue(f, now),
            step_times=times,
            funnel=_ordered_funnel(q.funnel(f), protocols, locale),
            rejections=q.rejections(f),
            gaps=[_gap_label(g, protocols, locale) for g in q.gaps(f)],
            handoffs=q.handoffs(f),
            institutions=names,
        )


def _ordered_funnel(
    rows: list[FunnelStep], protocols: dict[str, Protocol], locale: str
) -> list[FunnelStep]:
    """In the order the protocol declares its care states; unknown states last."""

    def position(r: FunnelStep) -> tuple[str, int, str]:
        p = protocols.get(r.protocol)
        states = list(p.tracks["care"].states) if p and "care" in p.tracks else []
        return (r.protocol, states.index(r.state) if r.state in states else len(states), r.state)

    out = []
    for r in sorted(rows, key=position):
        p = protocols.get(r.protocol)
        state = p.tracks["care"].states.get(r.state) if p and "care" in p.tracks else None
        out.append(replace(r, label=state.label.get(locale) if state else None))
    return out


def _gap_label(gap: Gap, protocols: dict[str, Protocol], locale: str) -> Gap:
    for p in protocols.values():
        if p.country == gap.country and gap.role in p.roles:
            return replace(gap, label=p.roles[gap.role].get(locale))
    return gap


def options(svc: Services, actor: Actor, locale: str = "es") -> Options:
    """The countries, protocols and institutions the actor may filter by."""
    f = scoped(actor, Filters())
    with svc.uow() as uow:
        q = SqlCompliance(connection(uow))
        protocols = _protocols(uow, q)
        ids = q.protocol_ids(f)
        countries = sorted(f.countries) if f.countries is not None else []
        institutions = [(i.id, i.name) for c in countries for i in uow.directory.institutions(c)]
    return Options(
        countries=tuple(countries),
        protocols=[(p, protocols[p].title.get(locale) if p in protocols else p) for p in ids],
        institutions=sorted(institutions, key=lambda i: i[1]),
    )


def counts(
    svc: Services, actor: Actor, countries: set[str] | None = None
) -> list[ComplianceCounts]:
    """Task counts per country for the actor's scope: aggregates, never identities."""
    scope = countries if countries is not None else set(actor.countries)
    require_compliance(actor, scope)
    with svc.uow() as uow:
        return uow.inbox.compliance(scope, svc.clock.now())


def routing_gaps(
    svc: Services, actor: Actor, countries: set[str] | None = None
) -> list[tuple[str, str, int]]:
    scope = countries if countries is not None else set(actor.countries)
    require_compliance(actor, scope)
    with svc.uow() as uow:
        return uow.inbox.routing_gaps(scope)

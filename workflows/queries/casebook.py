"""The focal point's casebook: the case list, a case's page and the steps allowed now.

Every function checks the actor first: focal points see the cases of their country scope;
officers, managers and admins are refused (they have their inbox and compliance figures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import get_args

from protocols.loader import LoadedProtocol
from protocols.schema import Labels, Protocol
from workflows.domain.access import Actor, require_case_access, require_casebook
from workflows.domain.case import Case
from workflows.domain.errors import NotAuthorised
from workflows.domain.guards import GuardContext, unmet
from workflows.domain.ports import Services
from workflows.queries.case_list import CaseFilter, CaseRow, SqlCaseList, TimelineEntry
from workflows.queries.sql import connection

PAGE_SIZE = 25
PROGRAMMES: tuple[str, ...] = get_args(Protocol.model_fields["programme"].annotation)


def _scope(actor: Actor, country: str | None) -> frozenset[str] | None:
    """The countries a list may cover: the actor's scope, narrowed to `country` if given."""
    if actor.is_system:
        return frozenset({country}) if country else None
    if country is not None and country not in actor.countries:
        scope = ", ".join(sorted(actor.countries)) or "none"
        raise NotAuthorised(
            f"{actor.describe()} may not list {country} cases; their country scope is {scope}."
        )
    return frozenset({country}) if country else frozenset(actor.countries)


# --- the list -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CasePage:
    rows: list[CaseRow]
    total: int
    page: int  # 1-based, clamped to the pages there are
    pages: int
    page_size: int


def list_cases(
    svc: Services,
    actor: Actor,
    *,
    country: str | None = None,
    care_state: str | None = None,
    overdue_only: bool = False,
    lead_institution: str | None = None,
    ref_prefix: str | None = None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> CasePage:
    """One page of the cases in the actor's scope, newest first, with a total count."""
    require_casebook(actor)
    prefix = (ref_prefix or "").strip().upper() or None
    f = CaseFilter(_scope(actor, country), care_state, overdue_only, lead_institution, prefix)
    now = svc.clock.now()
    with svc.uow() as uow:
        q = SqlCaseList(connection(uow))
        total = q.count(f, now)
        pages = max(1, math.ceil(total / page_size))
        page = min(max(1, page), pages)
        rows = q.page(f, now, page_size, (page - 1) * page_size)
    return CasePage(rows, total, page, pages, page_size)


@dataclass(frozen=True, slots=True)
class ListOptions:
    """What the list filters offer: countries, care states (with labels), lead institutions."""

    countries: list[str]
    care_states: dict[str, Labels]
    lead_institutions: dict[str, str]  # id -> name


def list_options(svc: Services, actor: Actor) -> ListOptions:
    require_casebook(actor)
    scope = None if actor.is_system else frozenset(actor.countries)
    with svc.uow() as uow:
        states: dict[str, Labels] = {}
        for content_hash in uow.protocols.hashes():
            protocol = uow.protocols.pinned(content_hash).protocol
            care = protocol.tracks.get("care")
            if care is None or (scope is not None and protocol.country not in scope):
                continue
            for name, state in care.states.items():
                states.setdefault(name, state.label)
        leads = {}
        for inst_id in SqlCaseList(connection(uow)).lead_institutions(scope):
            inst = uow.directory.institution(inst_id)
            leads[inst_id] = inst.name if inst is not None else inst_id
    return ListOptions(sorted(scope or []), states, leads)


# --- steps allowed now ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """A trigger that leaves a track's current state: allowed now, or why not."""

    track: str
    trigger: str
    label: str
    target: str
    allowed: bool
    unmet: list[str]
    fired_by: list[str]  # task ids whose completion fires it, or "deadline" (its expiry)


def steps(case: Case, loaded: LoadedProtocol, locale: str = "es") -> dict[str, list[Step]]:
    """Per open track of the case, the triggers from its current state, in protocol order."""
    ctx = GuardContext.of(case)
    out: dict[str, list[Step]] = {}
    for name, current in case.tracks.items():
        track = loaded.protocol.tracks.get(name)
        if track is None:
            continue
        state = track.states.get(current.state)
        fired_by: dict[str, list[str]] = {}
        for spec in state.tasks if state is not None else []:
            if spec.on_complete:
                fired_by.setdefault(spec.on_complete, []).append(spec.id)
        if state is not None and state.deadline is not None and state.deadline.on_expiry:
            fired_by.setdefault(state.deadline.on_expiry, []).append("deadline")
        found: dict[str, Step] = {}
        for t in track.transitions:
            if current.state not in t.sources:
                continue
            reasons = ["the case is closed"] if case.is_closed else unmet(t.when, ctx)
            before = found.get(t.trigger)
            if before is not None and (before.allowed or reasons):
                if not before.allowed:  # neither branch holds: say what each one needs
                    before.unmet.extend(r for r in reasons if r not in before.unmet)
                continue
            labels = track.triggers.get(t.trigger)
            found[t.trigger] = Step(
                track=name,
                trigger=t.trigger,
                label=labels.get(locale) if labels is not None else t.trigger,
                target=t.to,
                allowed=not reasons,
                unmet=list(reasons),
                fired_by=fired_by.get(t.trigger, []),
            )
        out[name] = list(found.values())
    return out


# --- a case's page --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseDetail:
    """Everything the case page shows, read in one unit of work; no personal data."""

    case: Case
    loaded: LoadedProtocol
    timeline: list[TimelineEntry]
    steps: dict[str, list[Step]]
    institutions: dict[str, str]  # id -> name, for the lead and every task
    has_person: bool
    now: datetime


def case_detail(svc: Services, actor: Actor, ref: str, locale: str = "es") -> CaseDetail:
    require_casebook(actor, f"open case {ref}")
    with svc.uow() as uow:
        case = uow.cases.get(ref)
        require_case_access(actor, case, "read")
        loaded = uow.protocols.pinned(case.protocol_hash)
        timeline = SqlCaseList(connection(uow)).timeline(case)
        has_person = uow.cases.has_person(case)
        ids = {t.institution for t in case.tasks}
        if case.lead_institution:
            ids.add(case.lead_institution)
        names = {}
        for inst_id in sorted(ids):
            inst = uow.directory.institution(inst_id)
            names[inst_id] = inst.name if inst is not None else inst_id
    return CaseDetail(
        case, loaded, timeline, steps(case, loaded, locale), names, has_person, svc.clock.now()
    )


# --- opening a case ---------------------------------------------------------------------------


def new_case_protocols(svc: Services, actor: Actor) -> list[LoadedProtocol]:
    """The latest published protocol of each programme of each country in the actor's scope."""
    require_casebook(actor, "open cases")
    found = []
    for country in sorted(actor.countries):
        for programme in PROGRAMMES:
            loaded = svc.catalog.latest(country, programme)
            if loaded is not None:
                found.append(loaded)
    return found

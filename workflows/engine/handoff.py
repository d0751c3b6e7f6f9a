"""Cross-border handoffs on the sending case: the task for the receiving coordinator.

A protocol step with `handoff:` opens a task addressed to the coordinator of the country
that receives the person (Colombia to Ecuador at Rumichaca, Peru to Ecuador ...). The task
carries where the person crosses and which protocol the receiving country runs, never
personal data; the consented packet (the fields the step `shares`) is read from the
protected person record only when the receiving side accepts. See workflows/services/crossborder.py
for what acceptance and arrival do across the two cases.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from institutions.directory import route
from institutions.domain import Route
from institutions.errors import NoCoordinator
from protocols.schema import TaskSpec

if TYPE_CHECKING:
    from workflows.engine.engine import Engine


def receiving_country(engine: Engine, spec: TaskSpec) -> str | None:
    assert spec.handoff is not None
    to = spec.handoff.to
    if to.isupper():
        return to
    value = engine.case.attributes.get(to)
    return str(value) if isinstance(value, str) else None


def handoff_task(engine: Engine, track: str, state: str, spec: TaskSpec) -> None:
    """Open the handoff task, or tell the focal point why no handoff is possible."""
    assert spec.handoff is not None
    e, h = engine, spec.handoff
    country = receiving_country(e, spec)
    target = e.catalog.latest(country, h.programme) if (e.catalog and country) else None
    info: dict[str, Any] = {
        "country": country,
        # within one country (a smuggling case moving onto the trafficking protocol) the
        # case stays where it is; across a border it arrives at the crossing
        "jurisdiction": h.jurisdictions.get(
            country or "", e.jurisdiction if country == e.loaded.protocol.country else country
        ),
        "programme": h.programme,
        "protocol": target.id if target else None,
        "coordinator": target.protocol.coordinator if target else None,
        "linked_ref": None,
    }
    found = handoff_route(e, info) if target is not None else None
    if target is None or found is None:
        why = (
            f"no published {h.programme} protocol for {country}"
            if country
            else f"the case attribute '{h.to}' is not set"
        )
        if target is not None:
            why = f"no active institution in {country} fills {info['coordinator']}"
        e.case.record(
            "handoff_unavailable",
            e.now,
            e.who,
            track=track,
            task=spec.id,
            country=country,
            reason=why,
        )
        coordinator = e.route(e.loaded.protocol.coordinator)
        assert coordinator is not None
        e.add_task(
            track,
            state,
            spec,
            e.loaded.protocol.coordinator,
            coordinator.institution,
            "gap",
            info,
        )
        return
    e.add_task(
        track,
        state,
        spec,
        str(info["coordinator"]),
        found.institution,
        "handoff",
        info,
        template="handoff_requested",
    )
    e.case.record(
        "handoff_requested",
        e.now,
        e.who,
        track=track,
        task=spec.id,
        country=country,
        protocol=info["protocol"],
        jurisdiction=info["jurisdiction"],
        institution=found.institution,
    )


def handoff_route(
    engine: Engine, info: dict[str, Any], exclude: Collection[str] = ()
) -> Route | None:
    """The receiving coordinator's institution at the crossing (None: all were tried)."""
    coordinator = info.get("coordinator")
    country = info.get("country")
    if not coordinator or not country:
        return None
    try:
        return route(
            engine.directory,
            str(country),
            str(coordinator),
            str(info.get("jurisdiction") or country),
            str(coordinator),
            exclude,
        )
    except NoCoordinator:
        return None

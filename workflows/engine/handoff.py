"""Cross-border handoffs on the sending case: the task for the receiving coordinator.

A protocol step with `handoff:` opens a task addressed to the coordinator of the country
that receives the person (Colombia to Ecuador at Rumichaca, Peru to Ecuador ...). The task
carries where the person crosses and which protocol the receiving country runs, never
personal data; the consented packet (the fields the step `shares`) is read from the
protected person record only when the receiving side accepts. What acceptance and arrival
do across the two cases is a use case: workflows/services/crossborder.py.
"""

from __future__ import annotations

from typing import Any

from protocols.schema import TaskSpec
from workflows.domain.case import Case
from workflows.domain.events import EventKind
from workflows.domain.ports import Catalog
from workflows.engine.effects import Effects
from workflows.engine.routing import Router


def receiving_country(case: Case, spec: TaskSpec) -> str | None:
    """The country a handoff step sends the person to: fixed, or a case attribute."""
    if spec.handoff is None:
        return None
    to = spec.handoff.to
    if to.isupper():
        return to
    value = case.attributes.get(to)
    return str(value) if isinstance(value, str) else None


def open_handoff(
    fx: Effects, router: Router, catalog: Catalog | None, track: str, state: str, spec: TaskSpec
) -> None:
    """Open the handoff task, or tell the focal point why no handoff is possible."""
    h = spec.handoff
    if h is None:
        raise ValueError(f"Step {spec.id!r} has no handoff to open.")
    country = receiving_country(fx.case, spec)
    target = catalog.latest(country, h.programme) if (catalog and country) else None
    info: dict[str, Any] = {
        "country": country,
        # within one country (a smuggling case moving onto the trafficking protocol) the
        # case stays where it is; across a border it arrives at the crossing
        "jurisdiction": h.jurisdictions.get(
            country or "", fx.case.jurisdiction if country == fx.protocol.country else country
        ),
        "programme": h.programme,
        "protocol": target.id if target else None,
        "coordinator": target.protocol.coordinator if target else None,
        "linked_ref": None,
    }
    found = router.across(info) if target is not None else None
    if target is None or found is None:
        why = (
            f"no published {h.programme} protocol for {country}"
            if country
            else f"the case attribute '{h.to}' is not set"
        )
        if target is not None:
            why = f"no active institution in {country} fills {info['coordinator']}"
        fx.record(
            EventKind.handoff_unavailable, track=track, task=spec.id, country=country, reason=why
        )
        coordinator = fx.protocol.coordinator
        fx.open_task(
            track, state, spec, coordinator, router.route(coordinator).institution, "gap", info
        )
        return
    fx.open_task(
        track,
        state,
        spec,
        str(info["coordinator"]),
        found.institution,
        "handoff",
        info,
        template="handoff_requested",
    )
    fx.record(
        EventKind.handoff_requested,
        track=track,
        task=spec.id,
        country=country,
        protocol=info["protocol"],
        jurisdiction=info["jurisdiction"],
        institution=found.institution,
    )

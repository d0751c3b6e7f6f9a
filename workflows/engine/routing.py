"""Where a case's tasks go: the directory (a port) asked for the case's jurisdiction.

The directory is read through its port (`institutions.directory.Directory`); the SQL adapter
reads a country's few dozen institutions once per unit of work and ranks them in memory.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from institutions.directory import Directory, reroute, route
from institutions.domain import Route
from institutions.errors import NoCoordinator
from protocols.schema import Protocol
from workflows.domain.case import Case


@dataclass(frozen=True, slots=True)
class Router:
    directory: Directory
    case: Case
    protocol: Protocol

    @property
    def jurisdiction(self) -> str:
        return self.case.jurisdiction

    def route(self, role: str) -> Route:
        """The institution for `role` here; a routing gap goes to the coordinator."""
        p = self.protocol
        return route(self.directory, p.country, role, self.jurisdiction, p.coordinator)

    def reroute(self, role: str, tried: Collection[str]) -> Route | None:
        """The next institution for `role` after those that declined; None: all were tried."""
        p = self.protocol
        return reroute(self.directory, p.country, role, self.jurisdiction, p.coordinator, tried)

    def fillers(self, role: str) -> frozenset[str]:
        """The institutions that take `role` for this case: the one it routes to and the others
        on its jurisdiction chain (the same place or above it); a routing gap's coordinator."""
        p = self.protocol
        found = self.directory.candidates(p.country, role, self.jurisdiction)
        return frozenset(i.id for i in found) or frozenset({self.route(role).institution})

    def lead_institution(self) -> str:
        """The focal point's institution: where returned tasks and case-lead news go."""
        return self.route(self.protocol.case_lead).institution

    def across(self, handoff: dict[str, Any], tried: Collection[str] = ()) -> Route | None:
        """The receiving coordinator's institution at the crossing of a handoff task (None:
        the receiving country has none, or every one was tried)."""
        coordinator, country = handoff.get("coordinator"), handoff.get("country")
        if not coordinator or not country:
            return None
        where = str(handoff.get("jurisdiction") or country)
        try:
            return reroute(
                self.directory, str(country), str(coordinator), where, str(coordinator), tried
            )
        except NoCoordinator:
            return None

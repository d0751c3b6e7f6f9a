"""Role -> institution routing: the most specific active institution, or a routing gap.

A task for `role` in a case whose jurisdiction is `CO-NAR-52356` (Ipiales) goes to an active
institution that fills `role` in Ipiales, else in Narino (`CO-NAR`), else nationally (`CO`).
When none fills the role anywhere on that chain, the task goes to the country's coordinator,
flagged as a routing gap so the gap is counted and can be closed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Protocol

from institutions.domain import Institution, Route, User, jurisdiction_chain
from institutions.errors import NoCoordinator


class Directory(Protocol):
    """Read access to the directory (SqlDirectory; InMemoryDirectory in tests)."""

    def candidates(self, country: str, role: str, jurisdiction: str) -> list[Institution]:
        """Active institutions filling `role` on the jurisdiction's chain, most specific first."""
        ...

    def institution(self, institution_id: str) -> Institution | None: ...

    def user(self, username: str) -> User | None: ...

    def managers(self, country: str) -> list[User]:
        """Active managers whose scope includes the country (escalations reach them)."""
        ...


def rank(institutions: Iterable[Institution], role: str, jurisdiction: str) -> list[Institution]:
    """Order the institutions that may take `role` in `jurisdiction`, most specific first."""
    chain = jurisdiction_chain(jurisdiction)
    fitting = [i for i in institutions if i.active and role in i.roles and i.jurisdiction in chain]
    return sorted(fitting, key=lambda i: (chain.index(i.jurisdiction), i.id))


def route(
    directory: Directory,
    country: str,
    role: str,
    jurisdiction: str,
    coordinator: str,
    exclude: Collection[str] = (),
) -> Route | None:
    """Where a task for `role` goes; None when every candidate is in `exclude`.

    With no candidate at all, the country's coordinator gets it as a routing gap.
    """
    found = directory.candidates(country, role, jurisdiction)
    for candidate in found:
        if candidate.id not in exclude:
            return Route(candidate.id)
    if found:
        return None  # everyone who could take it was tried
    coordinators = directory.candidates(country, coordinator, jurisdiction)
    if not coordinators:
        raise NoCoordinator(country, coordinator)
    return Route(coordinators[0].id, gap=True)


class InMemoryDirectory:
    """A directory held in memory: for unit tests and for validating seed files."""

    def __init__(self, institutions: Iterable[Institution], users: Iterable[User] = ()) -> None:
        self._institutions = {i.id: i for i in institutions}
        self._users = {u.username: u for u in users}

    def candidates(self, country: str, role: str, jurisdiction: str) -> list[Institution]:
        mine = (i for i in self._institutions.values() if i.country == country)
        return rank(mine, role, jurisdiction)

    def institution(self, institution_id: str) -> Institution | None:
        return self._institutions.get(institution_id)

    def user(self, username: str) -> User | None:
        return self._users.get(username)

    def managers(self, country: str) -> list[User]:
        return [
            u
            for u in self._users.values()
            if u.role == "manager" and u.active and country in u.countries
        ]

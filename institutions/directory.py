"""Role -> institution routing: the most specific active institution, or a routing gap.

A task for `role` in a case whose jurisdiction is `CO-NAR-52356` (Ipiales) goes to an active
institution that fills `role` in Ipiales, else in Narino (`CO-NAR`), else nationally (`CO`).
When none fills the role anywhere on that chain, the task goes to the country's coordinator,
flagged as a routing gap so the gap is counted and can be closed.
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from institutions.domain import Institution, Route, User, jurisdiction_chain
from institutions.errors import InvalidRecord, NoCoordinator, UnknownInstitution


class Directory(Protocol):
    """The directory as the case engine and the console use it (SqlDirectory on the unit of
    work's connection; InMemoryDirectory in tests and for validating seed files)."""

    def candidates(self, country: str, role: str, jurisdiction: str) -> list[Institution]:
        """Active institutions filling `role` on the jurisdiction's chain, most specific first."""
        ...

    def institution(self, institution_id: str) -> Institution | None: ...

    def institutions(self, country: str | None = None) -> list[Institution]:
        """Every institution (of a country), by country, jurisdiction and id."""
        ...

    def user(self, username: str) -> User | None: ...

    def users(self, institution_id: str | None = None) -> list[User]:
        """Every user (of an institution), by name."""
        ...

    def managers(self, country: str) -> list[User]:
        """Active managers whose scope includes the country (escalations reach them)."""
        ...

    def upsert(self, institutions: Iterable[Institution]) -> int:
        """Insert or replace institutions (and the roles they fill); return how many."""
        ...

    def save_user(self, user: User, password_hash: str | None = None) -> None:
        """Insert or replace a user of an institution of the directory."""
        ...


class Accounts(Protocol):
    """What signing in reads and writes (institutions/accounts.py): kept with the directory's
    users (SqlDirectory; InMemoryDirectory in tests)."""

    def user(self, username: str) -> User | None: ...

    def user_by_email(self, email: str) -> User | None:
        """The user with this work address (single sign-on maps identities through it)."""
        ...

    def credentials(self, username: str) -> tuple[str | None, int, datetime | None] | None:
        """(password hash, failed sign-ins in a row, locked until) of a user."""
        ...

    def record_failure(
        self, username: str, now: datetime, lock_after: int, lock_for: timedelta
    ) -> int | None:
        """Count a failed sign-in in one atomic step: the failures in a row after this one,
        or None when the account is locked at `now` (nothing is counted). The count reaching
        `lock_after` locks the account until `now + lock_for`; a lock that has run out
        starts the count again."""
        ...

    def record_success(self, username: str, now: datetime) -> bool:
        """Clear the failure count in one atomic step; False (nothing changed) when the
        account is locked at `now`."""
        ...

    def set_password(self, username: str, password_hash: str) -> None:
        """A new password hash; it also clears the failure count and any lock."""
        ...


def rank(institutions: Iterable[Institution], role: str, jurisdiction: str) -> list[Institution]:
    """Order the institutions that may take `role` in `jurisdiction`, most specific first."""
    chain = jurisdiction_chain(jurisdiction)
    fitting = [i for i in institutions if i.active and role in i.roles and i.jurisdiction in chain]
    return sorted(fitting, key=lambda i: (chain.index(i.jurisdiction), i.id))


def route(
    directory: Directory, country: str, role: str, jurisdiction: str, coordinator: str
) -> Route:
    """Where a task for `role` goes: the most specific candidate, else the coordinator as a
    routing gap.

    Raises:
        NoCoordinator: nobody fills the role, and nobody fills the coordinator role either.
    """
    found = directory.candidates(country, role, jurisdiction)
    if found:
        return Route(found[0].id)
    return _gap(directory, country, coordinator, jurisdiction)


def reroute(
    directory: Directory,
    country: str,
    role: str,
    jurisdiction: str,
    coordinator: str,
    exclude: Collection[str],
) -> Route | None:
    """The next candidate after those in `exclude` (they declined); None when every one was
    tried. With no candidate at all, the coordinator gets it as a routing gap."""
    found = directory.candidates(country, role, jurisdiction)
    for candidate in found:
        if candidate.id not in exclude:
            return Route(candidate.id)
    if found:
        return None
    return _gap(directory, country, coordinator, jurisdiction)


def _gap(directory: Directory, country: str, coordinator: str, jurisdiction: str) -> Route:
    coordinators = directory.candidates(country, coordinator, jurisdiction)
    if not coordinators:
        raise NoCoordinator(country, coordinator)
    return Route(coordinators[0].id, gap=True)


class InMemoryDirectory:
    """A directory held in memory: for tests, the in-memory unit of work and seed checks."""

    def __init__(self, institutions: Iterable[Institution], users: Iterable[User] = ()) -> None:
        self._institutions = {i.id: i for i in institutions}
        self._users = {u.username: u for u in users}
        # username -> (password hash, failed sign-ins in a row, locked until)
        self._credentials: dict[str, tuple[str | None, int, datetime | None]] = {}

    def __deepcopy__(self, memo: dict[int, object]) -> InMemoryDirectory:
        """A copy with its own dictionaries; the records in them are frozen, so shared (each
        in-memory unit of work copies the directory: a deep copy made that the slow part)."""
        out = copy.copy(self)
        out.__dict__.update({k: copy.copy(v) for k, v in vars(self).items()})
        return out

    def candidates(self, country: str, role: str, jurisdiction: str) -> list[Institution]:
        mine = (i for i in self._institutions.values() if i.country == country)
        return rank(mine, role, jurisdiction)

    def institution(self, institution_id: str) -> Institution | None:
        return self._institutions.get(institution_id)

    def institutions(self, country: str | None = None) -> list[Institution]:
        found = [i for i in self._institutions.values() if country in (None, i.country)]
        return sorted(found, key=lambda i: (i.country, i.jurisdiction, i.id))

    def user(self, username: str) -> User | None:
        return self._users.get(username)

    def users(self, institution_id: str | None = None) -> list[User]:
        found = [u for u in self._users.values() if institution_id in (None, u.institution)]
        return sorted(found, key=lambda u: u.username)

    def managers(self, country: str) -> list[User]:
        return [
            u for u in self.users() if u.role == "manager" and u.active and country in u.countries
        ]

    def upsert(self, institutions: Iterable[Institution]) -> int:
        count = 0
        for inst in institutions:
            problems = inst.problems()
            if problems:
                raise InvalidRecord(f"Institution {inst.id!r}: {'; '.join(problems)}.")
            self._institutions[inst.id] = replace(inst, roles=tuple(sorted(set(inst.roles))))
            count += 1
        return count

    def save_user(self, user: User, password_hash: str | None = None) -> None:
        if user.institution not in self._institutions:
            raise UnknownInstitution.of_user(user.institution)
        self._users[user.username] = user
        before = self._credentials.get(user.username, (None, 0, None))
        if password_hash is not None:
            before = (password_hash, *before[1:])
        self._credentials[user.username] = before

    # --- accounts (institutions/accounts.py) ------------------------------------------

    def user_by_email(self, email: str) -> User | None:
        wanted = email.lower()
        return next((u for u in self.users() if (u.email or "").lower() == wanted), None)

    def credentials(self, username: str) -> tuple[str | None, int, datetime | None] | None:
        return self._credentials.get(username) if username in self._users else None

    def record_failure(
        self, username: str, now: datetime, lock_after: int, lock_for: timedelta
    ) -> int | None:
        if username not in self._users:
            return None
        password_hash, failures, locked_until = self._credentials.get(username, (None, 0, None))
        if locked_until is not None and locked_until > now:
            return None
        failures = 1 if locked_until is not None else failures + 1  # a lock ran out: anew
        lock = now + lock_for if failures >= lock_after else None
        self._credentials[username] = (password_hash, failures, lock)
        return failures

    def record_success(self, username: str, now: datetime) -> bool:
        password_hash, _, locked_until = self._credentials.get(username, (None, 0, None))
        if username not in self._users or (locked_until is not None and locked_until > now):
            return False
        self._credentials[username] = (password_hash, 0, None)
        return True

    def set_password(self, username: str, password_hash: str) -> None:
        self._credentials[username] = (password_hash, 0, None)

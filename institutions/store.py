"""The directory on SQL: read by the engine inside a unit of work, written by imports."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)

from institutions import tables
from institutions.directory import rank
from institutions.domain import Institution, User
from institutions.errors import InvalidRecord, UnknownInstitution

# One statement reads institutions with the roles they fill (a row per role), built once.
_I, _R = tables.institutions, tables.institution_roles
_WITH_ROLES = select(_I, _R.c.role).outerjoin(_R, _R.c.institution_id == _I.c.id)
_ORDER = (_I.c.country, _I.c.jurisdiction, _I.c.id, _R.c.role)
_ALL = _WITH_ROLES.order_by(*_ORDER)
_OF_COUNTRY = _WITH_ROLES.where(_I.c.country == bindparam("country")).order_by(*_ORDER)
_BY_ID = _WITH_ROLES.where(_I.c.id == bindparam("id")).order_by(_R.c.role)


def _institutions(rows: Iterable[Any]) -> list[Institution]:
    """Institutions from rows of `_WITH_ROLES`, in the rows' order."""
    found: dict[str, tuple[Any, list[str]]] = {}
    for row in rows:
        _, roles = found.setdefault(row.id, (row, []))
        if row.role is not None:
            roles.append(row.role)
    return [
        Institution(
            id=row.id,
            country=row.country,
            jurisdiction=row.jurisdiction,
            name=row.name,
            roles=tuple(roles),
            emails=tuple(row.emails),
            locale=row.locale,
            active=row.active,
            description=row.description,
        )
        for row, roles in found.values()
    ]


_REVISION = select(tables.directory_revision.c.revision).where(tables.directory_revision.c.id == 1)
# What each database's directory held at a revision, per country (None: all countries),
# shared by the units of work of the process. Institutions are frozen: safe to share.
_KEPT: WeakKeyDictionary[Engine, dict[str | None, tuple[int, list[Institution]]]] = (
    WeakKeyDictionary()
)


class SqlDirectory:
    """Reads and writes the directory on the unit of work's connection.

    A country's institutions are read once per process and kept while the database's
    `directory_revision` (bumped by triggers on every change) stays where it was: a unit of
    work asks for the revision once, not for the institutions.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._revision: int | None = None
        self._ranked: dict[tuple[str, str, str], list[Institution]] = {}
        self._wrote = False  # changed here, not yet committed: keep nothing for others

    # --- reading -----------------------------------------------------------------------

    def candidates(self, country: str, role: str, jurisdiction: str) -> list[Institution]:
        key = (country, role, jurisdiction)
        if key not in self._ranked:
            # rank keeps the active ones of the role along the jurisdiction's chain
            self._ranked[key] = rank(self.institutions(country), role, jurisdiction)
        return self._ranked[key]

    def institution(self, institution_id: str) -> Institution | None:
        found = _institutions(self._conn.execute(_BY_ID, {"id": institution_id}))
        return found[0] if found else None

    def institutions(self, country: str | None = None) -> list[Institution]:
        if self._wrote:  # what this transaction changed may yet be rolled back
            return self._read(country)
        if self._revision is None:
            self._revision = int(self._conn.execute(_REVISION).scalar_one())
        kept = _KEPT.setdefault(self._conn.engine, {})
        found = kept.get(country)
        if found is None or found[0] != self._revision:
            found = kept[country] = (self._revision, self._read(country))
        return list(found[1])

    def _read(self, country: str | None) -> list[Institution]:
        if country is None:
            return _institutions(self._conn.execute(_ALL))
        return _institutions(self._conn.execute(_OF_COUNTRY, {"country": country}))

    def user(self, username: str) -> User | None:
        u = tables.users
        row = self._conn.execute(select(u).where(u.c.username == username)).first()
        if row is None:
            return None
        return User(
            username=row.username,
            institution=row.institution_id,
            role=row.role,
            countries=frozenset(row.countries),
            active=row.active,
            email=row.email,
        )

    def users(self, institution_id: str | None = None) -> list[User]:
        u = tables.users
        query = select(u.c.username).order_by(u.c.username)
        if institution_id is not None:
            query = query.where(u.c.institution_id == institution_id)
        return [
            user
            for name in self._conn.execute(query).scalars()
            if (user := self.user(name)) is not None
        ]

    def managers(self, country: str) -> list[User]:
        u = tables.users
        names = self._conn.execute(
            select(u.c.username).where(u.c.role == "manager", u.c.active.is_(True))
        ).scalars()
        found = [user for name in names if (user := self.user(name)) is not None]
        return [user for user in found if country in user.countries]

    def credentials(self, username: str) -> tuple[str | None, int, datetime | None] | None:
        """(password hash, failed sign-ins in a row, locked until) of a user."""
        u = tables.users
        row = self._conn.execute(
            select(u.c.password_hash, u.c.failed_logins, u.c.locked_until).where(
                u.c.username == username
            )
        ).first()
        return None if row is None else (row[0], int(row[1]), row[2])

    def user_by_email(self, email: str) -> User | None:
        """The user with this work address (single sign-on maps identities through it)."""
        u = tables.users
        name = self._conn.execute(
            select(u.c.username).where(func.lower(u.c.email) == email.lower())
        ).scalar()
        return self.user(name) if name else None

    # --- writing -----------------------------------------------------------------------

    def upsert(self, institutions: Iterable[Institution]) -> int:
        """Insert or replace institutions (and the roles they fill); return how many."""
        i, r = tables.institutions, tables.institution_roles
        count = 0
        for inst in institutions:
            problems = inst.problems()
            if problems:
                raise InvalidRecord(f"Institution {inst.id!r}: {'; '.join(problems)}.")
            row = dict(
                country=inst.country,
                jurisdiction=inst.jurisdiction,
                name=inst.name,
                description=inst.description,
                emails=list(inst.emails),
                locale=inst.locale,
                active=inst.active,
            )
            exists = self._conn.execute(select(i.c.id).where(i.c.id == inst.id)).first()
            if exists:
                self._conn.execute(update(i).where(i.c.id == inst.id).values(**row))
                self._conn.execute(delete(r).where(r.c.institution_id == inst.id))
            else:
                self._conn.execute(insert(i).values(id=inst.id, **row))
            if inst.roles:
                self._conn.execute(
                    insert(r), [{"institution_id": inst.id, "role": x} for x in set(inst.roles)]
                )
            count += 1
        self._wrote = True
        self._ranked.clear()
        return count

    def save_user(self, user: User, password_hash: str | None = None) -> None:
        if self.institution(user.institution) is None:
            raise UnknownInstitution.of_user(user.institution)
        u = tables.users
        row = dict(
            institution_id=user.institution,
            role=user.role,
            countries=sorted(user.countries),
            active=user.active,
            email=user.email,
        )
        if password_hash is not None:
            row["password_hash"] = password_hash
        if self._conn.execute(select(u.c.username).where(u.c.username == user.username)).first():
            self._conn.execute(update(u).where(u.c.username == user.username).values(**row))
        else:
            self._conn.execute(insert(u).values(username=user.username, **row))

    def set_password(self, username: str, password_hash: str) -> None:
        u = tables.users
        self._conn.execute(
            update(u)
            .where(u.c.username == username)
            .values(password_hash=password_hash, failed_logins=0, locked_until=None)
        )

    def record_failure(
        self, username: str, now: datetime, lock_after: int, lock_for: timedelta
    ) -> int | None:
        # One statement reads and writes the count: PostgreSQL locks the row and re-checks
        # the lock for a waiting writer, SQLite serialises writers. A read then a write
        # let 40 parallel guesses through as 55 "wrong password" answers.
        u = tables.users
        ran_out = u.c.locked_until.is_not(None)  # under the WHERE below, a lock that ended
        failures = case((ran_out, 1), else_=u.c.failed_logins + 1)
        until = literal(now + lock_for, tables.UtcStamp)
        counted = self._conn.execute(
            update(u)
            .where(u.c.username == username, _open(now))
            .values(
                failed_logins=failures,
                locked_until=case((failures >= lock_after, until), else_=None),
            )
            .returning(u.c.failed_logins)
        ).scalar()
        return None if counted is None else int(counted)

    def record_success(self, username: str, now: datetime) -> bool:
        u = tables.users
        cleared = self._conn.execute(
            update(u)
            .where(u.c.username == username, _open(now))
            .values(failed_logins=0, locked_until=None)
            .returning(u.c.username)
        ).scalar()
        return cleared is not None


def _open(now: datetime) -> ColumnElement[bool]:
    """The account is not locked at `now`."""
    u = tables.users
    return or_(u.c.locked_until.is_(None), u.c.locked_until <= literal(now, tables.UtcStamp))

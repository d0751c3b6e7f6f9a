"""What administrators change: the institution directory (an HSDS import) and the user
accounts (each change an audited event)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from institutions.domain import Institution, User, UserRole
from institutions.errors import UnknownUser, UserExists
from workflows.domain.access import Actor, require_admin
from workflows.domain.case import Event
from workflows.domain.events import EventKind
from workflows.domain.ports import Services, UnitOfWork


def import_institutions(svc: Services, actor: Actor, institutions: list[Institution]) -> int:
    """Insert or replace institutions in one commit; return how many."""
    require_admin(actor, "import institutions")
    with svc.uow() as uow:
        count = uow.directory.upsert(institutions)
        uow.commit()
    return count


# --- user accounts: each change an event of no case, on the audit chain ----------------


def add_user(svc: Services, actor: Actor, user: User, password_hash: str | None = None) -> None:
    """A new user (with a local password, or none for single sign-on only).

    Raises:
        UserExists: the name is taken, by an active or a deactivated user; adding never
            changes one (activate, set_role and reset_password do, each with its event).
        UnknownInstitution: the user's institution is not in the directory.
    """
    require_admin(actor, "add users")
    with svc.uow() as uow:
        found = uow.directory.user(user.username)
        if found is not None:
            raise UserExists(user.username, found.active)
        uow.directory.save_user(user, password_hash)
        _record(
            uow, svc, actor, EventKind.user_added, user,
            institution=user.institution, role=user.role,
            countries=sorted(user.countries), local_password=password_hash is not None,
        )  # fmt: skip
        uow.commit()


def set_active(svc: Services, actor: Actor, username: str, active: bool) -> bool:
    """Deactivate (signed out at the console's next request) or reactivate a user; False
    when the user already was so (nothing recorded)."""
    require_admin(actor, "deactivate users" if not active else "reactivate users")
    with svc.uow() as uow:
        user = _existing(uow, username)
        if user.active == active:
            return False
        uow.directory.save_user(replace(user, active=active))
        kind = EventKind.user_activated if active else EventKind.user_deactivated
        _record(uow, svc, actor, kind, user)
        uow.commit()
    return True


def set_role(
    svc: Services, actor: Actor, username: str, role: UserRole, countries: frozenset[str]
) -> User:
    """A user's new role and country scope (the console narrows at the next request)."""
    require_admin(actor, "change users' roles")
    with svc.uow() as uow:
        user = _existing(uow, username)
        changed = replace(user, role=role, countries=countries)
        uow.directory.save_user(changed)
        _record(
            uow, svc, actor, EventKind.user_role_changed, user,
            role=role, countries=sorted(countries),
            was={"role": user.role, "countries": sorted(user.countries)},
        )  # fmt: skip
        uow.commit()
    return changed


def reset_password(svc: Services, actor: Actor, username: str, password_hash: str) -> None:
    """A user's new local password; it also clears failed sign-ins and any lock."""
    require_admin(actor, "reset passwords")
    with svc.uow() as uow:
        user = _existing(uow, username)
        uow.accounts.set_password(username, password_hash)
        _record(uow, svc, actor, EventKind.user_password_reset, user)
        uow.commit()


def _existing(uow: UnitOfWork, username: str) -> User:
    user = uow.directory.user(username)
    if user is None:
        raise UnknownUser(username)
    return user


def _record(
    uow: UnitOfWork, svc: Services, actor: Actor, kind: EventKind, user: User, **data: Any
) -> None:
    """The event of a user account change (never a password or its hash)."""
    uow.events.record(Event(kind, svc.clock.now(), actor.name, {"username": user.username, **data}))

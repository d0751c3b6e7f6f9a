"""`ruta users`: the people who sign in. Every change is an audited event (actor `system:cli`)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, cast

import typer
from sqlalchemy.exc import SQLAlchemyError

from institutions.accounts import hash_password
from institutions.domain import USER_ROLES, User, UserRole
from institutions.errors import UnknownInstitution, UnknownUser, UserExists
from ruta import bootstrap
from workflows.domain.access import Actor
from workflows.domain.ports import Services
from workflows.services import admin
from workflows.store.vault import VaultError

app = typer.Typer(help="People who sign in: one institution, one role.", no_args_is_help=True)

INVALID = 2  # exit status for invalid input (an unknown user, a bad option)
CLI = Actor.system("cli")  # the events' actor: whoever runs the command line on the server

Username = Annotated[str, typer.Argument(help="Sign-in name, e.g. fp.narino")]
RoleOption = Annotated[str, typer.Option(help=f"One of: {', '.join(USER_ROLES)}")]
CountryOption = Annotated[
    list[str] | None, typer.Option(help="Country in scope (repeat for several)")
]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input")
]


def _say(text: str = "") -> None:
    typer.echo(text)


def _fail(text: str, code: int = INVALID) -> typer.Exit:
    typer.echo(text, err=True)
    return typer.Exit(code)


@contextmanager
def _services() -> Iterator[Services]:
    """The configured services; a refused change or an unusable database as one line."""
    try:
        yield bootstrap.services()
    except (UnknownUser, UnknownInstitution, VaultError) as exc:  # VaultError: no key
        raise _fail(str(exc)) from None
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise _fail(
            f"Cannot use the database: {cause.__class__.__name__}: {cause}. "
            "Run `ruta init` to create or upgrade it."
        ) from None


def _role(role: str) -> UserRole:
    if role not in USER_ROLES:
        raise _fail(f"Unknown role {role!r}; allowed: {', '.join(USER_ROLES)}.")
    return cast(UserRole, role)


def _countries(role: str, given: list[str]) -> frozenset[str]:
    countries = frozenset(c.strip().upper() for c in given)
    bad = sorted(c for c in countries if not re.fullmatch(r"[A-Z]{2}", c))
    if bad:
        raise _fail(f"Unknown country code(s) {', '.join(bad)}; use ISO 3166-1 alpha-2 (CO).")
    if role in ("focal_point", "manager") and not countries:
        raise _fail(f"A {role.replace('_', ' ')} needs at least one --country in scope.")
    return countries


def _password(from_stdin: bool) -> str:
    """A new password from standard input or a hidden prompt (asked twice); never echoed."""
    if from_stdin:
        secret = sys.stdin.readline().rstrip("\n")
    else:
        secret = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        return hash_password(secret)
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _scope(countries: frozenset[str]) -> str:
    return ", ".join(sorted(countries)) or "-"


@app.command("add")
def add(
    username: Username,
    institution: Annotated[str, typer.Option(help="Institution id (`ruta institutions list`)")],
    role: RoleOption,
    country: CountryOption = None,
    email: Annotated[
        str | None, typer.Option(help="Work address (managers receive escalations there)")
    ] = None,
    password: Annotated[
        bool, typer.Option("--password", help="Ask for a password (local sign-in)")
    ] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user. Focal points and managers need at least one --country. An existing name
    is refused: change a user with activate, set-role or reset-password."""
    checked = _role(role)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]{1,62}", username):
        raise _fail(
            f"Username {username!r} must be 2-63 lowercase letters, digits, '.', '_' or '-'."
        )
    countries = _countries(role, country or [])
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", email):
        raise _fail(f"{email!r} is not an email address.")
    user = User(username, institution, checked, countries, email=email)
    password_hash = _password(password_stdin) if password or password_stdin else None
    with _services() as svc:
        try:
            admin.add_user(svc, CLI, user, password_hash)
        except UserExists as exc:
            again = "`ruta users activate` " if not exc.active else ""
            raise _fail(
                f"User {username} already exists{'' if exc.active else ' (deactivated)'}; "
                f"`ruta users add` never changes a user: use {again}`ruta users set-role` or "
                f"`ruta users reset-password` {username}."
            ) from None
    _say(f"User {username}: {role} of {institution}, countries {_scope(countries)}")


@app.command("list")
def list_users() -> None:
    """Every user: institution, role and country scope."""
    with _services() as svc, svc.uow() as uow:
        users = uow.directory.users()
    if not users:
        _say("No users yet: add one with `ruta users add`.")
    for u in users:
        state = "" if u.active else "  (deactivated)"
        _say(f"{u.username:<24}{u.role:<13}{u.institution:<36}{_scope(u.countries)}{state}")


@app.command("deactivate")
def deactivate(username: Username) -> None:
    """Stop a user signing in; an open console session ends at its next request."""
    with _services() as svc:
        changed = admin.set_active(svc, CLI, username, active=False)
    _say(f"User {username} {'deactivated' if changed else 'was already deactivated'}.")


@app.command("activate")
def activate(username: Username) -> None:
    """Let a deactivated user sign in again."""
    with _services() as svc:
        changed = admin.set_active(svc, CLI, username, active=True)
    _say(f"User {username} {'reactivated' if changed else 'was already active'}.")


@app.command("set-role")
def set_role(username: Username, role: RoleOption, country: CountryOption = None) -> None:
    """Change a user's role and, with --country, the countries in scope (replacing them);
    an open console session narrows at its next request."""
    checked = _role(role)
    with _services() as svc:
        if country is None:
            with svc.uow() as uow:
                current = uow.directory.user(username)
            if current is None:
                raise UnknownUser(username)
            country = sorted(current.countries)
        changed = admin.set_role(svc, CLI, username, checked, _countries(role, country))
    _say(f"User {username}: {role} of {changed.institution}, countries {_scope(changed.countries)}")


@app.command("reset-password")
def reset_password(username: Username, password_stdin: PasswordStdin = False) -> None:
    """Set a new local password (asked for, or read from standard input; never shown). It
    also clears the failed sign-ins and any lock."""
    with _services() as svc:
        with svc.uow() as uow:
            if uow.directory.user(username) is None:  # before asking for a password
                raise UnknownUser(username)
        admin.reset_password(svc, CLI, username, _password(password_stdin))
    _say(f"Password of {username} reset; failed sign-ins and any lock cleared.")

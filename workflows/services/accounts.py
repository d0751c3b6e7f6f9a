"""Signing in: a local account's password (argon2, lockout after repeated failures), or a
single-sign-on identity mapped to a Ruta user by work address."""

from __future__ import annotations

from institutions.accounts import authenticate
from institutions.domain import User
from workflows.domain.ports import Services


def sign_in(svc: Services, username: str, password: str) -> User:
    """The user, if the password is right and the account is neither locked nor off.

    Raises:
        SignInRefused: with `code` wrong, locked or deactivated; a failure is still counted
            (and may lock the account), so it is committed too.
    """
    with svc.uow() as uow:
        try:
            return authenticate(uow.accounts, username.strip(), password, svc.clock.now())
        finally:
            uow.commit()


def current(svc: Services, username: str) -> User | None:
    """The user as the directory has them now (one read by primary key): the console asks
    on every request, so a deactivation, a new role or a new scope holds at once."""
    with svc.uow() as uow:
        return uow.accounts.user(username)


def by_email(svc: Services, email: str) -> User | None:
    """The user an identity provider's work address belongs to, if any."""
    if not email.strip():
        return None
    with svc.uow() as uow:
        return uow.accounts.user_by_email(email.strip())

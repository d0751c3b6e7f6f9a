"""Local accounts: argon2 password hashes, a lockout after repeated failures.

Sign-in failures say the same thing whether the name or the password was wrong, so the
form does not tell an attacker which user names exist.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from institutions.directory import Accounts
from institutions.domain import User
from institutions.errors import DirectoryError

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
_HASHER = PasswordHasher()


class SignInRefused(DirectoryError):
    """Wrong name or password (`wrong`), a `locked` or `deactivated` account."""

    def __init__(self, message: str, code: str = "wrong") -> None:
        super().__init__(message)
        self.code = code


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"A password needs at least {MIN_PASSWORD} characters.")
    return _HASHER.hash(password)


def authenticate(store: Accounts, username: str, password: str, now: datetime) -> User:
    """The user, if the password is right and the account is neither locked nor off."""
    refused = SignInRefused("Wrong user name or password.")
    user = store.user(username)
    record = store.credentials(username)
    if user is None or record is None:
        _HASHER.hash(password)  # spend the same time as a real check
        raise refused
    password_hash, failures, locked_until = record
    if locked_until is not None and locked_until > now:
        raise SignInRefused(
            f"Too many failed attempts: the account is locked until {locked_until:%H:%M} UTC.",
            "locked",
        )
    try:
        if password_hash is None:
            raise VerificationError
        _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        failures += 1
        lock = now + LOCKOUT if failures >= MAX_FAILURES else None
        store.record_sign_in(username, failures=0 if lock else failures, locked_until=lock)
        if lock:
            raise SignInRefused(
                f"Too many failed attempts: the account is locked for "
                f"{int(LOCKOUT.total_seconds() // 60)} minutes.",
                "locked",
            ) from None
        raise refused from None
    if not user.active:
        raise SignInRefused("This account is deactivated; ask your administrator.", "deactivated")
    store.record_sign_in(username, failures=0, locked_until=None)
    if _HASHER.check_needs_rehash(password_hash):
        store.set_password(username, _HASHER.hash(password))
    return user

"""Local accounts: argon2 password hashes, a lockout after repeated failures.

Every refusal reads the same and costs the same argon2 verification: an unknown name, a
wrong password, a locked or deactivated account, an account without a local password
(single sign-on only). Neither the message nor the time it takes tells an attacker which
user names exist or which account is locked. The failure count is one atomic statement on
the store (`Accounts.record_failure`), so parallel guesses cannot outrun the lock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from institutions.directory import Accounts
from institutions.domain import User
from institutions.errors import DirectoryError

MAX_FAILURES = 5  # the fifth failed sign-in in a row locks the account
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
HASHER = PasswordHasher()
REFUSED = (
    f"Sign-in refused: wrong user name or password, or the account is locked or deactivated. "
    f"{MAX_FAILURES} failed attempts in a row lock an account for "
    f"{int(LOCKOUT.total_seconds() // 60)} minutes; ask your administrator if it persists."
)


class SignInRefused(DirectoryError):
    """A refused sign-in. The message is always the same; `code` says why, for tests and
    the server's own use only: unknown, wrong, locked, deactivated or no_password."""

    def __init__(self, code: str) -> None:
        super().__init__(REFUSED)
        self.code = code


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"A password needs at least {MIN_PASSWORD} characters.")
    return HASHER.hash(password)


@cache
def _stand_in(hasher: PasswordHasher) -> str:
    """A hash with the hasher's parameters, verified when there is nothing real to verify."""
    return hasher.hash("no account has this password: it only spends the same time")


def _verifies(hasher: PasswordHasher, password_hash: str | None, password: str) -> bool:
    """One argon2 verification, whatever there is to verify against."""
    try:
        hasher.verify(password_hash or _stand_in(hasher), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def authenticate(
    store: Accounts, username: str, password: str, now: datetime, hasher: PasswordHasher = HASHER
) -> User:
    """The user, if the password is right and the account is neither locked nor off.

    Raises:
        SignInRefused: always with the same message, after one argon2 verification.
    """
    user = store.user(username)
    record = store.credentials(username) if user is not None else None
    password_hash = record[0] if record is not None else None
    right = _verifies(hasher, password_hash, password)
    if user is None:
        raise SignInRefused("unknown")  # not counted: an unknown name has nothing to lock
    if not user.active:
        raise SignInRefused("deactivated")
    if password_hash is None:
        raise SignInRefused("no_password")
    if not right:
        failures = store.record_failure(username, now, MAX_FAILURES, LOCKOUT)
        locked = failures is None or failures >= MAX_FAILURES
        raise SignInRefused("locked" if locked else "wrong")
    if not store.record_success(username, now):
        raise SignInRefused("locked")  # even the right password, until the lock ends
    if hasher.check_needs_rehash(password_hash):
        store.set_password(username, hasher.hash(password))
    return user

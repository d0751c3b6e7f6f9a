"""Signing in on SQLite and PostgreSQL: the failure count holds under parallel guesses, and
every refusal reads the same and costs the same argon2 work."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from institutions.accounts import (
    LOCKOUT,
    MAX_FAILURES,
    REFUSED,
    SignInRefused,
    authenticate,
    hash_password,
)
from institutions.domain import User
from institutions.seeds import load_seed
from institutions.store import SqlDirectory
from protocols.registry import Registry
from tests.conftest import FIXTURES, VAULT
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Services
from workflows.services import accounts
from workflows.store.uow import SqlUnitOfWork

SECRET = "correct horse battery staple"
WRONG = "not the password at all"
GUESSES = 40


@pytest.fixture
def signing(engine: Engine, clock: SimulatedClock) -> Iterator[Services]:
    """Services whose every unit of work opens its own connection (no pool to queue on), with
    accounts of each kind: a local one, a locked one, one without a local password (single
    sign-on only) and a deactivated one."""
    password_hash = hash_password(SECRET)
    with engine.begin() as conn:
        store = SqlDirectory(conn)
        store.upsert(load_seed(FIXTURES / "test-directory.yaml"))
        store.save_user(User("officer.local", "test-lead", "officer"), password_hash)
        store.save_user(User("officer.locked", "test-lead", "officer"), password_hash)
        store.save_user(User("officer.sso", "test-lead", "officer"))
        store.save_user(User("officer.off", "test-lead", "officer", active=False), password_hash)
        store.record_failure("officer.locked", clock.now(), 1, LOCKOUT)
    timeout = {"timeout": 60} if engine.dialect.name == "sqlite" else {}
    wide = create_engine(engine.url, poolclass=NullPool, connect_args=timeout)
    yield Services(lambda: SqlUnitOfWork(wide, VAULT), clock, Registry(loaded=[]))
    wide.dispose()


def test_forty_parallel_wrong_guesses_get_four_wrong_answers_and_the_rest_locked(signing):
    start = threading.Barrier(GUESSES)

    def guess(_: int) -> str:
        start.wait()
        with pytest.raises(SignInRefused) as refused:
            accounts.sign_in(signing, "officer.local", WRONG)
        return refused.value.code

    with ThreadPoolExecutor(GUESSES) as pool:
        codes = list(pool.map(guess, range(GUESSES)))
    assert codes.count("wrong") == MAX_FAILURES - 1
    assert codes.count("locked") == GUESSES - (MAX_FAILURES - 1)
    with signing.uow() as uow:
        now = signing.clock.now()
        assert uow.accounts.credentials("officer.local")[1:] == (MAX_FAILURES, now + LOCKOUT)
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in(signing, "officer.local", SECRET)
    assert refused.value.code == "locked"


OUTCOMES = {  # name, password -> why it is refused
    ("officer.unknown", SECRET): "unknown",
    ("officer.local", WRONG): "wrong",
    ("officer.locked", SECRET): "locked",
    ("officer.sso", SECRET): "no_password",
    ("officer.off", SECRET): "deactivated",
}


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting its verifications."""

    def __init__(self) -> None:
        super().__init__()
        self.verified = 0

    def verify(self, hash, password):
        self.verified += 1
        return super().verify(hash, password)


def test_every_refusal_reads_the_same_and_verifies_one_argon2_hash(signing):
    hasher = CountingHasher()
    for (name, password), why in OUTCOMES.items():
        before = hasher.verified
        with signing.uow() as uow, pytest.raises(SignInRefused) as refused:
            authenticate(uow.accounts, name, password, signing.clock.now(), hasher)
        assert (refused.value.code, str(refused.value)) == (why, REFUSED)
        assert hasher.verified - before == 1, why
    with signing.uow() as uow:  # an unknown name is never counted, so never "locked"
        for _ in range(MAX_FAILURES + 1):
            with pytest.raises(SignInRefused) as refused:
                authenticate(uow.accounts, "officer.unknown", WRONG, signing.clock.now(), hasher)
            assert refused.value.code == "unknown"
        assert uow.accounts.credentials("officer.unknown") is None
        assert uow.accounts.credentials("officer.sso")[1:] == (0, None)  # nothing to guess


def test_no_refusal_answers_faster_than_a_wrong_password(signing):
    """The time a refusal takes tells nothing: each outcome's quickest of three tries (noise
    only ever adds time; the outcomes take turns, so a busy moment hits them alike) is within
    a generous bound of a wrong password's. Before, an unknown, locked or password-less
    account answered some 60 times faster."""
    took: dict[str, list[float]] = {why: [] for why in OUTCOMES.values()}
    for _ in range(3):
        for (name, password), why in OUTCOMES.items():
            began = time.perf_counter()
            with pytest.raises(SignInRefused):
                accounts.sign_in(signing, name, password)
            took[why].append(time.perf_counter() - began)
        with signing.uow() as uow:  # keep the account short of its lock
            uow.accounts.record_success("officer.local", signing.clock.now())
            uow.commit()
    quickest = {why: min(times) for why, times in took.items()}
    for why, seconds in quickest.items():
        assert seconds > quickest["wrong"] / 3, (
            why,
            {k: round(v * 1000) for k, v in quickest.items()},
        )
    assert statistics.median(quickest.values()) > 0.01  # argon2's work, not a database's

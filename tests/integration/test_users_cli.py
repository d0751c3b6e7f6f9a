"""`ruta users` on SQLite and PostgreSQL: add refuses an existing name, deactivate, activate,
set-role and reset-password each change one thing and leave an audited event."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from institutions.accounts import MAX_FAILURES, SignInRefused
from institutions.domain import User
from protocols.registry import Registry
from ruta import bootstrap
from ruta.cli import app
from tests.conftest import VAULT
from workflows.domain.clocks import SystemClock
from workflows.domain.events import EventKind
from workflows.domain.ports import Services
from workflows.services import accounts
from workflows.store.uow import SqlUnitOfWork

FIRST = "first password, long enough"
SECOND = "second password, long enough"
ADD = ["users", "add", "fp.narino", "--institution", "co-comite-trata-narino",
       "--role", "focal_point", "--country", "co", "--password-stdin"]  # fmt: skip


@pytest.fixture
def cli(bare_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Services]:
    """`ruta init` on a database of each kind; services on it to sign in with. The commands
    share the test's engine, whose connections the `database` fixture closes."""
    monkeypatch.setenv("RUTA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RUTA_DATABASE_URL", bare_engine.url.render_as_string(hide_password=False))
    monkeypatch.setattr(bootstrap, "engine", lambda cfg=None: bare_engine)
    monkeypatch.delenv("RUTA_SECRET_KEY", raising=False)
    bootstrap.settings.cache_clear()
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    yield Services(lambda: SqlUnitOfWork(bare_engine, VAULT), SystemClock(), Registry(loaded=[]))
    bootstrap.settings.cache_clear()


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, list(args), input=input)


def refusal(svc: Services, password: str) -> str:
    with pytest.raises(SignInRefused) as refused:
        accounts.sign_in(svc, "fp.narino", password)
    return refused.value.code


def test_each_users_command_changes_one_thing_and_leaves_an_event(cli):
    added = run(*ADD, input=f"{FIRST}\n")
    assert added.exit_code == 0, added.output
    assert FIRST not in added.output
    assert accounts.sign_in(cli, "fp.narino", FIRST).role == "focal_point"

    again = run(*ADD[:-1], "--role", "admin")  # would have re-activated and re-roled it
    assert again.exit_code == 2
    assert again.output.count("\n") == 1
    assert "User fp.narino already exists; `ruta users add` never changes a user" in again.output
    assert "`ruta users set-role` or `ruta users reset-password` fp.narino" in again.output

    off = run("users", "deactivate", "fp.narino")
    assert (off.exit_code, off.output) == (0, "User fp.narino deactivated.\n")
    assert refusal(cli, FIRST) == "deactivated"
    assert "fp.narino" in run("users", "list").output
    assert "(deactivated)" in run("users", "list").output
    assert "already deactivated" in run("users", "deactivate", "fp.narino").output
    again = run(*ADD, input=f"{FIRST}\n")
    assert again.exit_code == 2
    assert "already exists (deactivated)" in again.output
    assert "use `ruta users activate` `ruta users set-role`" in again.output
    assert refusal(cli, FIRST) == "deactivated"  # the refused add re-activated nothing

    on = run("users", "activate", "fp.narino")
    assert (on.exit_code, on.output) == (0, "User fp.narino reactivated.\n")
    assert accounts.sign_in(cli, "fp.narino", FIRST).active

    officer = run("users", "set-role", "fp.narino", "--role", "officer")
    assert officer.exit_code == 0, officer.output
    assert "officer of co-comite-trata-narino, countries CO" in officer.output
    manager = run("users", "set-role", "fp.narino", "--role", "manager", "--country", "pe")
    assert "manager of co-comite-trata-narino, countries PE" in manager.output
    with cli.uow() as uow:
        assert uow.directory.user("fp.narino") == User(
            "fp.narino", "co-comite-trata-narino", "manager", frozenset({"PE"})
        )

    for _ in range(MAX_FAILURES):
        refusal(cli, "a wrong password here")
    assert refusal(cli, FIRST) == "locked"
    reset = run("users", "reset-password", "fp.narino", "--password-stdin", input=f"{SECOND}\n")
    assert reset.exit_code == 0, reset.output
    assert SECOND not in reset.output
    assert accounts.sign_in(cli, "fp.narino", SECOND).role == "manager"  # and the lock is gone
    assert refusal(cli, FIRST) == "wrong"

    with cli.uow() as uow:
        events = uow.events.recorded()
    assert [(e.kind, e.actor, e.data["username"]) for e in events] == [
        (kind, "system:cli", "fp.narino")
        for kind in (
            EventKind.user_added,
            EventKind.user_deactivated,
            EventKind.user_activated,
            EventKind.user_role_changed,
            EventKind.user_role_changed,
            EventKind.user_password_reset,
        )
    ]
    assert events[4].data == {
        "username": "fp.narino",
        "role": "manager",
        "countries": ["PE"],
        "was": {"role": "officer", "countries": ["CO"]},
    }
    assert all("password" not in str(e.data).replace("local_password", "") for e in events)
    verified = run("audit", "verify")
    assert verified.exit_code == 0, verified.output  # on the chain with the cases' events


def test_reset_password_asks_twice_without_echoing_and_refuses_a_short_one(cli):
    assert run(*ADD, input=f"{FIRST}\n").exit_code == 0
    asked = run("users", "reset-password", "fp.narino", input=f"{SECOND}\n{SECOND}\n")
    assert asked.exit_code == 0, asked.output
    assert SECOND not in asked.output
    assert accounts.sign_in(cli, "fp.narino", SECOND)
    short = run("users", "reset-password", "fp.narino", "--password-stdin", input="short\n")
    assert (short.exit_code, short.output) == (2, "A password needs at least 12 characters.\n")
    assert accounts.sign_in(cli, "fp.narino", SECOND)


def test_without_the_key_file_the_commands_say_what_to_do_in_one_line(cli, tmp_path):
    (tmp_path / "home" / "secret.key").unlink()
    listed = run("users", "list")
    assert (listed.exit_code, listed.output.count("\n")) == (2, 1)
    assert "No encryption key:" in listed.output
    assert "run `ruta init` or set RUTA_SECRET_KEY" in listed.output


def test_commands_on_an_unknown_user_or_with_a_bad_role_say_so_in_one_line(cli):
    for args in (
        ["deactivate", "nobody"],
        ["activate", "nobody"],
        ["set-role", "nobody", "--role", "officer"],
        ["reset-password", "nobody", "--password-stdin"],
    ):
        result = run("users", *args, input=f"{SECOND}\n")
        assert (result.exit_code, result.output) == (
            2,
            "No user 'nobody'; the users are listed by `ruta users list`.\n",
        ), args
    assert run(*ADD, input=f"{FIRST}\n").exit_code == 0
    boss = run("users", "set-role", "fp.narino", "--role", "boss")
    assert boss.exit_code == 2
    assert "Unknown role 'boss'; allowed: focal_point, officer, manager, admin." in boss.output
    unscoped = run("users", "set-role", "fp.narino", "--role", "manager", "--country", "")
    assert unscoped.exit_code == 2
    with cli.uow() as uow:
        assert not uow.events.recorded()[-1].kind.startswith("user_role")

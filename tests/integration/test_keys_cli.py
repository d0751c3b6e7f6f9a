"""`ruta init` makes the key file; `ruta keys` rotates it with no downtime; `ruta purge`;
`ruta compliance rebuild` checks and repairs the compliance read model."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete

from ruta import bootstrap
from tests.integration.conftest import cli
from workflows.domain.access import Actor
from workflows.services import cases, tasks
from workflows.store import tables

NOW = datetime(2026, 11, 28, tzinfo=UTC)
PERSON = {"given_name": "Zorbalina", "family_name": "Sintética", "document_number": "SYN-123456"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RUTA_HOME", str(tmp_path / "home"))
    for name in ("RUTA_DATABASE_URL", "RUTA_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    bootstrap.settings.cache_clear()
    yield tmp_path / "home"
    bootstrap.settings.cache_clear()


def open_case() -> str:
    svc = bootstrap.services()
    loaded = svc.catalog.latest("CO", "trafficking")
    assert loaded is not None
    attrs = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
    return cases.open_case(svc, loaded, attrs, Actor.system("test"), person=PERSON)


def person(ref: str) -> dict[str, str]:
    with bootstrap.services().uow() as uow:
        return uow.cases.person(uow.cases.get(ref))


def test_init_generates_a_private_key_file_once(home):
    code, out = cli("init")
    assert code == 0, out
    key_file = home / "secret.key"
    assert "Encryption key: generated" in out
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first = key_file.read_text()
    code, out = cli("init")
    assert code == 0, out
    assert key_file.read_text() == first  # never replaced: the data would not open
    assert "Encryption key: " in out
    assert "generated" not in out


def test_a_key_file_others_can_read_is_refused(home):
    assert cli("init")[0] == 0
    os.chmod(home / "secret.key", 0o644)
    code, out = cli("keys", "status")
    assert code == 2
    assert "can be read by other users" in out
    assert "chmod 600" in out


def test_rotation_reseals_and_retires_the_old_key(home):
    assert cli("init")[0] == 0
    ref = open_case()
    code, out = cli("keys", "status")
    assert code == 0, out
    (old,) = [line.split()[0] for line in out.splitlines() if "seals and opens" in line]
    assert "1 sealed value(s)" in out
    code, out = cli("keys", "rotate")
    assert code == 0, out
    assert "the old key is retired" in out
    texts = [ln for ln in (home / "secret.key").read_text().splitlines() if ln[:1] != "#"]
    assert len(texts) == 1  # only the new key is left
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600
    code, out = cli("keys", "status")
    assert old not in out
    assert person(ref) == PERSON  # read under the new key alone


def test_rotation_with_one_key_in_the_environment_says_what_to_do(home, monkeypatch):
    code, key = cli("keys", "new")
    assert code == 0
    monkeypatch.setenv("RUTA_SECRET_KEY", key.strip())
    bootstrap.settings.cache_clear()
    assert cli("init")[0] == 0
    assert not (home / "secret.key").exists()  # the environment's key is used
    ref = open_case()
    code, out = cli("keys", "rotate")
    assert code == 2
    assert "RUTA_SECRET_KEY=<new>,<old>" in out
    _, new = cli("keys", "new")
    monkeypatch.setenv("RUTA_SECRET_KEY", f"{new.strip()},{key.strip()}")
    bootstrap.settings.cache_clear()
    code, out = cli("keys", "rotate")
    assert code == 0, out
    assert "remove them from RUTA_SECRET_KEY" in out
    monkeypatch.setenv("RUTA_SECRET_KEY", new.strip())
    bootstrap.settings.cache_clear()
    assert person(ref) == PERSON


def test_purge_lists_then_purges_nothing_on_a_fresh_database(home):
    assert cli("init")[0] == 0
    open_case()
    code, out = cli("purge", "--dry-run")
    assert (code, out.strip()) == (0, "Would purge the personal data of 0 case(s).")
    code, out = cli("purge")
    assert (code, out.strip()) == (0, "Purged the personal data of 0 case(s).")


def test_compliance_rebuild_finds_and_repairs_a_read_model_out_of_step(home):
    assert cli("init")[0] == 0
    ref = open_case()
    tasks.move(bootstrap.services(), Actor.system("test"), ref, "register_case", "complete")
    code, out = cli("compliance", "rebuild", "--check")
    assert code == 0, out
    assert "in step: 1 completed task(s), 2 care state(s) reached" in out
    with bootstrap.engine().begin() as conn:  # as if a backup had been restored without it
        conn.execute(delete(tables.task_completions))
        conn.execute(
            tables.care_states_reached.insert().values(
                case_id=1, state="made_up", protocol_id="CO-TRATA", country="CO", opened_at=NOW
            )
        )
    code, out = cli("compliance", "rebuild", "--check")
    assert code == 1
    assert "NOT in step: 1 row(s) missing, 1 row(s) that should not be there" in out
    code, out = cli("compliance", "rebuild", "--check")
    assert code == 1  # --check changed nothing
    code, out = cli("compliance", "rebuild")
    assert code == 0, out
    assert "rebuilt: 1 completed task(s), 2 care state(s) reached (1 row(s) missing" in out
    assert "in step" in cli("compliance", "rebuild", "--check")[1]

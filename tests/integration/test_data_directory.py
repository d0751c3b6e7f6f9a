"""RUTA_HOME is 0700 and what Ruta writes in it 0600, whatever the umask it was started with;
`ruta init` never writes a new key next to data sealed under a key it does not have."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from faker import Faker
from sqlalchemy import Engine, text

from ruta import bootstrap, datadir
from ruta.db import make_engine
from ruta.serve import start
from tests.integration.conftest import cli
from workflows.domain.access import Actor
from workflows.services import cases


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """A permissive umask (022), as on most systems: what Ruta creates must not rely on it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def home(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bare_engine: Engine,
    loose_umask: None,
    kept_engines: list[Engine],
) -> Path:
    """A fresh RUTA_HOME; its database is the default SQLite file there, or PostgreSQL."""
    monkeypatch.setenv("RUTA_HOME", str(tmp_path / "data" / "home"))
    monkeypatch.delenv("RUTA_SECRET_KEY", raising=False)
    if bare_engine.dialect.name == "sqlite":
        monkeypatch.delenv("RUTA_DATABASE_URL", raising=False)
    else:
        url = bare_engine.url.render_as_string(hide_password=False)
        monkeypatch.setenv("RUTA_DATABASE_URL", url)
    bootstrap.settings.cache_clear()
    return tmp_path / "data" / "home"


def open_case() -> str:
    svc = bootstrap.services()
    loaded = svc.catalog.latest("CO", "trafficking")
    assert loaded is not None
    fake = Faker("es_CO")
    person = {"given_name": fake.first_name(), "family_name": fake.last_name()}
    attrs = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
    return cases.open_case(svc, loaded, attrs, Actor.system("test"), person=person)


def test_init_makes_the_data_directory_0700_and_its_files_0600(home):
    code, out = cli("init")
    assert code == 0, out
    assert mode(home) == 0o700
    assert mode(home / "secret.key") == 0o600
    open_case()
    files = [p for p in home.rglob("*") if p.is_file()]
    assert files, "init wrote nothing"
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    if bootstrap.settings().database_url is None:
        assert mode(home / "ruta.sqlite3") == 0o600


def test_sqlite_gives_its_wal_and_shm_files_the_private_mode_of_the_database(tmp_path, loose_umask):
    engine = make_engine(f"sqlite:///{tmp_path / 'ruta.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        made = {p.name: mode(p) for p in tmp_path.iterdir()}
    engine.dispose()
    assert made == {"ruta.sqlite3": 0o600, "ruta.sqlite3-wal": 0o600, "ruta.sqlite3-shm": 0o600}


def test_a_data_directory_made_readable_before_is_tightened(tmp_path, loose_umask):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / "ruta.sqlite3").touch(mode=0o644)
    datadir.ensure(home)
    make_engine(f"sqlite:///{home / 'ruta.sqlite3'}").dispose()
    assert (mode(home), mode(home / "ruta.sqlite3")) == (0o700, 0o600)


def test_serve_writes_private_logs_and_its_children_run_under_umask_077(tmp_path, loose_umask):
    logs = datadir.ensure(tmp_path / "logs")
    child = start(
        "writer",
        ["sh", "-c", f"echo started; touch {tmp_path / 'made-by-child'}"],
        dict(os.environ),
        "-",
        "-",
        logs / "writer.log",
    )
    assert child.process.wait(10) == 0
    assert mode(logs / "writer.log") == 0o600
    assert (logs / "writer.log").read_text() == "started\n"
    assert mode(tmp_path / "made-by-child") == 0o600


# --- a missing key ---------------------------------------------------------------------


def test_init_refuses_a_new_key_when_sealed_data_needs_a_missing_key_file(home):
    assert cli("init")[0] == 0
    open_case()
    key = home / "secret.key"
    kept = key.read_text()
    key_id = bootstrap.vault().primary_id
    key.unlink()
    code, out = cli("init")
    assert code == 2
    assert not key.exists()  # no new key was written
    (line,) = out.strip().splitlines()
    assert key_id in line
    assert f"restore it from your backup to {key}" in line
    key.write_text(kept)  # restored from the backup
    key.chmod(0o600)
    code, out = cli("init")
    assert code == 0, out
    assert key.read_text() == kept


def test_init_refuses_a_key_file_that_lacks_the_key_the_data_was_sealed_under(home):
    assert cli("init")[0] == 0
    open_case()
    old_id = bootstrap.vault().primary_id
    key = home / "secret.key"
    key.unlink()
    assert cli("keys", "new")[0] == 0
    _code, other = cli("keys", "new")
    key.write_text(other)
    key.chmod(0o600)
    code, out = cli("init")
    assert code == 2
    assert old_id in out
    assert f"which the key file {key} does not hold" in out
    assert key.read_text() == other  # left as it was


def test_init_refuses_when_the_secret_key_setting_lacks_the_key(home, monkeypatch):
    assert cli("init")[0] == 0
    open_case()
    old_id = bootstrap.vault().primary_id
    _code, other = cli("keys", "new")
    monkeypatch.setenv("RUTA_SECRET_KEY", other.strip())
    bootstrap.settings.cache_clear()
    code, out = cli("init")
    assert code == 2
    assert old_id in out
    assert "RUTA_SECRET_KEY does not hold" in out


def test_init_on_a_fresh_database_still_generates_a_key(home):
    code, out = cli("init")
    assert code == 0, out
    assert "Encryption key: generated" in out

"""`ruta institutions list|import-hsds|export-hsds` on a SQLite file, through typer's runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from institutions.domain import Institution
from institutions.store import SqlDirectory
from ruta import bootstrap
from ruta.cli_institutions import app
from ruta.db import upgrade

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "hsds-3"
SAMPLE = [  # roles sorted and unique, as the store returns them
    Institution(
        id="co-coat",
        country="CO",
        jurisdiction="CO",
        name="Centro Operativo Anti-Trata (COAT)",
        roles=("coat", "entidad_territorial"),
        emails=("coat@co.example.org", "coat-bogota@co.example.org"),
        description="Recepción y seguimiento del caso",
    ),
    Institution(
        id="co-icbf-narino",
        country="CO",
        jurisdiction="CO-NAR",
        name="ICBF, Regional Nariño",
        roles=("icbf",),
        emails=("icbf-narino@co.example.org",),
    ),
    Institution(
        id="ec-dinapen-carchi",
        country="EC",
        jurisdiction="EC-C",
        name="DINAPEN Carchi",
        roles=("dinapen",),
        active=False,
    ),
]


def use_database(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Point the settings at a fresh SQLite file and migrate it."""
    monkeypatch.setenv("RUTA_HOME", str(path.parent / "home"))
    monkeypatch.setenv("RUTA_DATABASE_URL", f"sqlite:///{path}")
    bootstrap.settings.cache_clear()
    engine = bootstrap.engine()
    upgrade(engine)
    engine.dispose()


def stored() -> list[Institution]:
    engine = bootstrap.engine()
    with engine.begin() as conn:
        found = SqlDirectory(conn).institutions()
    engine.dispose()
    return found


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A database holding SAMPLE."""
    use_database(monkeypatch, tmp_path / "source.sqlite3")
    engine = bootstrap.engine()
    with engine.begin() as conn:
        SqlDirectory(conn).upsert(SAMPLE)
    engine.dispose()
    yield
    bootstrap.settings.cache_clear()


def run(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_export_then_import_into_a_fresh_database(source, tmp_path, monkeypatch, fmt):
    out = tmp_path / "export"
    result = run("export-hsds", str(out), "--format", fmt)
    assert result.exit_code == 0, result.output
    assert "3 institution(s) written" in result.stdout
    assert any(out.iterdir())

    use_database(monkeypatch, tmp_path / "target.sqlite3")
    assert stored() == []
    dry = run("import-hsds", str(out), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "3 institution(s) would be imported" in dry.stdout
    assert stored() == []

    result = run("import-hsds", str(out))
    assert result.exit_code == 0, result.output
    assert f"3 institution(s) imported from HSDS {fmt.upper()}" in result.stdout
    assert sorted(stored(), key=lambda i: i.id) == SAMPLE

    again = run("import-hsds", str(out))  # insert or replace: importing twice changes nothing
    assert again.exit_code == 0
    assert sorted(stored(), key=lambda i: i.id) == SAMPLE


def test_export_one_country(source, tmp_path):
    out = tmp_path / "ec"
    assert run("export-hsds", str(out), "--country", "ec").exit_code == 0
    assert (out / "organizations.csv").read_text().count("\n") == 2  # header + DINAPEN


def test_list(source):
    result = run("list", "--country", "CO")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "JURISDICTION", "ROLES", "ACTIVE"]
    assert lines[1].split() == ["co-coat", "CO", "coat,", "entidad_territorial", "yes"]
    assert lines[2].split() == ["co-icbf-narino", "CO-NAR", "icbf", "yes"]
    assert "ec-dinapen-carchi" not in result.stdout
    assert "2 institution(s)" in result.stdout
    everything = run("list")
    assert ["ec-dinapen-carchi", "EC-C", "dinapen", "no"] in [
        line.split() for line in everything.stdout.splitlines()
    ]


def test_importing_the_official_example_reports_rows_and_imports_the_rest(source):
    result = run("import-hsds", str(EXAMPLES / "examples-csv"))
    assert result.exit_code == 1
    assert "1 institution(s) imported" in result.stdout
    assert "1 without protocol roles; 4 problem(s)" in result.stdout
    for line in ("contacts.csv:1: organization_id", "locations.csv:1: organization_id"):
        assert line in result.stderr
    assert "Traceback" not in result.output
    assert "us-example-organization-inc" in run("list", "--country", "US").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import-hsds", "{tmp}/nowhere"], "is not a directory"),
        (["import-hsds", "{tmp}"], "no HSDS data"),
        (["export-hsds", "{tmp}/out", "--format", "xml"], "allowed: csv, json"),
        (["list", "--country", "Colombia"], "ISO 3166-1 alpha-2"),
    ],
)
def test_invalid_input_exits_2_without_traceback(source, tmp_path, args, message):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run(*(a.replace("{tmp}", str(empty)) for a in args))
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_uninitialised_database_exits_2(tmp_path, monkeypatch):
    monkeypatch.setenv("RUTA_DATABASE_URL", f"sqlite:///{tmp_path / 'blank.sqlite3'}")
    bootstrap.settings.cache_clear()
    try:
        result = run("list")
    finally:
        bootstrap.settings.cache_clear()
    assert result.exit_code == 2
    assert "ruta init" in result.stderr

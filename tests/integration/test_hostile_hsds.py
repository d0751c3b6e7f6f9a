"""Hostile HSDS through `ruta institutions import-hsds`: each bad row is reported as FILE:ROW
and skipped, a bad file is reported and skipped, the rest imports; the same on SQLite and
PostgreSQL (a NUL character used to abort the whole import on PostgreSQL only)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from faker import Faker
from sqlalchemy import Engine
from typer.testing import CliRunner

from institutions.domain import Institution
from institutions.hsds import write_hsds
from institutions.hsds_limits import MAX_DEPTH, MAX_TEXT
from institutions.store import SqlDirectory
from ruta import bootstrap
from ruta.cli_institutions import app

fake = Faker("es_CO")
Faker.seed(15)


def institutions(n: int) -> list[Institution]:
    return [
        Institution(
            id=f"co-entidad-{k}",
            country="CO",
            jurisdiction="CO-NAR",
            name=fake.company(),
            roles=("coat",),
            emails=(f"entidad-{k}@co.example.org",),
        )
        for k in range(1, n + 1)
    ]


@pytest.fixture
def use(engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """`ruta institutions` pointed at the migrated database of each kind."""
    monkeypatch.setenv("RUTA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RUTA_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    bootstrap.settings.cache_clear()
    monkeypatch.setattr(bootstrap, "engine", lambda cfg=None: engine)  # one pool, disposed
    yield engine
    bootstrap.settings.cache_clear()


def stored(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(i.id for i in SqlDirectory(conn).institutions())


def edit_rows(path: Path, edits: dict[int, dict[str, str]]) -> None:
    """Change cells of 1-based data rows of a CSV table."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
        header = list(rows[0])
    for n, cells in edits.items():
        rows[n - 1].update(cells)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def import_hsds(directory: Path):
    result = CliRunner().invoke(app, ["import-hsds", str(directory)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_hostile_csv_rows_are_reported_and_the_rest_imports(use, tmp_path):
    out = tmp_path / "csv"
    write_hsds(institutions(6), out, "csv")
    edit_rows(
        out / "organizations.csv",
        {
            1: {"name": "Alcaldía\x00 de Pasto"},  # PostgreSQL refuses NUL in text
            2: {"description": "x" * (MAX_TEXT + 1)},
            3: {"name": "N" * 300},  # longer than institutions.name (String(200))
            4: {"year_incorporated": "9" * 5000},  # int() of 5000 digits raises
        },
    )
    result = import_hsds(out)
    assert result.exit_code == 1
    reported = result.stderr.splitlines()
    assert any(line.startswith("organizations.csv:1: ") and "NUL" in line for line in reported)
    assert any(
        line.startswith("organizations.csv:2: ") and str(MAX_TEXT) in line for line in reported
    )
    assert any(line.startswith("organizations.csv:3: ") and "200" in line for line in reported)
    assert any(line.startswith("organizations.csv:4: ") for line in reported)
    assert not any(line.startswith("organizations.csv:5: ") for line in reported)
    assert "2 institution(s) imported" in result.stdout
    assert stored(use) == ["co-entidad-5", "co-entidad-6"]


def test_a_nul_in_a_linked_table_skips_that_row_only(use, tmp_path):
    out = tmp_path / "csv"
    write_hsds(institutions(3), out, "csv")
    edit_rows(out / "services.csv", {2: {"name": "co\x00at"}})
    result = import_hsds(out)
    assert result.exit_code == 1
    assert any(line.startswith("services.csv:2: ") for line in result.stderr.splitlines())
    assert stored(use) == ["co-entidad-1", "co-entidad-2", "co-entidad-3"]


def test_hostile_json_files_are_skipped_and_the_rest_imports(use, tmp_path):
    out = tmp_path / "json"
    write_hsds(institutions(4), out, "json")
    page = json.loads((out / "organizations.json").read_text(encoding="utf-8"))
    page["contents"][0]["name"] = "Gobernación\x00"
    page["contents"][1]["description"] = "y" * (MAX_TEXT + 1)
    (out / "organizations.json").write_text(json.dumps(page), encoding="utf-8")
    org = page["contents"][2]
    (out / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (out / "deeper-than-the-bound.json").write_text("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    (out / "huge-number.json").write_text(
        json.dumps(org)[:-1] + ', "year_incorporated": ' + "7" * 5000 + "}"
    )
    (out / "not-a-number.json").write_text(json.dumps(org)[:-1] + ', "year_incorporated": NaN}')
    (out / "infinite.json").write_text(json.dumps(org)[:-1] + ', "year_incorporated": 1e999}')
    (out / "folder.json").mkdir()

    result = import_hsds(out)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for start in (
        "organizations.json:1: ",
        "organizations.json:2: ",
        "deep.json: ",
        "deeper-than-the-bound.json: ",
        "huge-number.json: ",
        "not-a-number.json: ",
        "infinite.json: ",
        "folder.json: ",
    ):
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert "nested deeper than 32 levels" in result.stderr
    assert stored(use) == ["co-entidad-3", "co-entidad-4"]

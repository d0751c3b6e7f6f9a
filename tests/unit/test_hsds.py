"""HSDS 3.0 import and export: official examples, broken rows, round trips, schema validity."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from institutions import hsds_csv
from institutions.domain import LOCALES, Institution
from institutions.errors import InvalidRecord
from institutions.hsds import (
    NAMESPACE,
    SCHEMA_DIR,
    HsdsError,
    RowProblem,
    read_hsds,
    schemas,
    validate,
    write_hsds,
)
from institutions.seeds import SEEDS_DIR, load_seeds

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "hsds-3"
EXAMPLE_ORG = Institution(
    id="us-example-organization-inc",
    country="US",
    jurisdiction="US",
    name="Example Organization Inc.",
    roles=(),
    emails=("email@example.com",),
    locale="en",
    active=True,
    description="Example Org is a non-profit organization dedicated to providing services to "
    "qualified beneficiaries",
)
SAMPLE = [
    Institution(
        id="co-coat",
        country="CO",
        jurisdiction="CO",
        name="Centro Operativo Anti-Trata",
        roles=("coat", "entidad_territorial"),
        emails=("coat@co.example.org", "coat-2@co.example.org"),
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
        id="pe-dp-puno-juliaca",
        country="PE",
        jurisdiction="PE-PUN-211101",
        name="Defensoría, Juliaca",
        roles=(),
        locale="pt",
        active=False,
    ),
]


def by_id(institutions: list[Institution]) -> dict[str, Institution]:
    return {i.id: i for i in institutions}


def where(problems: list[RowProblem]) -> list[tuple[str, int | None]]:
    return sorted((p.file, p.row) for p in problems)


# --- the official examples -----------------------------------------------------------------


def test_official_csv_example_imports_and_reports_its_broken_links():
    result = read_hsds(EXAMPLES / "examples-csv")
    assert result.format == "csv"
    assert result.institutions == [EXAMPLE_ORG]
    assert result.without_roles == 1
    found = sorted((p.file, p.row, p.message.split()[0]) for p in result.problems)
    assert found == [
        ("contacts.csv", 1, "organization_id"),
        ("contacts.csv", 1, "service_at_location_id"),
        ("locations.csv", 1, "organization_id"),
        ("taxonomy_terms.csv", 1, "taxonomy_id"),
    ]
    assert all("points to no row of" in p.message for p in result.problems)
    assert "contacts.csv:1: organization_id ae67a707" in result.problems[0].render()


def test_official_json_examples_import():
    result = read_hsds(EXAMPLES / "examples-json")
    assert result.format == "json"
    assert result.institutions == [EXAMPLE_ORG]
    # every view names the same organization; only tabular.json has defects, reported by table
    assert {p.file for p in result.problems} <= {
        f"tabular.json#{t}.csv"
        for t in ("locations", "organization_identifiers", "contacts", "taxonomy_terms")
    }
    invalid = [p for p in result.problems if p.message.startswith("invalid")]
    assert where(invalid) == [
        ("tabular.json#locations.csv", 1),
        ("tabular.json#organization_identifiers.csv", 1),
    ]
    assert "external_identifier: 10092008082 is not of type 'string'" in invalid[0].message


@pytest.mark.parametrize(
    ("name", "imported", "problem"),
    [
        ("organization_full.json", 1, None),
        ("service_full.json", 1, None),  # organization embedded, country via its location
        ("service_at_location_full.json", 1, None),
        ("organization_list.json", 0, ("organization_list.json", 1)),  # Page, no location
        ("service_list.json", 0, ("service_list.json", 1)),
        ("service_at_location_list.json", 0, ("service_at_location_list.json", 1)),
        ("location.json", 0, None),  # a location alone: no organization, nothing to import
        ("taxonomy_term_list.json", 0, None),
    ],
)
def test_each_json_form_is_read(tmp_path, name, imported, problem):
    shutil.copy(EXAMPLES / "examples-json" / name, tmp_path)
    result = read_hsds(tmp_path)
    assert len(result.institutions) == imported
    if imported:
        assert result.institutions == [EXAMPLE_ORG]
    assert where(result.problems) == ([problem] if problem else [])
    if problem:
        assert "has no country" in result.problems[0].message


# --- broken input --------------------------------------------------------------------------


def rewrite(path: Path, row: int, **cells: str) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[row - 1].update(cells)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_broken_csv_rows_are_reported_and_the_rest_imports(tmp_path):
    write_hsds(SAMPLE, tmp_path, "csv")
    rewrite(tmp_path / "organizations.csv", 2, name="")
    rewrite(tmp_path / "organizations.csv", 3, email="not-an-email")
    result = read_hsds(tmp_path)
    assert by_id(result.institutions) == {"co-coat": SAMPLE[0]}
    assert where(result.problems) == [("organizations.csv", 2), ("organizations.csv", 3)]
    no_name, bad_email = sorted(result.problems, key=lambda p: p.row or 0)
    assert "name is empty" in no_name.message
    assert "'not-an-email' is not a 'email'" in bad_email.message


def test_bad_cells_and_dangling_links_name_file_row_and_column(tmp_path):
    write_hsds(SAMPLE, tmp_path, "csv")
    rewrite(tmp_path / "organizations.csv", 1, year_incorporated="nineteen")
    rewrite(tmp_path / "services.csv", 1, status="open")
    rewrite(tmp_path / "contacts.csv", 1, organization_id=str(uuid.uuid4()))
    result = read_hsds(tmp_path)
    messages = {(p.file, p.row): p.message for p in result.problems}
    assert set(messages) == {("organizations.csv", 1), ("services.csv", 1), ("contacts.csv", 1)}
    assert (
        "year_incorporated: 'nineteen' is not of type 'number'" in messages["organizations.csv", 1]
    )
    assert "'open' is not one of ['active', 'inactive'" in messages["services.csv", 1]
    assert "points to no row of organizations.csv" in messages["contacts.csv", 1]
    # the refused organization's own rows are not reported again; the others still import
    assert sorted(by_id(result.institutions)) == ["co-icbf-narino", "pe-dp-puno-juliaca"]


@pytest.mark.parametrize("files", [{}, {"notes.json": "[1, 2]"}, {"x.json": "{broken"}])
def test_a_directory_without_hsds_is_refused(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(HsdsError):
        read_hsds(tmp_path)


def test_a_missing_directory_is_refused(tmp_path):
    with pytest.raises(HsdsError, match="not a directory"):
        read_hsds(tmp_path / "nowhere")


def test_foreign_organizations_get_unique_slugs_and_iso_jurisdictions(tmp_path):
    def org(n: int, name: str, external: str | None, country: str | None) -> dict[str, object]:
        location: dict[str, object] = {"id": str(uuid.uuid4()), "location_type": "physical"}
        if external:
            location |= {"external_identifier": external, "external_identifier_type": "ISO 3166-2"}
        if country:
            location["addresses"] = [
                {
                    "id": str(uuid.uuid4()),
                    "address_1": "Calle 1",
                    "city": "Pasto",
                    "state_province": "Nariño",
                    "postal_code": "520001",
                    "country": country,
                    "address_type": "physical",
                }
            ]
        return {
            "id": str(uuid.UUID(int=n)),
            "name": name,
            "description": "",
            "locations": [location],
        }

    page = {
        "contents": [
            org(1, "Fundación Renacer", "CO-NAR", None),
            org(2, "Fundación Renacer", None, "co"),
            org(3, "Casa Nómade", None, None),
        ]
    }
    (tmp_path / "orgs.json").write_text(json.dumps(page))
    result = read_hsds(tmp_path)
    found = by_id(result.institutions)
    assert sorted(found) == ["co-fundacion-renacer", "co-fundacion-renacer-2"]
    assert found["co-fundacion-renacer"].jurisdiction == "CO-NAR"
    assert found["co-fundacion-renacer-2"].jurisdiction == "CO"
    assert all(i.locale == "es" and i.roles == () for i in found.values())
    assert where(result.problems) == [("orgs.json", 3)]


def test_an_invalid_institution_is_not_exported(tmp_path):
    bad = Institution(id="co-x", country="CO", jurisdiction="PE", name="X", roles=())
    with pytest.raises(InvalidRecord, match="not in country CO"):
        write_hsds([bad], tmp_path, "json")


# --- exports -------------------------------------------------------------------------------


def independent_validator(kind: str) -> Draft202012Validator:
    """A validator built here from the packaged schema files, not through institutions.hsds."""
    base = "https://example.org/hsds/"
    resources = [
        (base + p.name, Resource.from_contents(json.loads(p.read_text()), DRAFT202012))
        for p in SCHEMA_DIR.glob("*.json")
        if p.name != "openapi.json"
    ]
    registry = Registry().with_resources(resources)
    return Draft202012Validator(
        {"$ref": base + f"{kind}.json"}, registry=registry, format_checker=FormatChecker()
    )


def test_json_export_validates_against_the_schemas(tmp_path):
    [path] = write_hsds(SAMPLE, tmp_path, "json")
    page = json.loads(path.read_text())
    assert page["total_items"] == page["size"] == len(page["contents"]) == 3
    organization, service = independent_validator("organization"), independent_validator("service")
    for org in page["contents"]:
        assert list(organization.iter_errors(org)) == []
        for svc in org["services"]:
            assert list(service.iter_errors(svc)) == []
    coat = page["contents"][0]
    assert coat["id"] == str(uuid.uuid5(NAMESPACE, "co-coat"))
    assert coat["organization_identifiers"][0]["identifier_type"] == "ruta-institution-id"
    assert [s["name"] for s in coat["services"]] == ["coat", "entidad_territorial"]
    assert coat["locations"][0]["external_identifier"] == "CO"


def test_csv_export_validates_against_the_schemas(tmp_path):
    paths = write_hsds(SAMPLE, tmp_path, "csv")
    kinds = {str(s["path"]): kind for kind, s in schemas().items()}
    rows = 0
    for path in paths:
        kind = kinds[path.name]
        validator = independent_validator(kind)
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                obj = hsds_csv.typed(row, schemas()[kind])
                assert list(validator.iter_errors(obj)) == [], (path.name, obj)
                assert validate(kind, obj, tabular=True) == []
                rows += 1
    assert {p.name for p in paths} >= {"organizations.csv", "services.csv", "locations.csv"}
    assert rows > 20
    with (tmp_path / "locations.csv").open() as handle:
        types = [r["external_identifier_type"] for r in csv.DictReader(handle)]
    assert types == ["ISO 3166-1 alpha-2", "ISO 3166-2", "ruta-jurisdiction"]


# --- round trips ---------------------------------------------------------------------------

TEXT = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "Zs"), include_characters="\n\r\t"),
    max_size=30,
)


@st.composite
def institutions(draw: st.DrawFn) -> Institution:
    country = draw(st.from_regex(r"[A-Z]{2}", fullmatch=True))
    jurisdiction = country + draw(st.from_regex(r"(-[A-Z0-9]{1,3}(-[0-9]{2,7})?)?", fullmatch=True))
    local = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,8}", fullmatch=True)
    return Institution(
        id=draw(st.from_regex(r"[a-z][a-z0-9-]{1,20}", fullmatch=True)),
        country=country,
        jurisdiction=jurisdiction,
        name=draw(TEXT.filter(str.strip)),
        roles=tuple(
            draw(
                st.lists(
                    st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True), unique=True, max_size=3
                )
            )
        ),
        emails=tuple(
            f"{x}@{country.lower()}.example.org"
            for x in draw(st.lists(local, unique=True, max_size=3))
        ),
        locale=draw(st.sampled_from(LOCALES)),
        active=draw(st.booleans()),
        description=draw(TEXT),
    )


@pytest.mark.parametrize("fmt", ["csv", "json"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=st.lists(institutions(), max_size=4, unique_by=lambda i: i.id))
def test_round_trip(fmt, generated):
    assert all(i.problems() == [] for i in generated)
    with tempfile.TemporaryDirectory() as tmp:
        write_hsds(generated, Path(tmp), fmt)
        result = read_hsds(Path(tmp))
    assert result.problems == []
    assert by_id(result.institutions) == by_id(generated)


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_round_trip_of_the_seeds(tmp_path, fmt):
    if not any(SEEDS_DIR.glob("*.yaml")):
        pytest.skip("no seed files in institutions/seeds yet")
    seeds = load_seeds()
    write_hsds(seeds, tmp_path, fmt)
    result = read_hsds(tmp_path)
    assert result.problems == []
    assert by_id(result.institutions) == by_id(seeds)


def test_round_trip_of_the_sample_keeps_order_inside_each_record(tmp_path):
    write_hsds(SAMPLE, tmp_path / "csv", "csv")
    write_hsds(read_hsds(tmp_path / "csv").institutions, tmp_path / "json", "json")
    assert read_hsds(tmp_path / "json").institutions == SAMPLE

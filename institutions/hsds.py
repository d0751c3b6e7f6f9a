"""Open Referral HSDS 3.0 import and export of the institution directory (pure: no database).

`read_hsds(directory)` reads a tabular package (`organizations.csv`, ...) or a directory of
JSON files, validates every row or object against the HSDS JSON Schemas
(`institutions/hsds_schema/`, Draft 2020-12, the dialect of HSDS's OpenAPI 3.1 document; the
schema files declare none) and maps organizations to institutions. A bad row or object is
reported by file and row and skipped; the rest still imports. `write_hsds(...)` writes the
directory as CSV or JSON that validates against the same schemas and reads back equal.

Mapping (Ruta -> HSDS; ids are uuid5 in the fixed NAMESPACE below, so exports are stable):

- institution -> organization: id uuid5(inst.id); name; description (may be empty); email =
  the first email. Ruta's id rides in an organization_identifier with identifier_type
  `ruta-institution-id` (identifier_scheme `ruta`).
- each further email -> a contact of the organization (email only), in order; duplicate
  emails are dropped (on import too).
- jurisdiction -> one location (location_type `physical`, name = the jurisdiction) with
  external_identifier = the jurisdiction and external_identifier_type `ISO 3166-2` for a
  subdivision (CO-NAR), `ISO 3166-1 alpha-2` for a country (CO) and `ruta-jurisdiction` for a
  municipality (CO-NAR-52356: ISO 3166-2 plus the official statistics code, which no ISO code
  covers). No address is written: Ruta keeps no street address and HSDS requires one.
- each protocol role (duplicates dropped) -> a service: id uuid5(inst.id/role), name = the
  role id, status `active` or `inactive` from Institution.active, linked to the location by a
  service_at_location, classified by an attribute whose taxonomy_term (code = name = the role)
  is in the taxonomy `ruta-protocol-roles`.
- locale -> a language (code es/pt/en) on the location and on every service.
- active -> also an attribute of the organization, term `active` or `inactive` of the taxonomy
  `ruta-institution-status`, so an institution without roles keeps its flag.

JSON export: `organizations.json`, one Page (as `organization_list.json`) of full organizations
with their services embedded (as `organization_full.json`). CSV export: organizations,
organization_identifiers, contacts, locations, languages, services, service_at_location,
attributes, taxonomy_terms and taxonomies (.csv).

Import of foreign HSDS (data not written by Ruta) maps each organization to an institution:

- id: the `ruta-institution-id` identifier, else `<country>-<slug of the name>` (made unique).
- country and jurisdiction: from a location of the organization (its own, or one its services
  are at): an external_identifier of the types above -> jurisdiction (a subdivision or
  municipality also when the type merely names ISO 3166); else an address country (ISO 3166-1
  alpha-2, kept as given, e.g. US) -> jurisdiction = country. No country: the organization is
  reported and skipped.
- roles: the `ruta-protocol-roles` codes of its services' attributes; none for foreign data
  (the institution imports with no roles; `HsdsImport.without_roles` counts them).
- emails: the organization's email, then its contacts' emails (duplicates dropped).
- locale: the first es/pt/en language of the location or services, else by country (pt for
  BR/PT/AO/MZ, es for Spanish-speaking countries, en otherwise).
- active: the `ruta-institution-status` attribute; else whether any service is `active`
  (true when it has none).
- Foreign keys in tabular data that point nowhere are reported with file and row and the link
  is ignored (the row itself still imports); only links to tables that were read are checked.
  Tables Ruta does not map (phones, schedules, ...) are not read.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from institutions import hsds_csv, hsds_json, hsds_limits
from institutions.domain import JURISDICTION, LOCALES, Institution
from institutions.errors import DirectoryError, InvalidRecord
from institutions.hsds_json import Item, Record

SCHEMA_DIR = Path(__file__).parent / "hsds_schema"
SCHEMA_BASE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
# uuid5(NAMESPACE_URL, "https://ruta.example.org/hsds/3.0"); never change it: ids would change.
NAMESPACE = uuid.UUID("c05d23ad-2156-5476-967a-817690325e67")
ID_TYPE = "ruta-institution-id"
ROLES = "ruta-protocol-roles"
STATUS = "ruta-institution-status"
ISO_SUBDIVISION, ISO_COUNTRY, MUNICIPALITY = "ISO 3166-2", "ISO 3166-1 alpha-2", "ruta-jurisdiction"
LANGUAGE_NAMES = {"es": "Spanish", "pt": "Portuguese", "en": "English"}
PORTUGUESE = frozenset(("BR", "PT", "AO", "MZ"))
SPANISH = frozenset(
    {"AR", "BO", "CL", "CO", "CR", "CU", "DO", "EC", "ES", "GQ", "GT", "HN", "MX", "NI", "PA", "PE"}
    | {"PR", "PY", "SV", "UY", "VE"}
)
# Tables read from a tabular package, and the order tables are written in.
KINDS = (
    "organization",
    "organization_identifier",
    "contact",
    "location",
    "address",
    "language",
    "service",
    "service_at_location",
    "attribute",
    "taxonomy_term",
    "taxonomy",
)
FOREIGN_KEYS = {
    "organization_id": "organization",
    "service_id": "service",
    "location_id": "location",
    "service_at_location_id": "service_at_location",
    "taxonomy_term_id": "taxonomy_term",
    "taxonomy_id": "taxonomy",
    "contact_id": "contact",
    "phone_id": "phone",
    "program_id": "program",
}
Format = Literal["csv", "json"]


class HsdsError(DirectoryError, ValueError):
    """The directory cannot be read as HSDS at all (missing, empty, no HSDS data)."""


@dataclass(frozen=True, slots=True)
class RowProblem:
    """What is wrong where.

    `row` is the 1-based data row of a CSV table, or the 1-based item of a JSON list or Page;
    None when the problem is about a whole file (or a JSON file holding a single object).
    """

    file: str
    row: int | None
    message: str

    def render(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True)
class HsdsImport:
    institutions: list[Institution]
    problems: list[RowProblem]
    format: Format = "csv"

    @property
    def without_roles(self) -> int:
        return sum(1 for i in self.institutions if not i.roles)


# --- schemas -----------------------------------------------------------------------------


@cache
def schemas() -> dict[str, Record]:
    """Each HSDS object's schema by kind (organization, service, ...)."""
    out = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        if path.name != "openapi.json":
            out[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return out


@cache
def _validator(kind: str) -> Any:
    registry: Registry[Any] = Registry().with_resources(
        (
            SCHEMA_BASE + f"{name}.json",
            Resource.from_contents(schema, default_specification=DRAFT202012),
        )
        for name, schema in schemas().items()
    )
    schema = {**schemas()[kind], "$id": SCHEMA_BASE + f"{kind}.json"}
    formats = [f for f in ("email", "uuid", "date-time") if f in FormatChecker.checkers]
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker(formats))


def validate(kind: str, obj: Record, tabular: bool = False) -> list[str]:
    """What is wrong with an HSDS object against its schema, one message per error."""
    out = []
    for error in sorted(_validator(kind).iter_errors(obj), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path)
        out.append(f"{where}: {error.message}" if where else str(error.message))
    if tabular:
        for column in schemas()[kind].get("tabular_required", []):
            if obj.get(column) in (None, ""):
                out.append(f"{column!r} is required in {schemas()[kind]['path']}")
    return out


# --- reading -----------------------------------------------------------------------------


@dataclass
class _Graph:
    """Every record by kind and id, with where each came from."""

    records: dict[str, dict[str, Record]] = field(default_factory=dict)
    origin: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    _index: dict[tuple[str, str], dict[Any, list[Record]]] = field(default_factory=dict)

    def table(self, kind: str) -> dict[str, Record]:
        return self.records.setdefault(kind, {})

    def where(self, kind: str, key: str, value: Any) -> list[Record]:
        """The records of `kind` whose `key` is `value` (indexed once all are loaded)."""
        if (kind, key) not in self._index:
            index: dict[Any, list[Record]] = {}
            for record in self.table(kind).values():
                if record.get(key) is not None:
                    index.setdefault(record[key], []).append(record)
            self._index[kind, key] = index
        return self._index[kind, key].get(value, [])


def read_hsds(directory: Path) -> HsdsImport:
    """The institutions in an HSDS directory (CSV or JSON) and every problem found."""
    if not directory.is_dir():
        raise HsdsError(f"{directory} is not a directory; give the folder holding the HSDS files.")
    table_names = {str(schemas()[k]["path"]): k for k in KINDS}
    fmt: Format
    if any((directory / name).is_file() for name in table_names):
        if not (directory / "organizations.csv").is_file():
            raise HsdsError(f"{directory} has HSDS tables but no organizations.csv.")
        fmt, found = "csv", hsds_csv.read(directory, schemas(), KINDS)
    elif any(directory.glob("*.json")):
        fmt, found = "json", hsds_json.read(directory, table_names)
        if not found.hsds_files:
            why = "; ".join(f"{f}: {m}" for f, _, m in found.problems[:3]) or hsds_json.KNOWN
            raise HsdsError(f"{directory} holds no HSDS data ({why}).")
    else:
        raise HsdsError(
            f"{directory} has no HSDS data: expected organizations.csv (tabular form) "
            "or *.json files (organizations, services, Page wrappers)."
        )
    problems = [RowProblem(f, r, m) for f, r, m in found.problems]
    graph, tabular, refused_ids = _load(found.items, problems)
    problems += _dangling(graph, tabular, found.tables, refused_ids)
    institutions, refused = _institutions(graph)
    return HsdsImport(institutions, problems + refused, fmt)


def _load(items: list[Item], problems: list[RowProblem]) -> tuple[_Graph, list[Item], set[Any]]:
    """Validate each item and merge the valid ones into one graph of flat records.

    The same object may appear in several files (the official examples repeat one organization
    in every view); its fields are merged. A repeated id within one table is a problem. Also
    returns the ids of the refused rows, so links to them are not reported a second time.
    """
    graph = _Graph()
    tabular: list[Item] = []
    refused: set[Any] = set()
    rows_seen: dict[tuple[str, str], int | None] = {}
    for item in items:
        bounds = hsds_limits.problems(item.data)
        if bounds:  # checked first: the schema validator would echo or recurse into them
            message = f"{item.kind} beyond Ruta's bounds, skipped: " + "; ".join(bounds)
            problems.append(RowProblem(item.file, item.row, message))
            continue
        errors = validate(item.kind, item.data, item.tabular)
        if not item.tabular:
            for kind, obj in hsds_json.undescribed(item.kind, item.data):
                errors += [f"{kind} {obj.get('id')}: {m}" for m in validate(kind, obj)]
        if errors:
            message = f"invalid {item.kind}, skipped: " + "; ".join(errors)
            problems.append(RowProblem(item.file, item.row, message))
            if isinstance(item.data.get("id"), str):
                refused.add(item.data["id"])
            continue
        if item.tabular:
            key = (item.file, str(item.data["id"]))
            if key in rows_seen:
                message = f"id {key[1]} repeats row {rows_seen[key]}; the row is skipped"
                problems.append(RowProblem(item.file, item.row, message))
                continue
            rows_seen[key] = item.row
            tabular.append(item)
            records: Iterable[tuple[str, Record]] = [(item.kind, item.data)]
        else:
            records = hsds_json.flatten(item.kind, item.data)
        for kind, flat in records:
            merged = graph.table(kind).setdefault(str(flat["id"]), {})
            for k, v in flat.items():
                merged.setdefault(k, v)
            graph.origin.setdefault(str(flat["id"]), (item.file, item.row))
    return graph, tabular, refused


def _dangling(
    graph: _Graph, items: list[Item], read: set[str], refused: set[Any]
) -> Iterator[RowProblem]:
    """Foreign keys of tabular rows that point nowhere; the link is dropped from the record."""
    for item in items:
        record = graph.table(item.kind)[str(item.data["id"])]
        for key, target in FOREIGN_KEYS.items():
            value = item.data.get(key)
            if value is None or target not in read or value in graph.table(target):
                continue
            if record.get(key) == value:
                del record[key]
            if value in refused:
                continue  # the refused row is reported already
            target_file = schemas()[target]["path"]
            yield RowProblem(
                item.file,
                item.row,
                f"{key} {value} points to no row of {target_file}; the link is ignored",
            )


def _institutions(graph: _Graph) -> tuple[list[Institution], list[RowProblem]]:
    orgs = list(graph.table("organization").values())
    ruta_ids = {o["id"]: _ruta_id(graph, o) for o in orgs}
    taken = {i for i in ruta_ids.values() if i}
    out: list[Institution] = []
    problems: list[RowProblem] = []
    used: set[str] = set()
    for org in orgs:
        file, row = graph.origin[org["id"]]
        label = f"organization {org.get('name')!r} ({org['id']})"
        locations = _locations(graph, org)
        jurisdiction, country = _jurisdiction(graph, locations)
        if not country:
            problems.append(
                RowProblem(
                    file,
                    row,
                    f"{label} has no country: give one of its locations an "
                    "address with an ISO 3166-1 alpha-2 country (CO) or an "
                    f"external_identifier of type {ISO_SUBDIVISION}; skipped",
                )
            )
            continue
        inst_id = ruta_ids[org["id"]] or _slug(country, str(org.get("name", "")), taken)
        taken.add(inst_id)
        if inst_id in used:
            problems.append(
                RowProblem(
                    file,
                    row,
                    f"{label}: Ruta id {inst_id!r} is used by "
                    "another organization of this import; skipped",
                )
            )
            continue
        services = graph.where("service", "organization_id", org["id"])
        inst = Institution(
            id=inst_id,
            country=country,
            jurisdiction=jurisdiction or country,
            name=str(org.get("name", "")),
            roles=tuple(dict.fromkeys(r for s in services for r in _codes(graph, s["id"], ROLES))),
            emails=_emails(graph, org),
            locale=_locale(graph, locations, services, country),
            active=_active(graph, org, services),
            description=str(org.get("description", "")),
        )
        if inst.problems():
            problems.append(
                RowProblem(
                    file,
                    row,
                    f"{label} is not a valid Ruta institution: "
                    + "; ".join(inst.problems())
                    + "; skipped",
                )
            )
            continue
        used.add(inst_id)
        out.append(inst)
    return out, problems


def _ruta_id(graph: _Graph, org: Record) -> str | None:
    for ident in graph.where("organization_identifier", "organization_id", org["id"]):
        if ident.get("identifier_type") == ID_TYPE:
            return str(ident.get("identifier"))
    return None


def _locations(graph: _Graph, org: Record) -> list[Record]:
    own = graph.where("location", "organization_id", org["id"])
    at = [
        graph.table("location").get(str(sal.get("location_id")))
        for service in graph.where("service", "organization_id", org["id"])
        for sal in graph.where("service_at_location", "service_id", service["id"])
    ]
    found = own + [loc for loc in at if loc is not None]
    return list({loc["id"]: loc for loc in found}.values())


def _jurisdiction(graph: _Graph, locations: list[Record]) -> tuple[str | None, str | None]:
    for loc in locations:
        code = str(loc.get("external_identifier", ""))
        kind = str(loc.get("external_identifier_type", ""))
        if JURISDICTION.match(code) and (kind == MUNICIPALITY or "3166" in kind):
            return code, code[:2]
    for loc in locations:
        for address in graph.where("address", "location_id", loc["id"]):
            country = str(address.get("country", "")).strip().upper()
            if re.fullmatch(r"[A-Z]{2}", country):
                return None, country
    return None, None


def _slug(country: str, name: str, taken: set[str]) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-") or "organization"
    base = f"{country.lower()}-{words}"[:60].rstrip("-")
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _codes(graph: _Graph, link_id: str, taxonomy: str) -> Iterator[str]:
    """The codes of the taxonomy's terms that attributes attach to the linked record."""
    tax_id = str(_uuid(f"taxonomy/{taxonomy}"))
    for attr in graph.where("attribute", "link_id", link_id):
        term = graph.table("taxonomy_term").get(str(attr.get("taxonomy_term_id")))
        if (
            term
            and term.get("code")
            and (term.get("taxonomy") == taxonomy or term.get("taxonomy_id") == tax_id)
        ):
            yield str(term["code"])


def _emails(graph: _Graph, org: Record) -> tuple[str, ...]:
    emails = [org.get("email")] + [
        c.get("email") for c in graph.where("contact", "organization_id", org["id"])
    ]
    return tuple(dict.fromkeys(str(e) for e in emails if e))


def _locale(graph: _Graph, locations: list[Record], services: list[Record], country: str) -> str:
    languages = [
        *(lang for loc in locations for lang in graph.where("language", "location_id", loc["id"])),
        *(lang for s in services for lang in graph.where("language", "service_id", s["id"])),
    ]
    for lang in languages:
        if lang.get("code") in LOCALES:
            return str(lang["code"])
    return "pt" if country in PORTUGUESE else "es" if country in SPANISH else "en"


def _active(graph: _Graph, org: Record, services: list[Record]) -> bool:
    for code in _codes(graph, org["id"], STATUS):
        return code == "active"
    return any(s.get("status") == "active" for s in services) if services else True


# --- writing -----------------------------------------------------------------------------


def write_hsds(institutions: Iterable[Institution], directory: Path, fmt: Format) -> list[Path]:
    """Write the institutions as HSDS in `directory` (created if needed); the files written."""
    if fmt not in ("csv", "json"):
        raise ValueError(f"Unknown HSDS format {fmt!r}; allowed: csv, json.")
    orgs = []
    seen: set[str] = set()
    for inst in institutions:
        problems = inst.problems()
        if problems:
            raise InvalidRecord(f"Institution {inst.id!r}: {'; '.join(problems)}.")
        if inst.id in seen:
            raise InvalidRecord(f"Institution {inst.id!r} appears twice; ids are unique.")
        seen.add(inst.id)
        orgs.append(organization(inst))
    directory.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        for org in orgs:
            _check("organization", org)
            for kind, obj in hsds_json.undescribed("organization", org):
                _check(kind, obj)
        return [hsds_json.write(orgs, directory)]
    tables: dict[str, dict[str, Record]] = {k: {} for k in KINDS if k != "address"}
    for org in orgs:
        for kind, flat in hsds_json.flatten("organization", org):
            tables[kind].setdefault(flat["id"], flat)
    rows = {kind: list(records.values()) for kind, records in tables.items()}
    for kind, records in rows.items():
        for record in records:
            _check(kind, record, tabular=True)
    return hsds_csv.write(rows, schemas(), directory)


def _check(kind: str, obj: Record, tabular: bool = False) -> None:
    errors = validate(kind, obj, tabular)
    if errors:  # a bug in the mapping, not in the data
        raise AssertionError(f"export of {kind} {obj.get('id')} is not HSDS: {errors}")


def _uuid(name: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, name)


def _term(taxonomy: str, code: str, description: str) -> Record:
    return {
        "id": str(_uuid(f"{taxonomy}/{code}")),
        "code": code,
        "name": code,
        "description": description,
        "taxonomy": taxonomy,
        "taxonomy_id": str(_uuid(f"taxonomy/{taxonomy}")),
        "taxonomy_detail": {
            "id": str(_uuid(f"taxonomy/{taxonomy}")),
            "name": taxonomy,
            "description": {
                ROLES: "Roles of Ruta's national referral protocols for trafficking survivors",
                STATUS: "Whether Ruta routes tasks to the organization",
            }[taxonomy],
        },
    }


def _attribute(key: str, link_id: str, entity: str, term: Record) -> Record:
    return {
        "id": str(_uuid(key)),
        "link_id": link_id,
        "link_type": entity,
        "link_entity": entity,
        "taxonomy_term_id": term["id"],
        "taxonomy_term": term,
    }


def _language(key: str, locale: str) -> Record:
    return {"id": str(_uuid(key)), "name": LANGUAGE_NAMES[locale], "code": locale}


def organization(inst: Institution) -> Record:
    """The institution as a full HSDS organization, its services embedded."""
    org_id = str(_uuid(inst.id))
    loc_id = str(_uuid(f"{inst.id}/location"))
    depth = inst.jurisdiction.count("-")
    status = "active" if inst.active else "inactive"
    org: Record = {"id": org_id, "name": inst.name, "description": inst.description}
    if inst.emails:
        org["email"] = inst.emails[0]
    org["organization_identifiers"] = [
        {
            "id": str(_uuid(f"{inst.id}/identifier")),
            "identifier_scheme": "ruta",
            "identifier_type": ID_TYPE,
            "identifier": inst.id,
        }
    ]
    org["contacts"] = [
        {"id": str(_uuid(f"{inst.id}/contact/{n}")), "email": email}
        for n, email in enumerate(dict.fromkeys(inst.emails[1:]), start=1)
        if email != inst.emails[0]
    ]
    org["locations"] = [
        {
            "id": loc_id,
            "location_type": "physical",
            "name": inst.jurisdiction,
            "external_identifier": inst.jurisdiction,
            "external_identifier_type": (ISO_COUNTRY, ISO_SUBDIVISION, MUNICIPALITY)[depth],
            "languages": [_language(f"{inst.id}/location/language", inst.locale)],
        }
    ]
    org["attributes"] = [
        _attribute(
            f"{inst.id}/status", org_id, "organization", _term(STATUS, status, f"Ruta: {status}")
        )
    ]
    org["services"] = [
        _service(inst, role, org_id, loc_id, status) for role in dict.fromkeys(inst.roles)
    ]
    return org


def _service(inst: Institution, role: str, org_id: str, loc_id: str, status: str) -> Record:
    key = f"{inst.id}/{role}"
    service_id = str(_uuid(key))
    term = _term(ROLES, role, f"Protocol role {role}")
    return {
        "id": service_id,
        "organization_id": org_id,
        "name": role,
        "status": status,
        "service_at_locations": [
            {
                "id": str(_uuid(f"{key}/at-location")),
                "service_id": service_id,
                "location_id": loc_id,
            }
        ],
        "languages": [_language(f"{key}/language", inst.locale)],
        "attributes": [_attribute(f"{key}/role", service_id, "service", term)],
    }

"""HSDS 3.0 JSON: find the objects in a directory of JSON files, flatten them, write a Page.

Reading accepts every form the official examples use (tests/fixtures/hsds-3/examples-json):
a single object (`organization_full.json`, `service_full.json`, `location.json`, ...), a list
of objects, a Page wrapper `{"total_items": ..., "contents": [...]}` (`*_list.json`), the
tabular form `{"organizations.csv": [rows], ...}` (`tabular.json`) and the API root
(`base.json`, ignored). Each object's kind is told by its fields, since HSDS objects carry no
type tag. Nothing here validates: `institutions.hsds` validates each item before flattening.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from institutions import hsds_limits

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Item:
    """One object as found in a file: `row` is its 1-based place in a list, None if alone."""

    kind: str
    data: Record
    file: str
    row: int | None
    tabular: bool = False


@dataclass(frozen=True, slots=True)
class Found:
    items: list[Item]
    problems: list[tuple[str, int | None, str]]
    tables: set[str]  # kinds read from a tabular source, whose foreign keys can be checked
    hsds_files: int = 0  # files holding HSDS data (a Page or tabular form counts even if empty)


KNOWN = "an organization, service, service_at_location, location, taxonomy or taxonomy_term"

# kind -> (field holding a list of children, child kind, foreign key the child gets)
CHILD_LISTS: dict[str, list[tuple[str, str, str]]] = {
    "organization": [
        ("organization_identifiers", "organization_identifier", "organization_id"),
        ("locations", "location", "organization_id"),
        ("contacts", "contact", "organization_id"),
        ("services", "service", "organization_id"),  # not in the schema; organization_full
        ("attributes", "attribute", "link_id"),
    ],
    "service": [
        ("service_at_locations", "service_at_location", "service_id"),
        ("languages", "language", "service_id"),
        ("contacts", "contact", "service_id"),
        ("attributes", "attribute", "link_id"),
    ],
    "service_at_location": [
        ("contacts", "contact", "service_at_location_id"),
        ("attributes", "attribute", "link_id"),
    ],
    "location": [
        ("addresses", "address", "location_id"),
        ("languages", "language", "location_id"),
        ("contacts", "contact", "location_id"),
        ("attributes", "attribute", "link_id"),
    ],
}
# kind -> (field holding one embedded object, its kind, the parent's foreign key to it)
CHILD_OBJECTS: dict[str, list[tuple[str, str, str]]] = {
    "service": [("organization", "organization", "organization_id")],
    "service_at_location": [
        ("location", "location", "location_id"),
        ("service", "service", "service_id"),  # not in the schema; service_at_location_full
    ],
    "attribute": [("taxonomy_term", "taxonomy_term", "taxonomy_term_id")],
    "taxonomy_term": [("taxonomy_detail", "taxonomy", "taxonomy_id")],
}
# Embedded objects the schema of their parent does not describe, so not validated with it.
UNDESCRIBED = {("organization", "services"), ("service_at_location", "service")}


def classify(obj: Mapping[str, Any]) -> str | None:
    """The HSDS kind of a JSON object, or None when it is not one Ruta reads."""
    if "id" not in obj:
        return None
    keys = set(obj)
    if "location_type" in keys:
        return "location"
    if isinstance(obj.get("service"), dict) or isinstance(obj.get("location"), dict):
        return "service_at_location"
    if keys & {"status", "service_at_locations"} or isinstance(obj.get("organization"), dict):
        return "service"
    if keys & {"taxonomy_detail", "term_uri", "parent_id", "code", "taxonomy", "taxonomy_id"}:
        return "taxonomy_term"
    if "version" in keys and keys <= {"id", "name", "description", "uri", "version", "metadata"}:
        return "taxonomy"
    if "name" in keys or "description" in keys:
        return "organization"
    return None


def read(directory: Path, table_kinds: Mapping[str, str]) -> Found:
    """Every HSDS object in the directory's *.json files (`table_kinds`: CSV name -> kind)."""
    items: list[Item] = []
    problems: list[tuple[str, int | None, str]] = []
    tables: set[str] = set()
    hsds_files = 0
    for path in sorted(directory.glob("*.json")):
        name = path.name
        try:
            doc = hsds_limits.read_json(path)
        except (OSError, ValueError) as exc:  # JSONDecodeError, UnicodeDecodeError, a bound
            problems.append((name, None, f"not readable as JSON ({exc}); the file is skipped"))
            continue
        before = len(items)
        if isinstance(doc, dict) and any(k.endswith(".csv") for k in doc):
            hsds_files += 1
            for table, rows in doc.items():
                kind = table_kinds.get(table)
                if kind is None or not isinstance(rows, list):
                    continue
                tables.add(kind)
                for n, row in enumerate(rows, start=1):
                    if isinstance(row, dict):
                        items.append(Item(kind, row, f"{name}#{table}", n, tabular=True))
                    else:
                        problems.append((f"{name}#{table}", n, "a row must be a JSON object"))
            continue
        page = isinstance(doc, dict) and isinstance(doc.get("contents"), list)
        listed: list[Any] | None = (
            doc["contents"] if page else doc if isinstance(doc, list) else None
        )
        if listed is None:
            if isinstance(doc, dict) and "id" not in doc and "openapi_url" in doc:
                continue  # the API root (base.json): metadata, no data
            _add(items, problems, doc, name, None)
        else:
            for n, obj in enumerate(listed, start=1):
                _add(items, problems, obj, name, n)
        hsds_files += page or len(items) > before
    return Found(items, problems, tables, hsds_files)


def _add(
    items: list[Item],
    problems: list[tuple[str, int | None, str]],
    obj: Any,
    name: str,
    row: int | None,
) -> None:
    kind = classify(obj) if isinstance(obj, dict) else None
    if kind is None:
        problems.append((name, row, f"not an HSDS object Ruta reads; expected {KNOWN}"))
    else:
        items.append(Item(kind, obj, name, row))


def undescribed(kind: str, obj: Record) -> Iterator[tuple[str, Record]]:
    """Embedded objects (at any depth) that the parent's schema does not cover."""
    for field, child_kind, _ in CHILD_LISTS.get(kind, []) + CHILD_OBJECTS.get(kind, []):
        value = obj.get(field)
        children = value if isinstance(value, list) else [value] if value is not None else []
        for child in children:
            if not isinstance(child, dict):
                continue
            if (kind, field) in UNDESCRIBED:
                yield child_kind, child
            yield from undescribed(child_kind, child)


def flatten(kind: str, obj: Record, links: Record | None = None) -> Iterator[tuple[str, Record]]:
    """The object and every embedded object as flat records, each with its foreign keys set."""
    flat = {k: v for k, v in obj.items() if not isinstance(v, dict | list)}
    flat.update(links or {})
    children: list[tuple[str, Record, Record]] = []
    for field, child_kind, key in CHILD_OBJECTS.get(kind, []):
        child = obj.get(field)
        if isinstance(child, dict) and "id" in child:
            flat[key] = child["id"]
            children.append((child_kind, child, {}))
    for field, child_kind, key in CHILD_LISTS.get(kind, []):
        for child in obj.get(field) or []:
            if isinstance(child, dict):
                link: Record = {key: obj["id"]}
                if child_kind == "attribute":
                    link["link_entity"] = child.get("link_entity", kind)
                children.append((child_kind, child, link))
    yield kind, flat
    for child_kind, child, link in children:
        yield from flatten(child_kind, child, link)


def write(organizations: list[Record], directory: Path) -> Path:
    """One Page of full organizations (services embedded as in organization_full.json)."""
    page = {
        "total_items": len(organizations),
        "total_pages": 1,
        "page_number": 1,
        "size": len(organizations),
        "first_page": True,
        "last_page": True,
        "empty": not organizations,
        "contents": organizations,
    }
    path = directory / "organizations.json"
    path.write_text(json.dumps(page, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path

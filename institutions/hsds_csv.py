"""HSDS 3.0 tabular form: one CSV per table, cells typed by the JSON Schemas.

Reading: each row of each table Ruta maps becomes an `Item` with its 1-based data row. Cells
are strings; they are typed by the property's type in the table's schema (`number` ->
int/float, `integer` -> int, `boolean` -> true/false) so the row can be validated as a JSON
object. An empty cell is a missing value, except in a required text column, where it is the
empty string (CSV cannot tell the two apart, and `description` is required but may be empty).
The official `datapackage.json` is not read (in the 3.0 example it is a dangling link); the
schemas carry the same types.

Writing: one CSV per table, the schema's scalar properties as columns in schema order.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from institutions import hsds_limits
from institutions.hsds_json import Found, Item, Record

# an integer cell; a longer one stays text, and the row is reported instead of converted
INTEGER = re.compile(rf"^[+-]?\d{{1,{hsds_limits.MAX_DIGITS}}}$")


def read(directory: Path, schemas: Mapping[str, Record], kinds: Iterable[str]) -> Found:
    """The rows of the tables of `kinds` that exist in the directory."""
    items: list[Item] = []
    problems: list[tuple[str, int | None, str]] = []
    tables: set[str] = set()
    for kind in kinds:
        schema = schemas[kind]
        name = str(schema["path"])
        path = directory / name
        if not path.is_file():
            continue
        tables.add(kind)
        try:
            hsds_limits.check_file(path)
            with path.open(encoding="utf-8-sig", newline="") as handle:
                reader = csv.DictReader(handle)
                header = reader.fieldnames or []
                for n, row in enumerate(reader, start=1):
                    if None in row:
                        problems.append(
                            (
                                name,
                                n,
                                f"the row has more cells than the {len(header)} columns "
                                "of the header; the row is skipped",
                            )
                        )
                        continue
                    items.append(Item(kind, typed(row, schema), name, n, tabular=True))
        except (OSError, ValueError, csv.Error) as exc:  # UnicodeDecodeError, a bound
            problems.append((name, None, f"not readable as UTF-8 CSV ({exc}); rest skipped"))
    return Found(items, problems, tables)


def typed(row: Mapping[str, str | None], schema: Record) -> Record:
    """A CSV row as a JSON object, each cell typed by the schema."""
    props: Mapping[str, Record] = schema.get("properties", {})
    required = set(schema.get("required", []))
    out: Record = {}
    for column, cell in row.items():
        prop = props.get(column, {})
        kind = prop.get("type", "string")
        if cell is None or cell == "":
            if column in required and kind == "string":
                out[column] = ""
            continue
        out[column] = _cell(cell, kind)
    return out


def _cell(cell: str, kind: Any) -> Any:
    text = cell.strip()
    if kind == "integer" and INTEGER.match(text):
        return int(text)
    if kind == "number":
        if INTEGER.match(text):
            return int(text)
        try:
            return float(text)
        except ValueError:
            return cell  # left as text: validation names the column and the type
    if kind == "boolean" and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return cell


def columns(schema: Record) -> list[str]:
    """The table's columns: the schema's properties that are not arrays or objects."""
    props: Mapping[str, Record] = schema.get("properties", {})
    return [
        name
        for name, prop in props.items()
        if prop.get("type") not in ("array", "object") and "$ref" not in prop
    ]


def write(
    tables: Mapping[str, list[Record]], schemas: Mapping[str, Record], directory: Path
) -> list[Path]:
    """One CSV per table (written even when empty, so the set of files is always the same)."""
    paths = []
    for kind, rows in tables.items():
        schema = schemas[kind]
        path = directory / str(schema["path"])
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns(schema))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _text(v) for k, v in row.items()})
        paths.append(path)
    return paths


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)

"""`ruta institutions`: list the directory, import and export it as Open Referral HSDS 3.0."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from institutions.hsds import HsdsError, read_hsds, write_hsds
from institutions.store import SqlDirectory
from ruta import bootstrap
from workflows.store.inbox import SqlInbox

app = typer.Typer(
    help="The institution directory: list it, import and export Open Referral HSDS 3.0.",
    no_args_is_help=True,
)

INVALID = 2  # exit status for invalid input (an unreadable directory, a bad option)
REFUSED = 1  # import-hsds: some rows were reported (the rest was imported)
HEADER = ("ID", "JURISDICTION", "ROLES", "ACTIVE")

CountryOption = Annotated[
    str | None, typer.Option("--country", help="Only this country (ISO 3166-1 alpha-2, e.g. CO)")
]


def _say(text: str = "") -> None:
    typer.echo(text)


def _fail(text: str, code: int = INVALID) -> typer.Exit:
    typer.echo(text, err=True)
    return typer.Exit(code)


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise _fail(f"Unknown country {value!r}; give an ISO 3166-1 alpha-2 code such as CO.")
    return code


@contextmanager
def _directory() -> Iterator[SqlDirectory]:
    """The directory on the configured database, in one transaction."""
    try:
        with bootstrap.engine().begin() as conn:
            yield SqlDirectory(conn)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        raise _fail(
            f"Cannot use the database: {cause.__class__.__name__}: {cause}. "
            "Run `ruta init` to create or upgrade it."
        ) from None


@app.command("list")
def list_institutions(country: CountryOption = None) -> None:
    """The institutions of the directory: id, jurisdiction, roles, active."""
    code = _country(country)
    with _directory() as store:
        found = store.institutions(code)
    if not found:
        where = f" in {code}" if code else ""
        _say(
            f"No institutions{where}. Load some with `ruta init` "
            "or `ruta institutions import-hsds DIR`."
        )
        return
    rows = [
        (i.id, i.jurisdiction, ", ".join(i.roles) or "-", "yes" if i.active else "no")
        for i in found
    ]
    widths = [max(len(h), *(len(r[n]) for r in rows)) for n, h in enumerate(HEADER)]
    for row in [HEADER, *rows]:
        _say("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    _say(f"\n{len(found)} institution(s)")


@app.command("import-hsds")
def import_hsds(
    directory: Annotated[Path, typer.Argument(help="Folder with HSDS 3.0 CSV or JSON files")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Read and report only; change nothing")
    ] = False,
) -> None:
    """Import organizations as institutions (insert or replace by id).

    Every refused or inconsistent row is printed as FILE:ROW: message; the rest imports.
    Exit 0 when everything imported, 1 when rows were reported, 2 when DIR is not HSDS.
    """
    try:
        result = read_hsds(directory)
    except (HsdsError, OSError) as exc:
        raise _fail(str(exc)) from None
    for problem in result.problems:
        typer.echo(problem.render(), err=True)
    count = len(result.institutions)
    if dry_run:
        verb = "would be imported (dry run: nothing written)"
    else:
        with _directory() as store:
            count = store.upsert(result.institutions)
        verb = "imported"
    _say(
        f"{count} institution(s) {verb} from HSDS {result.format.upper()} in {directory}; "
        f"{result.without_roles} without protocol roles; {len(result.problems)} problem(s)."
    )
    if result.problems:
        raise typer.Exit(REFUSED)


@app.command("export-hsds")
def export_hsds(
    directory: Annotated[Path, typer.Argument(help="Folder to write (created if missing)")],
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    country: CountryOption = None,
) -> None:
    """Write the directory as HSDS 3.0 (CSV tables or one JSON Page of organizations)."""
    if fmt not in ("csv", "json"):
        raise _fail(f"Unknown format {fmt!r}; allowed: csv, json.")
    code = _country(country)
    with _directory() as store:
        found = store.institutions(code)
    try:
        paths = write_hsds(found, directory, "csv" if fmt == "csv" else "json")
    except OSError as exc:
        raise _fail(f"Cannot write {directory}: {exc}") from None
    _say(
        f"{len(found)} institution(s) written as HSDS {fmt.upper()} to {directory}: "
        + ", ".join(p.name for p in paths)
    )


@app.command("gaps")
def gaps(country: CountryOption = None) -> None:
    """Routing gaps: tasks that went to the coordinator because nobody fills the role there."""
    code = _country(country)
    with _directory() as directory:
        scope = [code] if code else sorted({i.country for i in directory.institutions()})
    with bootstrap.engine().connect() as conn:
        rows = SqlInbox(conn).routing_gaps(scope)
    if not rows:
        _say("No routing gaps.")
        return
    _say(f"{'COUNTRY':<8}{'ROLE':<28}TASKS")
    for country_code, role, count in rows:
        _say(f"{country_code:<8}{role:<28}{count}")

"""`ruta audit`: check the tamper-evident event log, and anchor it outside the database."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from ruta import anchors, bootstrap
from ruta.anchors import AnchorFileError
from workflows.store.audit_verify import check_chain

app = typer.Typer(help="The tamper-evident event log.", no_args_is_help=True)

INVALID, TAMPERED = 2, 1


def _fail(text: str, code: int = INVALID) -> typer.Exit:
    typer.echo(text, err=True)
    return typer.Exit(code)


@app.command("anchor")
def audit_anchor(
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="Anchor file; default: RUTA_AUDIT_ANCHORS or RUTA_HOME/audit-anchors.jsonl",
        ),
    ] = None,
) -> None:
    """Append the chain's head (last event, its hash, the time, the events up to it) to the
    anchor file, and print it: file a copy where the database's writers cannot reach."""
    cfg = bootstrap.settings()
    target = path or cfg.anchors_file
    db = bootstrap.engine(cfg)
    try:
        anchor = anchors.take(db, target, datetime.now(UTC))
    except AnchorFileError as exc:
        raise _fail(str(exc)) from None
    finally:
        db.dispose()
    typer.echo(anchors.line(anchor))
    typer.echo(f"Appended to {target}.")


@app.command("verify")
def audit_verify(
    anchor_file: Annotated[
        Path | None,
        typer.Option(
            "--anchors",
            help="Anchor file; default: RUTA_AUDIT_ANCHORS or RUTA_HOME/audit-anchors.jsonl",
        ),
    ] = None,
) -> None:
    """Recompute the event hash chain and hold it to its head and to every anchor (the anchor
    file and the compliance snapshots). Exit 1 naming each event altered or missing, 2 if the
    anchor file cannot be read."""
    cfg = bootstrap.settings()
    path = anchor_file or cfg.anchors_file
    kept = []
    if anchor_file is None and not path.exists():
        typer.echo(f"No anchor file at {path} yet (`ruta audit anchor` writes one).")
    else:
        try:
            kept = anchors.read(path)
        except AnchorFileError as exc:
            raise _fail(str(exc)) from None
    db = bootstrap.engine(cfg)
    try:
        with db.connect() as conn:
            result = check_chain(conn, kept)
    finally:
        db.dispose()
    held = f"held to {result.anchors} anchor(s), {len(kept)} of them from {path}"
    if result.ok:
        typer.echo(f"Audit chain intact: {result.events} events, {held}.")
        return
    for problem in result.problems:
        typer.echo(problem, err=True)
    raise _fail(
        f"Audit chain BROKEN: {len(result.problems)} problem(s) in {result.events} events, "
        f"{held}; {result.intact} events intact before the first altered one.",
        code=TAMPERED,
    )

"""`ruta keys` (encryption keys of personal data) and `ruta purge` (retention)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated

import typer

from ruta import bootstrap, keys
from ruta.settings import Settings
from workflows.services import retention
from workflows.store.rotation import key_usage, reseal
from workflows.store.uow import SqlUnitOfWork
from workflows.store.vault import VaultError, new_key

keys_app = typer.Typer(
    help="Encryption keys of personal data: status, a new key, rotation.", no_args_is_help=True
)

INVALID = 2
GRACE_SECONDS = 2.0  # lets other processes pick up a rotated key file before the old one goes


def _say(text: str = "") -> None:
    typer.echo(text)


def _fail(text: str, code: int = INVALID) -> typer.Exit:
    typer.echo(text, err=True)
    return typer.Exit(code)


@keys_app.command("new")
def keys_new() -> None:
    """Print a fresh random key (for RUTA_SECRET_KEY; keep it out of shell history)."""
    _say(new_key())


@keys_app.command("status")
def keys_status() -> None:
    """Where the keys come from, which one seals, and how many values each one holds."""
    cfg = bootstrap.settings()
    try:
        vault = bootstrap.vault(cfg)
    except VaultError as exc:
        raise _fail(str(exc)) from None
    source = "RUTA_SECRET_KEY" if cfg.secret_key is not None else str(keys.key_file(cfg))
    with bootstrap.engine(cfg).connect() as conn:
        usage = key_usage(conn)
    _say(f"Keys from {source}:")
    for kid in vault.key_ids:
        role = "seals and opens" if kid == vault.primary_id else "opens only"
        _say(f"  {kid}  {role:<16} {usage.pop(kid, 0)} sealed value(s)")
    for kid, count in sorted(usage.items()):
        _say(f"  {kid}  MISSING          {count} sealed value(s) no key here opens")
    if usage:
        raise typer.Exit(1)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-seal all personal data under a new key, then retire the old one; no downtime.

    With the key file (the default) a new key is generated and made the sealing key at once,
    for every running process; the old key keeps opening data until everything is re-sealed,
    then it is removed from the file. An interrupted rotation resumes when run again.
    With RUTA_SECRET_KEY, put the new key first yourself (RUTA_SECRET_KEY=<new>,<old>;
    `ruta keys new` prints one), restart the console and the worker, then run this to
    re-seal; it tells you when the old key can go.
    """
    cfg = bootstrap.settings()
    try:
        if cfg.secret_key is not None:
            _rotate_env(cfg)
        else:
            _rotate_file(cfg)
    except VaultError as exc:
        raise _fail(str(exc)) from None


def _rotate_env(cfg: Settings) -> None:
    texts = keys.from_env(cfg) or []
    if len(texts) < 2:
        raise _fail(
            "RUTA_SECRET_KEY holds one key, so there is nothing to rotate to. Put a new key "
            "first (RUTA_SECRET_KEY=<new>,<old>; `ruta keys new` prints one), restart the "
            "console and the worker, then run `ruta keys rotate` again."
        )
    vault = bootstrap.vault(cfg)
    moved = reseal(_units(cfg))
    left = _under_older_keys(cfg, vault.primary_id)
    _say(f"Re-sealed {moved} value(s) under key {vault.primary_id}.")
    if left:
        raise _fail(f"Still sealed under older keys: {left}; run again.", code=1)
    _say(
        "Nothing is sealed under the older keys any longer: remove them from "
        "RUTA_SECRET_KEY (keep only the first) and restart the console and the worker."
    )


def _rotate_file(cfg: Settings) -> None:
    source = keys.KeyFile(keys.key_file(cfg))
    source.keys()  # fails clearly if missing or readable by others
    texts = source.texts()
    if len(texts) == 1:
        texts = [new_key(), *texts]
        source.write(texts)
        _say("New sealing key written; the old one still opens until re-sealing is done.")
    else:
        _say(f"Resuming an unfinished rotation ({len(texts)} keys in {source.path}).")
    units = _units(cfg)
    moved = reseal(units)
    time.sleep(GRACE_SECONDS)  # a process that sealed under the old key just before the switch
    moved += reseal(units)
    vault = bootstrap.vault(cfg)
    left = _under_older_keys(cfg, vault.primary_id)
    if left:
        raise _fail(f"Still sealed under older keys: {left}; run `ruta keys rotate` again.", 1)
    source.write(texts[:1])
    _say(f"Re-sealed {moved} value(s) under key {vault.primary_id}; the old key is retired.")


def _under_older_keys(cfg: Settings, primary: str) -> dict[str, int]:
    with bootstrap.engine(cfg).connect() as conn:
        return {k: n for k, n in key_usage(conn).items() if k != primary}


def _units(cfg: Settings) -> Callable[[], SqlUnitOfWork]:
    engine, vault = bootstrap.engine(cfg), bootstrap.vault(cfg)
    return lambda: SqlUnitOfWork(engine, vault)


def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be purged; change nothing")
    ] = False,
) -> None:
    """Delete the personal data of cases closed longer ago than their country's retention."""
    svc = bootstrap.services()
    found = retention.due(svc) if dry_run else retention.purge(svc)
    verb = "Would purge" if dry_run else "Purged"
    _say(f"{verb} the personal data of {len(found)} case(s).")
    for item in found:
        _say(
            f"  {item.ref:<16} closed {item.closed_at:%Y-%m-%d}, retention {item.retention} "
            f"({item.basis}) ran out {item.expired_at:%Y-%m-%d}"
        )

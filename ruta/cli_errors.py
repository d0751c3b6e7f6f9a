"""The `ruta` entry point: every failure ends in one line on stderr, never a traceback.

A known error (a setting, the database URL or server, RUTA_HOME, the encryption key, a bad
option value) says what is wrong and how to fix it, and exits 2; anything else says what
happened in one line and exits 1. RUTA_DEBUG=1 shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from sqlalchemy.exc import DBAPIError, NoSuchTableError
from typer._click.exceptions import NoArgsIsHelpError  # typer vendors click; not re-exported

from ruta import cli, logs
from ruta.settings import ConfigurationError
from workflows.domain.errors import SealedDataUnavailable
from workflows.store.vault import VaultError

INVALID = 2  # something the operator can fix: a setting, a file, an option
FAILED = 1  # anything else
INTERRUPTED = 130


def main() -> None:
    """Run the command line; turn what escapes it into one line and an exit status."""
    if os.environ.get("RUTA_DEBUG", "").strip().lower() in ("1", "true", "yes"):
        cli.main()
        return
    logs.install()  # every log record redacted, as in cli.main
    try:
        code = cli.app(standalone_mode=False)
    except NoArgsIsHelpError as exc:  # `ruta users`: the help is shown already
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # a bad option value, an unknown command
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "ruta"
        message = f"{where}: {exc.format_message()} (see `{where} --help`)"
        sys.exit(_say(message, exc.exit_code))
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(_say("ruta: interrupted.", INTERRUPTED))
    except Exception as exc:
        message, status = explain(exc)
        sys.exit(_say(f"ruta: {message}", status))
    sys.exit(code if isinstance(code, int) else 0)


def explain(exc: Exception) -> tuple[str, int]:
    """One line saying what went wrong and how to fix it, and the exit status."""
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        wrong = "; ".join(
            f"RUTA_{str(err['loc'][0]).upper()}: {err['msg']}" if err["loc"] else err["msg"]
            for err in exc.errors(include_input=False)
        )
        return f'Invalid setting: {wrong}. See README "Configuration".', INVALID
    if isinstance(exc, SettingsError):
        return f'Invalid setting: {_first_line(exc)}. See README "Configuration".', INVALID
    if isinstance(exc, ConfigurationError | VaultError | SealedDataUnavailable):
        return _first_line(exc), INVALID
    if isinstance(exc, NoSuchTableError) or _missing_table(exc):
        return "The database has no Ruta schema yet; run `ruta init`.", INVALID
    if _is_connection(exc):
        return (
            f"Cannot reach the database: {_first_line(getattr(exc, 'orig', None) or exc)}. "
            "Check RUTA_DATABASE_URL and that the server is running.",
            INVALID,
        )
    if isinstance(exc, OSError) and exc.filename:
        return f"Cannot use {exc.filename}: {exc.strerror}. Check the path and its permissions.", (
            INVALID
        )
    return (
        f"Unexpected {type(exc).__name__}: {_first_line(exc)} "
        "(run again with RUTA_DEBUG=1 for the traceback).",
        FAILED,
    )


def _is_connection(exc: Exception) -> bool:
    """A database that cannot be reached or opened (not a failed statement)."""
    if not isinstance(exc, DBAPIError):
        return False
    text = str(exc.orig).lower()
    return exc.statement is None or any(
        words in text
        for words in ("connection", "could not connect", "unable to open database", "timeout")
    )


def _missing_table(exc: Exception) -> bool:
    if not isinstance(exc, DBAPIError):
        return False
    text = str(exc.orig).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0].strip() if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _say(message: str, status: int) -> int:
    typer.echo(message, err=True)
    return status

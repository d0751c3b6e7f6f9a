"""The audit anchor file: the event log's head, appended to a file outside the database.

One JSON line per anchor, `{"event_id", "hash", "at", "count"}` (the last event, its hash,
when, and how many events the log held up to it), written by `ruta audit anchor` and the
nightly flow to RUTA_HOME/audit-anchors.jsonl or RUTA_AUDIT_ANCHORS (another disk is
better). The file is created 0600 (a new directory 0700), only ever opened for appending,
and flushed to disk before the command answers. `ruta audit verify` holds the log to every
line (workflows/store/audit_verify.py). Anchors hold no personal data.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Engine

from workflows.store.audit_verify import Anchor, head_now


class AnchorFileError(Exception):
    """The anchor file cannot be read or written, or a line of it is not an anchor."""


class _Line(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: int = Field(ge=0)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    at: AwareDatetime
    count: int = Field(ge=0)


def take(engine: Engine, path: Path, at: datetime) -> Anchor:
    """Append the chain's head now to the anchor file; return it."""
    with engine.connect() as conn:
        head = head_now(conn)
    if head is None:
        raise AnchorFileError(
            "The database has no audit chain head (run `ruta init`; if it was deleted, the "
            "log was tampered with: run `ruta audit verify`)."
        )
    anchor = Anchor(*head, at=at, source=str(path))
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as out:
            out.write(line(anchor) + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise AnchorFileError(f"Cannot append to the anchor file {path}: {exc.strerror}.") from None
    return anchor


def line(anchor: Anchor) -> str:
    """The anchor as a line of the file (and as `ruta audit anchor` prints it)."""
    fields = _Line(event_id=anchor.event_id, hash=anchor.hash, at=anchor.at, count=anchor.count)
    return fields.model_dump_json()


def read(path: Path) -> list[Anchor]:
    """Every anchor in the file, each named by its file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnchorFileError(f"Cannot read the anchor file {path}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise AnchorFileError(f"The anchor file {path} is not UTF-8 text.") from None
    anchors = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = _Line.model_validate_json(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "the line"
            raise AnchorFileError(
                f"{path}:{n} is not an anchor ({where}: {error['msg']}); each line is "
                '{"event_id": ..., "hash": ..., "at": ..., "count": ...}.'
            ) from None
        anchors.append(Anchor(line.event_id, line.hash, line.count, line.at, f"{path}:{n}"))
    return anchors

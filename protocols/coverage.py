"""Deadline coverage: every deadline of the loaded protocols with its basis and source.

One row per deadline a protocol declares: a task's due time, a state's own deadline, the
bounded extension of either, and the retention period after closure. A summary counts the
rows of each protocol by basis (legal, protocol, proposed), so an author sees at a glance how
much of a route rests on the law and how much is still a Ruta proposal. Pure functions: the
CLI (`ruta protocols coverage`) and the console only print what these return.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from protocols.loader import LoadedProtocol
from protocols.schema import Basis, Deadline, Protocol

Kind = Literal["task", "state", "extension", "retention"]
KINDS: tuple[Kind, ...] = ("task", "state", "extension", "retention")
ELLIPSIS = "..."


@dataclass(frozen=True, slots=True)
class CoverageRow:
    """One deadline of a protocol: where it sits, how long it is, and why."""

    protocol_id: str
    version: str
    kind: Kind
    track: str  # empty for retention
    state: str  # empty for retention
    task: str  # empty for a state's own deadline and for retention
    duration: str  # "5 calendar_days"; an extension reads "+5 calendar_days x1 (approver)"
    basis: Basis
    source: str

    @property
    def where(self) -> str:
        """`track.state` for a state deadline, `track.state.task` for a task, `retention`."""
        if self.kind == "retention":
            return "retention"
        return ".".join(part for part in (self.track, self.state, self.task) if part)


@dataclass(frozen=True, slots=True)
class CoverageSummary:
    """How many deadlines of one protocol version rest on each basis."""

    protocol_id: str
    version: str
    legal: int
    protocol: int
    proposed: int
    retention: str  # the retention period, or "" when the protocol declares none

    @property
    def total(self) -> int:
        return self.legal + self.protocol + self.proposed


def coverage_rows(protocols: Iterable[LoadedProtocol]) -> list[CoverageRow]:
    """Every deadline of the given protocols, in file order (retention last)."""
    rows: list[CoverageRow] = []
    for loaded in protocols:
        p = loaded.protocol
        for tname, track in p.tracks.items():
            for sname, state in track.states.items():
                if state.deadline is not None:
                    rows += _deadline(p, "state", tname, sname, "", state.deadline)
                for spec in state.tasks:
                    rows += _deadline(p, "task", tname, sname, spec.id, spec.due)
        if p.retention is not None:
            r = p.retention
            rows.append(
                CoverageRow(
                    p.id,
                    p.version,
                    "retention",
                    "",
                    "",
                    "",
                    str(r.after_closure),
                    r.basis,
                    r.source,
                )
            )
    return rows


def _deadline(
    p: Protocol, kind: Kind, track: str, state: str, task: str, d: Deadline
) -> list[CoverageRow]:
    """The row of a deadline, and a row for its extension (same basis and source) if any."""
    rows = [
        CoverageRow(p.id, p.version, kind, track, state, task, str(d.within), d.basis, d.source)
    ]
    if d.extension is not None:
        ext = d.extension
        duration = f"+{ext.by} x{ext.max} ({ext.approver})"
        rows.append(
            CoverageRow(
                p.id, p.version, "extension", track, state, task, duration, d.basis, d.source
            )
        )
    return rows


def coverage_summary(protocols: Iterable[LoadedProtocol]) -> list[CoverageSummary]:
    """Per protocol version: the count of its deadlines by basis, and its retention period."""
    out: list[CoverageSummary] = []
    for loaded in protocols:
        p = loaded.protocol
        counts = {basis: 0 for basis in Basis}
        for row in coverage_rows([loaded]):
            counts[row.basis] += 1
        retention = str(p.retention.after_closure) if p.retention is not None else ""
        out.append(
            CoverageSummary(
                p.id,
                p.version,
                counts[Basis.legal],
                counts[Basis.protocol],
                counts[Basis.proposed],
                retention,
            )
        )
    return out


def parse_bases(values: Iterable[str]) -> set[Basis]:
    """The bases named by the user (`legal`, `protocol`, `proposed`).

    Raises:
        ValueError: naming the unknown value and the allowed ones.
    """
    allowed = [b.value for b in Basis]
    out: set[Basis] = set()
    for value in values:
        name = value.strip().lower()
        if name not in allowed:
            raise ValueError(f"unknown basis {value!r}; allowed: {', '.join(allowed)}")
        out.add(Basis(name))
    return out


def select(
    rows: Iterable[CoverageRow],
    protocol_ids: Iterable[str] = (),
    bases: Iterable[Basis] = (),
    kinds: Iterable[str] = (),
) -> list[CoverageRow]:
    """The rows of the given protocols, bases and kinds (an empty filter keeps everything)."""
    ids, wanted, only = set(protocol_ids), set(bases), set(kinds)
    unknown = sorted(only - set(KINDS))
    if unknown:
        raise ValueError(f"unknown kind {unknown[0]!r}; allowed: {', '.join(KINDS)}")
    return [
        r
        for r in rows
        if (not ids or r.protocol_id in ids)
        and (not wanted or r.basis in wanted)
        and (not only or r.kind in only)
    ]


def _clip(text: str, width: int | None) -> str:
    text = " ".join(text.split())
    if width is None or len(text) <= width:
        return text
    return text[: max(width - len(ELLIPSIS), 0)] + ELLIPSIS


def _table(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the last column is not padded."""
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
    lines = []
    for row in [header, *body]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def render_rows(rows: Sequence[CoverageRow], source_width: int | None = 80) -> str:
    """A plain-text table of deadlines; sources longer than `source_width` are clipped."""
    header = ("PROTOCOL", "VERSION", "KIND", "WHERE", "DURATION", "BASIS", "SOURCE")
    body = [
        (
            r.protocol_id,
            r.version,
            r.kind,
            r.where,
            r.duration,
            r.basis.value,
            _clip(r.source, source_width),
        )
        for r in rows
    ]
    return _table(header, body)


def render_summary(summaries: Sequence[CoverageSummary]) -> str:
    """A plain-text table of deadline counts by basis, one line per protocol version."""
    header = ("PROTOCOL", "VERSION", "LEGAL", "PROTOCOL", "PROPOSED", "TOTAL", "RETENTION")
    body = [
        (
            s.protocol_id,
            s.version,
            str(s.legal),
            str(s.protocol),
            str(s.proposed),
            str(s.total),
            s.retention or "none",
        )
        for s in summaries
    ]
    return _table(header, body)

"""Reads of the Protocols screen: every protocol file with its versions, the deadlines with
their legal source, the versions cases are pinned to, and each track's diagram. Protocol
data only: no case, no person.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from protocols.loader import LoadedProtocol
from protocols.schema import Deadline, Duration
from workflows.domain.ports import Catalog, PinnedVersion, Services
from workflows.engine import machine


def registry(svc: Services) -> Catalog:
    """The protocol files the services were wired with (and those that failed to load)."""
    return svc.catalog


def known_versions(svc: Services) -> dict[str, list[LoadedProtocol]]:
    """Every protocol id the registry holds, with its versions oldest first."""
    found: dict[str, list[LoadedProtocol]] = {}
    for loaded in registry(svc).loaded:
        found.setdefault(loaded.id, []).append(loaded)
    for same in found.values():
        same.sort(key=lambda p: _version_order(p.protocol.version))
    return dict(sorted(found.items()))


def _version_order(version: str) -> tuple[tuple[int, int | str], ...]:
    """ "2026.1" < "2026.2" < "2026.10": numbers numerically, other parts as text after them."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in version.split("."))


@dataclass(frozen=True, slots=True)
class DeadlineRow:
    """One deadline of a protocol: a state's own, or a task's due time, labelled."""

    track: str
    state: str
    task: str  # the task label; empty for a state's own deadline
    role: str  # the role label (a handoff: the coordinator's, as routing gaps go there)
    within: Duration
    basis: str  # legal | protocol | proposed
    source: str
    extension_by: Duration | None = None
    extension_max: int = 0
    extension_approver: str = ""  # the approver role's label


def deadline_rows(loaded: LoadedProtocol, locale: str = "es") -> list[DeadlineRow]:
    """Every deadline of a protocol, in file order, labelled in the locale."""
    protocol = loaded.protocol
    rows: list[DeadlineRow] = []

    def add(track: str, state: str, task: str, role: str, d: Deadline) -> None:
        ext = d.extension
        rows.append(
            DeadlineRow(
                track,
                state,
                task,
                role,
                d.within,
                d.basis.value,
                d.source,
                ext.by if ext else None,
                ext.max if ext else 0,
                _role(loaded, ext.approver, locale) if ext else "",
            )
        )

    for track in protocol.tracks.values():
        track_label = track.label.get(locale)
        for state in track.states.values():
            state_label = state.label.get(locale)
            if state.deadline is not None:
                add(track_label, state_label, "", "", state.deadline)
            for spec in state.tasks:
                role = _role(loaded, spec.role or protocol.coordinator, locale)
                add(track_label, state_label, spec.label.get(locale), role, spec.due)
    return rows


def _role(loaded: LoadedProtocol, role: str, locale: str) -> str:
    label = loaded.protocol.roles.get(role)
    return label.get(locale) if label is not None else role


def pinned_versions(svc: Services, protocol_id: str) -> list[PinnedVersion]:
    """The stored versions of a protocol with their case counts (counts only, no case data)."""
    with svc.uow() as uow:
        return uow.protocols.versions(protocol_id)


def diagram(
    loaded: LoadedProtocol,
    track: str,
    fmt: Literal["dot", "mermaid"] = "dot",
    current: str | None = None,
    locale: str = "es",
    conditions: bool = False,
) -> str:
    """A track of the protocol drawn as a state diagram, `current` highlighted."""
    return machine.diagram(loaded, track, fmt, current, locale, conditions)

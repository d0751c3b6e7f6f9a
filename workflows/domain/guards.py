"""The named guard vocabulary, evaluated as pure predicates over a case."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from protocols.schema import (
    RISK_LEVELS,
    AnyOfGuard,
    ApprovalGuard,
    AttributeGuard,
    ConsentGuard,
    Guard,
    MinorGuard,
    NationalGuard,
    Protocol,
    RiskBelowGuard,
    TaskCompletedGuard,
    TrackInGuard,
)
from workflows.domain.case import Case, Task


@dataclass(frozen=True, slots=True)
class GuardContext:
    """What guards may look at: attributes, track states, completions, consents, approvals."""

    case_ref: str
    country: str
    attributes: dict[str, Any]
    tracks: dict[str, str]
    completed: dict[str, dict[str, Any]]
    consents: dict[tuple[str, str | None], bool]
    approvals: frozenset[str]

    @classmethod
    def of(cls, case: Case) -> GuardContext:
        consents: dict[tuple[str, str | None], bool] = {}
        legal: set[tuple[str, str | None]] = set()
        for record in case.consents:  # in time order: the latest word counts ...
            key = (record.purpose, record.role)
            if record.legal_basis:
                legal.add(key)
                consents[key] = True
            elif key not in legal:  # ... except that a legal duty does not end on withdrawal
                consents[key] = record.given
        for purpose, role in list(consents):  # a legal basis for a purpose covers every role
            if role is not None and (purpose, None) in legal:
                consents[(purpose, role)] = True
        completed = {t.key: t.outcome for t in case.tasks if t.status == "completed"}
        return cls(
            case_ref=case.ref,
            country=case.country,
            attributes=dict(case.attributes),
            tracks={name: t.state for name, t in case.tracks.items()},
            completed=completed,
            consents=consents,
            approvals=frozenset(a.name for a in case.approvals),
        )


def covering_conditions(protocol: Protocol, task: Task, purpose: str) -> list[Guard]:
    """The conditions that involve consent for `purpose` and that the task exists under.

    Those are the task's own `when`, its track's `opens_when` and the guards of the
    transitions into its state; sharing data with the task's role is implied for every task.
    """
    track = protocol.tracks.get(task.track)
    if track is None:
        return []
    found: list[Guard] = []
    candidates: list[Guard] = list(track.opens_when)
    for state_task in track.states[task.state].tasks:
        if state_task.id == task.key:
            candidates += state_task.when
    for transition in track.transitions:
        if transition.to == task.state:
            candidates += transition.when
    for guard in candidates:
        if _mentions(guard, purpose) and guard not in found:
            found.append(guard)
    if purpose == "data_sharing":
        found.append(ConsentGuard(consent="data_sharing", role=task.role))
    return found


def _mentions(guard: Guard, purpose: str) -> bool:
    if isinstance(guard, ConsentGuard):
        return guard.consent == purpose
    if isinstance(guard, AnyOfGuard):
        return any(_mentions(inner, purpose) for inner in guard.any_of)
    return False


def unmet(guards: Sequence[Guard], ctx: GuardContext) -> list[str]:
    """Plain-words descriptions of the guards that do not hold (empty: all hold)."""
    out: list[str] = []
    for guard in guards:
        reason = _unmet_one(guard, ctx)
        if reason:
            out.append(reason)
    return out


def holds(guards: Sequence[Guard], ctx: GuardContext) -> bool:
    return not unmet(guards, ctx)


def _unmet_one(g: Guard, ctx: GuardContext) -> str | None:
    if isinstance(g, ConsentGuard):
        to = f" to {g.role}" if g.role else ""
        given = ctx.consents.get((g.consent, g.role))
        if given is None and g.role is not None:
            given = ctx.consents.get((g.consent, None))
        if given:
            return None
        state = "was refused or withdrawn" if given is False else "has not been recorded"
        return f"consent for {g.consent}{to} {state}"
    if isinstance(g, RiskBelowGuard):
        risk = ctx.attributes.get("risk")
        if risk not in RISK_LEVELS:
            return "the security risk has not been assessed"
        if RISK_LEVELS.index(risk) < RISK_LEVELS.index(g.risk_below):
            return None
        return f"the security risk must be below {g.risk_below} (it is {risk})"
    if isinstance(g, MinorGuard):
        minor = ctx.attributes.get("minor")
        if minor is g.minor:
            return None
        return "the person must be a minor" if g.minor else "the person must be an adult"
    if isinstance(g, NationalGuard):
        national = ctx.attributes.get("nationality") == ctx.country
        if national is g.national:
            return None
        return f"the person must {'' if g.national else 'not '}be a national of {ctx.country}"
    if isinstance(g, TrackInGuard):
        current = ctx.tracks.get(g.track)
        if current in g.in_:
            return None
        now = f"it is in {current}" if current else "it is not open"
        return f"track {g.track} must be in {' or '.join(g.in_)} ({now})"
    if isinstance(g, TaskCompletedGuard):
        outcome = ctx.completed.get(g.task_completed)
        if outcome is None:
            return f"task {g.task_completed} must be completed"
        for key, want in (g.outcome or {}).items():
            if str(outcome.get(key)).lower() != str(want).lower():
                return f"task {g.task_completed} must have {key} = {want}"
        return None
    if isinstance(g, ApprovalGuard):
        return None if g.approval in ctx.approvals else f"approval {g.approval} must be recorded"
    if isinstance(g, AttributeGuard):
        return _attribute(g, ctx)
    if isinstance(g, AnyOfGuard):
        reasons = [_unmet_one(inner, ctx) for inner in g.any_of]
        if any(r is None for r in reasons):
            return None
        return "one of: " + "; or ".join(r for r in reasons if r)
    raise TypeError(
        f"Unknown guard type {type(g).__name__}; the guard vocabulary is protocols/schema.py "
        "`Guard` (add the new guard's rule here in `_unmet_one` and in `describe`)."
    )


def _attribute(g: AttributeGuard, ctx: GuardContext) -> str | None:
    value = ctx.attributes.get(g.attribute)
    if g.equals is not None:
        return None if value == g.equals else f"{g.attribute} must be {g.equals}"
    if g.not_equals is not None:
        return None if value != g.not_equals else f"{g.attribute} must not be {g.not_equals}"
    if g.not_in is not None:
        if value not in g.not_in:
            return None
        return f"{g.attribute} must not be one of {', '.join(g.not_in)}"
    allowed = g.in_ or []
    return None if value in allowed else f"{g.attribute} must be one of {', '.join(allowed)}"


def describe(g: Guard) -> str:
    """A short label of a guard for diagrams: `consent:assistance`, `risk<high`."""
    if isinstance(g, ConsentGuard):
        return f"consent:{g.consent}" + (f"@{g.role}" if g.role else "")
    if isinstance(g, RiskBelowGuard):
        return f"risk<{g.risk_below}"
    if isinstance(g, MinorGuard):
        return "minor" if g.minor else "adult"
    if isinstance(g, NationalGuard):
        return "national" if g.national else "foreigner"
    if isinstance(g, TrackInGuard):
        return f"{g.track} in {'|'.join(g.in_)}"
    if isinstance(g, TaskCompletedGuard):
        return f"done:{g.task_completed}"
    if isinstance(g, ApprovalGuard):
        return f"approved:{g.approval}"
    if isinstance(g, AttributeGuard):
        return f"{g.attribute}?"
    return " or ".join(describe(inner) for inner in g.any_of)

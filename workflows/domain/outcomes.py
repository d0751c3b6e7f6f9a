"""Check a completion's outcome against the fields the protocol step defines."""

from __future__ import annotations

from datetime import date
from typing import Any

from protocols.schema import OutcomeField, TaskSpec
from workflows.domain.errors import InvalidInput


def validate_outcome(case_ref: str, spec: TaskSpec, outcome: dict[str, Any]) -> dict[str, Any]:
    """Check a completion's outcome against the fields the protocol step defines."""
    unknown = set(outcome) - set(spec.outcome)
    if unknown:
        allowed = ", ".join(spec.outcome) or "none"
        raise InvalidInput(
            f"Task '{spec.id}' of case {case_ref} has no outcome field(s) "
            f"{', '.join(sorted(unknown))}; allowed: {allowed}."
        )
    clean: dict[str, Any] = {}
    for name, field in spec.outcome.items():
        if name not in outcome:
            if field.required:
                raise InvalidInput(
                    f"Task '{spec.id}' of case {case_ref} needs the outcome '{name}'"
                    f"{_choices(field)}."
                )
            continue
        clean[name] = _outcome_value(case_ref, spec.id, name, field, outcome[name])
    return clean


def _wanted(field: OutcomeField) -> str:
    """What a field takes, without echoing what was given (it might be personal)."""
    return {
        "choice": f"one of: {', '.join(field.options or [])}",
        "boolean": "true or false",
        "date": "a date (YYYY-MM-DD)",
    }[field.type]


def _choices(field: OutcomeField) -> str:
    return f" (one of: {', '.join(field.options)})" if field.options else f" ({field.type})"


def _outcome_value(case_ref: str, task: str, name: str, field: OutcomeField, value: Any) -> Any:
    ok = {
        "choice": isinstance(value, str) and value in (field.options or []),
        "boolean": isinstance(value, bool),
        "date": isinstance(value, str) and _is_date(value),
    }[field.type]
    if not ok:
        raise InvalidInput(
            f"Task '{task}' of case {case_ref}: outcome '{name}' needs {_wanted(field)}."
        )
    return value


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True

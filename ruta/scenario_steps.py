"""The shape of a scenario file, checked before it runs: each step's keys and their types.

A scenario comes from a file anyone may hand to `ruta scenario run`, so a malformed one is
refused up front as a ProtocolFileError naming the file and the step's line, rather than
failing half-way with a Python error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from protocols.errors import ProtocolFileError
from protocols.yamlfile import YamlDocument

TASK_MOVES = (
    "receive",
    "accept",
    "reject",
    "start",
    "hold",
    "resume",
    "complete",
    "fail",
    "cancel",
)
ACTIONS = (
    "open",
    "consent",
    "legal_basis",
    "set",
    "approve",
    "fire",
    "extend",
    *TASK_MOVES,
    "assign",
    "refer",
    "confirm_arrival",
    "wait",
    "sweep",
)
STEP_KINDS = (*ACTIONS, "expect", "expect_error")
WAIT = re.compile(r"^\s*(\d{1,6})\s+(minutes?|hours?|days?)\s*$")  # at most 999999 units

# What each value may be: "text" an id or words, "flag" true/false, "mapping" a mapping of
# plain values, "any" anything the step itself checks (expectations).
TEXT, FLAG, MAPPING = "text", "flag", "mapping"
_MOVE = {"as": TEXT, "case": TEXT, "reason": TEXT, "note": TEXT, "outcome": MAPPING}
# kind -> (required keys, optional keys), each with its type
SHAPES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "open": ({}, {}),
    "sweep": ({}, {}),
    "consent": ({"purpose": TEXT, "given": FLAG}, {"role": TEXT}),
    "legal_basis": ({"purpose": TEXT, "basis": TEXT}, {"role": TEXT}),
    "approve": ({"approval": TEXT, "role": TEXT}, {}),
    "fire": ({"track": TEXT, "trigger": TEXT}, {}),
    "extend": ({"role": TEXT}, {"task": TEXT, "track": TEXT}),
    **{
        move: ({"task": TEXT}, {k: v for k, v in _MOVE.items() if k != "task"})
        for move in TASK_MOVES
    },
    "assign": ({"task": TEXT}, {"to": TEXT, "as": TEXT, "case": TEXT}),
    "refer": ({"task": TEXT, "to": TEXT}, {"case": TEXT}),
    "confirm_arrival": ({}, {"outcome": MAPPING}),
}
_SCALARS = (str, int, float, bool, date, datetime)


@dataclass(frozen=True, slots=True)
class Step:
    kind: str
    arg: Any
    line: int | None


def parse(doc: YamlDocument) -> list[Step]:
    """Every step of a scenario with its line, or a ProtocolFileError naming what is wrong."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise _error(doc, (), "a scenario needs `steps:` (a list)")
    for key in ("protocol", "start", "case"):
        if key not in data:
            raise _error(doc, (), f"a scenario needs `{key}:`")
    if not isinstance(data["protocol"], str):
        raise _error(doc, ("protocol",), "`protocol:` is a protocol id such as CO-TRATA")
    if not _plain_mapping(data["case"]):
        raise _error(doc, ("case",), "`case:` maps attributes to plain values")
    inactive = data.get("inactive") or []
    if not isinstance(inactive, list) or not all(isinstance(i, str) for i in inactive):
        raise _error(doc, ("inactive",), "`inactive:` lists institution ids")
    out = []
    for i, step in enumerate(data["steps"]):
        loc = ("steps", i)
        if not isinstance(step, dict) or len(step) != 1 or next(iter(step)) not in STEP_KINDS:
            raise _error(doc, loc, f"a step is one of: {', '.join(STEP_KINDS)}")
        kind, arg = next(iter(step.items()))
        arg = {} if arg is None else arg
        problem = _check(kind, arg)
        if problem:
            raise _error(doc, (*loc, kind), f"{kind}: {problem}")
        out.append(Step(kind, arg, doc.line(loc)))
    return out


def _check(kind: str, arg: Any) -> str | None:
    """What is wrong with a step's argument, or None."""
    if kind == "wait":
        if not isinstance(arg, str) or not WAIT.match(arg):
            return "write '<n> minutes|hours|days' (n up to 6 digits)"
        return None
    if not isinstance(arg, dict):
        return "give a mapping, such as {task: ID}"
    if kind == "set":
        return None if _plain_mapping(arg) else "maps case attributes to plain values"
    if kind == "expect":
        return _check_expect(arg)
    if kind == "expect_error":
        inner = {k: v for k, v in arg.items() if k != "contains"}
        if not isinstance(arg.get("contains", ""), str):
            return "`contains:` is a text"
        if len(inner) != 1 or next(iter(inner)) not in ACTIONS:
            return f"wraps one action ({', '.join(ACTIONS)}) and `contains:`"
        inner_kind, inner_arg = next(iter(inner.items()))
        return _check(inner_kind, {} if inner_arg is None else inner_arg)
    required, optional = SHAPES[kind]
    for key, value in arg.items():
        want = required.get(key) or optional.get(key)
        if want is None:
            allowed = ", ".join([*required, *optional]) or "none"
            return f"unknown key {key!r}; allowed: {allowed}"
        if not _is(value, want):
            return f"`{key}` must be {_WORDS[want]}"
    missing = [k for k in required if k not in arg]
    return f"missing {', '.join(missing)}" if missing else None


TASK_LISTS = (
    "open_tasks",
    "overdue_tasks",
    "open_tasks_include",
    "cancelled_tasks",
    "rejected_tasks",
    "notifications",
)
EXPECTATIONS = ("tracks", *TASK_LISTS, "closed", "routing_gaps", "protocol", "linked")


def _check_expect(want: dict[Any, Any]) -> str | None:
    for key, value in want.items():
        if key not in EXPECTATIONS:
            return f"unknown expectation {key!r}; use {', '.join(EXPECTATIONS)}"
        if key == "tracks" and not _plain_mapping(value):
            return "`tracks` maps track names to states (or null: not opened)"
        if key in TASK_LISTS and not (
            isinstance(value, list) and all(_plain_mapping(item) for item in value)
        ):
            return f"`{key}` lists mappings such as {{task: ID, role: R}}"
        if key == "closed" and not isinstance(value, bool):
            return "`closed` is true or false"
        if key == "routing_gaps" and (type(value) is not int or not 0 <= value < 10**6):
            return "`routing_gaps` is a count"
        if key == "protocol" and not isinstance(value, str):
            return "`protocol` is a protocol id"
        if key == "linked":
            problem = _check_expect(value) if isinstance(value, dict) else "is a mapping"
            if problem:
                return f"`linked` {problem}"
    return None


_WORDS = {
    TEXT: "a text or id (quote numbers)",
    FLAG: "true or false",
    MAPPING: "a mapping of plain values",
}


def _is(value: Any, want: str) -> bool:
    if want == FLAG:
        return isinstance(value, bool)
    if want == MAPPING:
        return _plain_mapping(value)
    return isinstance(value, str)


def _plain_mapping(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and (v is None or isinstance(v, _SCALARS)) for k, v in value.items()
    )


def _error(doc: YamlDocument, loc: tuple[str | int, ...], message: str) -> ProtocolFileError:
    return ProtocolFileError(doc.name, [doc.problem(loc, message)])

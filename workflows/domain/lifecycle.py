"""The task lifecycle: FHIR Task statuses, the allowed moves and which party makes each.

From reference/standards-and-libraries.md section 1.2 (core prose, AU eRequesting table,
Gravity SDOH "set by"):

    requested  -> received | accepted | rejected | cancelled
    received   -> accepted | rejected | cancelled
    accepted   -> in-progress | cancelled
    in-progress-> completed | failed | cancelled
    any open   -> on-hold (suspended) -> back to the status it had

The responder (the institution the task is addressed to) receives, accepts, rejects, starts,
holds, resumes, completes and fails; the requester (the case's focal point) cancels. Completing
or starting a task that was not yet accepted records the implied moves first, so the history
always follows the table. What each move does to the case is the engine's
(workflows/engine/tasks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workflows.domain.case import OPEN_TASK_STATUSES, Task, TaskStatus
from workflows.domain.errors import InvalidInput
from workflows.domain.events import EventKind

Party = Literal["responder", "requester"]

REJECT_REASONS = (
    "no_capacity",
    "out_of_jurisdiction",
    "not_competent",
    "not_eligible",
    "duplicate",
    "other",
)
HOLD_REASONS = (
    "waiting_for_person",
    "waiting_for_documents",
    "waiting_for_other_institution",
    "person_unreachable",
    "security",
    "other",
)
FAIL_REASONS = ("person_unreachable", "person_declined", "service_unavailable", "other")
CANCEL_REASONS = ("not_needed", "duplicate", "entered_in_error", "other")
REASONS: dict[str, tuple[str, ...]] = {
    "reject": REJECT_REASONS,
    "hold": HOLD_REASONS,
    "fail": FAIL_REASONS,
    "cancel": CANCEL_REASONS,
}


@dataclass(frozen=True, slots=True)
class Move:
    sources: tuple[TaskStatus, ...]
    target: TaskStatus | None  # None: back to the status before the hold
    party: Party
    event: EventKind


_BEFORE_HOLD: tuple[TaskStatus, ...] = ("requested", "received", "accepted", "in-progress")
MOVES: dict[str, Move] = {
    "receive": Move(("requested",), "received", "responder", EventKind.task_received),
    "accept": Move(("requested", "received"), "accepted", "responder", EventKind.task_accepted),
    "reject": Move(("requested", "received"), "rejected", "responder", EventKind.task_rejected),
    "start": Move(("accepted",), "in-progress", "responder", EventKind.task_started),
    "hold": Move(_BEFORE_HOLD, "on-hold", "responder", EventKind.task_held),
    "resume": Move(("on-hold",), None, "responder", EventKind.task_resumed),
    "complete": Move(("in-progress",), "completed", "responder", EventKind.task_completed),
    "fail": Move(("in-progress",), "failed", "responder", EventKind.task_failed),
    "cancel": Move(OPEN_TASK_STATUSES, "cancelled", "requester", EventKind.task_cancelled),
}
# Moves a responder may make in one go from an earlier status; each step is recorded.
IMPLIED: dict[str, dict[str, tuple[str, ...]]] = {
    "start": {"requested": ("accept",), "received": ("accept",)},
    "complete": {
        "requested": ("accept", "start"),
        "received": ("accept", "start"),
        "accepted": ("start",),
    },
}


def named(move: str) -> Move:
    """The move of that name; refused naming the moves there are."""
    found = MOVES.get(move)
    if found is None:
        raise InvalidInput(f"Unknown task move {move!r}; moves: {', '.join(MOVES)}.")
    return found


def allowed_moves(task: Task) -> list[str]:
    """The moves open to a task in its status, implied steps included."""
    return [
        name
        for name, move in MOVES.items()
        if task.status in move.sources or task.status in IMPLIED.get(name, {})
    ]


def check_reason(move: str, reason: str | None, note: str | None) -> None:
    codes = REASONS.get(move)
    if codes is None:
        return
    if reason not in codes:
        raise InvalidInput(f"A {move} needs a reason, one of: {', '.join(codes)} (got {reason!r}).")
    if reason == "other" and not (note or "").strip():
        raise InvalidInput(f"A {move} with reason 'other' needs a note saying why.")

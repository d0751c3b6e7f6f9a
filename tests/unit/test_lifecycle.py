"""The FHIR Task lifecycle table: moves, who makes them, and the reasons they need."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.domain.case import OPEN_TASK_STATUSES, Task, TaskStatus
from workflows.domain.errors import InvalidInput
from workflows.domain.lifecycle import (
    CANCEL_REASONS,
    FAIL_REASONS,
    HOLD_REASONS,
    MOVES,
    REJECT_REASONS,
    allowed_moves,
    check_reason,
)

NOW = datetime(2026, 3, 2, 14, tzinfo=UTC)

# reference/standards-and-libraries.md section 1.2, as in the module docstring
REFERENCE: set[tuple[str, str]] = {
    ("requested", "received"),
    ("requested", "accepted"),
    ("requested", "rejected"),
    ("requested", "cancelled"),
    ("received", "accepted"),
    ("received", "rejected"),
    ("received", "cancelled"),
    ("accepted", "in-progress"),
    ("accepted", "cancelled"),
    ("in-progress", "completed"),
    ("in-progress", "failed"),
    ("in-progress", "cancelled"),
    # any open status (but on-hold itself) -> on-hold, and on-hold -> cancelled
    ("requested", "on-hold"),
    ("received", "on-hold"),
    ("accepted", "on-hold"),
    ("in-progress", "on-hold"),
    ("on-hold", "cancelled"),
}
ENDED: tuple[TaskStatus, ...] = ("completed", "rejected", "cancelled", "failed")


def task(status: TaskStatus) -> Task:
    return Task("care", "immediate", "lodge", "shelter", "x", status, NOW, NOW, NOW, NOW)


def test_the_moves_table_matches_the_reference_lifecycle():
    edges = {
        (source, move.target)
        for move in MOVES.values()
        if move.target is not None
        for source in move.sources
    }
    assert edges == REFERENCE


def test_resume_goes_back_from_on_hold_to_the_status_before_the_hold():
    resume = MOVES["resume"]
    assert resume.sources == ("on-hold",)
    assert resume.target is None  # the status it had; see TaskMoves._resume
    assert set(MOVES["hold"].sources) == set(OPEN_TASK_STATUSES) - {"on-hold"}


def test_only_the_requester_cancels_every_other_move_is_the_responders():
    parties = {name: move.party for name, move in MOVES.items()}
    assert parties.pop("cancel") == "requester"
    assert set(parties.values()) == {"responder"}


def test_every_move_leaves_an_event_named_after_it():
    assert {name: move.event for name, move in MOVES.items()} == {
        "receive": "task_received",
        "accept": "task_accepted",
        "reject": "task_rejected",
        "start": "task_started",
        "hold": "task_held",
        "resume": "task_resumed",
        "complete": "task_completed",
        "fail": "task_failed",
        "cancel": "task_cancelled",
    }


@pytest.mark.parametrize(
    ("status", "moves"),
    [
        ("requested", ["receive", "accept", "reject", "start", "hold", "complete", "cancel"]),
        ("received", ["accept", "reject", "start", "hold", "complete", "cancel"]),
        ("accepted", ["start", "hold", "complete", "cancel"]),
        ("in-progress", ["hold", "complete", "fail", "cancel"]),
        ("on-hold", ["resume", "cancel"]),
        *[(status, []) for status in ENDED],
    ],
)
def test_allowed_moves_per_status_include_the_implied_steps(status, moves):
    assert allowed_moves(task(status)) == moves


def test_an_ended_task_is_not_open():
    assert all(task(s).is_open for s in OPEN_TASK_STATUSES)
    assert not any(task(s).is_open for s in ENDED)


@pytest.mark.parametrize(
    ("move", "codes"),
    [
        ("reject", REJECT_REASONS),
        ("hold", HOLD_REASONS),
        ("fail", FAIL_REASONS),
        ("cancel", CANCEL_REASONS),
    ],
)
def test_moves_with_a_reason_need_a_known_code(move, codes):
    for code in codes:
        if code != "other":
            check_reason(move, code, None)
    with pytest.raises(InvalidInput) as info:
        check_reason(move, None, "a note alone is not a reason")
    assert str(info.value) == (f"A {move} needs a reason, one of: {', '.join(codes)} (got None).")
    with pytest.raises(InvalidInput, match="got 'busy'"):
        check_reason(move, "busy", None)


def test_a_rejection_is_coded_and_other_needs_a_note():
    assert "no_capacity" in REJECT_REASONS
    assert "out_of_jurisdiction" in REJECT_REASONS
    check_reason("reject", "no_capacity", None)
    check_reason("reject", "other", "the building is closed for repairs")
    for note in (None, "", "   "):
        with pytest.raises(InvalidInput, match="reason 'other' needs a note"):
            check_reason("reject", "other", note)


def test_moves_without_a_reason_take_none():
    for move in ("receive", "accept", "start", "resume", "complete"):
        check_reason(move, None, None)

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
always follows the table. A rejection ends the task (FHIR re-referral makes a new one): a new
task opens for the next candidate institution, or goes back to the focal point's institution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from protocols.schema import TaskSpec
from workflows.domain.case import OPEN_TASK_STATUSES, Routing, Task, TaskStatus
from workflows.domain.errors import InvalidInput, TaskNotOpen, UnknownTask
from workflows.domain.outcomes import validate_outcome
from workflows.engine.handoff import handoff_route

if TYPE_CHECKING:
    from workflows.engine.engine import Engine

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
    event: str


_BEFORE_HOLD: tuple[TaskStatus, ...] = ("requested", "received", "accepted", "in-progress")
MOVES: dict[str, Move] = {
    "receive": Move(("requested",), "received", "responder", "task_received"),
    "accept": Move(("requested", "received"), "accepted", "responder", "task_accepted"),
    "reject": Move(("requested", "received"), "rejected", "responder", "task_rejected"),
    "start": Move(("accepted",), "in-progress", "responder", "task_started"),
    "hold": Move(_BEFORE_HOLD, "on-hold", "responder", "task_held"),
    "resume": Move(("on-hold",), None, "responder", "task_resumed"),
    "complete": Move(("in-progress",), "completed", "responder", "task_completed"),
    "fail": Move(("in-progress",), "failed", "responder", "task_failed"),
    "cancel": Move(OPEN_TASK_STATUSES, "cancelled", "requester", "task_cancelled"),
}
# Moves a responder may make in one go from an earlier status; each step is recorded.
_IMPLIED: dict[str, dict[str, tuple[str, ...]]] = {
    "start": {"requested": ("accept",), "received": ("accept",)},
    "complete": {
        "requested": ("accept", "start"),
        "received": ("accept", "start"),
        "accepted": ("start",),
    },
}


def allowed_moves(task: Task) -> list[str]:
    """The moves open to a task in its status, implied steps included."""
    return [
        name
        for name, move in MOVES.items()
        if task.status in move.sources or task.status in _IMPLIED.get(name, {})
    ]


def check_reason(move: str, reason: str | None, note: str | None) -> None:
    codes = REASONS.get(move)
    if codes is None:
        return
    if reason not in codes:
        raise InvalidInput(f"A {move} needs a reason, one of: {', '.join(codes)} (got {reason!r}).")
    if reason == "other" and not (note or "").strip():
        raise InvalidInput(f"A {move} with reason 'other' needs a note saying why.")


class TaskMoves:
    """The lifecycle moves on one loaded case, through its engine."""

    def __init__(self, engine: Engine) -> None:
        self.e = engine

    def find(self, ref: str | int) -> tuple[Task, TaskSpec]:
        """An open task by id or by key, with its protocol step."""
        case = self.e.case
        task = case.task(ref)
        if task is None:
            known = ", ".join(t.ident for t in case.open_tasks()) or "none"
            raise UnknownTask(f"Case {case.ref} has no task {ref!r}; open tasks: {known}.")
        if not task.is_open:
            raise TaskNotOpen(
                f"Task '{task.key}' of case {case.ref} is {task.status}; only open tasks "
                "can change."
            )
        return task, self.e.loaded.protocol.task_spec(task.key)[2]

    def move(
        self,
        ref: str | int,
        name: str,
        *,
        reason: str | None = None,
        note: str | None = None,
        outcome: dict[str, Any] | None = None,
    ) -> Task:
        if name not in MOVES:
            raise InvalidInput(f"Unknown task move {name!r}; moves: {', '.join(MOVES)}.")
        task, spec = self.find(ref)
        check_reason(name, reason, note)
        if task.status == "on-hold" and name != "resume" and name != "cancel":
            raise TaskNotOpen(
                f"Task '{task.key}' of case {self.e.case.ref} is on hold; resume it first "
                "(allowed now: resume, cancel)."
            )
        for step in _IMPLIED.get(name, {}).get(task.status, ()):
            self._set(task, step, MOVES[step].target)
        move = MOVES[name]
        if task.status not in move.sources:
            raise TaskNotOpen(
                f"Task '{task.key}' of case {self.e.case.ref} is {task.status}; '{name}' is "
                f"allowed only from {', '.join(move.sources)} (allowed now: "
                f"{', '.join(allowed_moves(task)) or 'none'})."
            )
        if name == "hold":
            self._hold(task, reason or "", note)
        elif name == "resume":
            self._resume(task)
        elif name == "complete":
            self._complete(task, spec, outcome or {})
        elif name == "reject":
            self._end(task, "rejected", "task_rejected", reason, note)
            self._reroute(task, spec)
        elif name == "cancel":
            self._end(task, "cancelled", "task_cancelled", reason, note)
            self.e.notify("task_cancelled", task.role, task.institution, task.key, task)
        elif name == "fail":
            self._end(task, "failed", "task_failed", reason, note)
            lead = self.e.loaded.protocol.case_lead
            self.e.notify("task_failed", lead, self.e.lead_institution(), task.key, task)
        else:
            self._set(task, name, move.target)
        return task

    def _end(
        self, task: Task, status: TaskStatus, event: str, reason: str | None, note: str | None
    ) -> None:
        e = self.e
        task.status, task.reason, task.note = status, reason, note
        task.next_action_at, task.updated_at, task.dirty = None, e.now, True
        e.case.record(
            event,
            e.now,
            e.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            institution=task.institution,
            reason=reason,
            has_note=bool(note),  # the note itself is protected; events never hold it
        )

    def _reroute(self, rejected: Task, spec: TaskSpec) -> None:
        """FHIR re-referral: a new task for the next candidate, or back to the focal point."""
        e = self.e
        tried = {
            t.institution
            for t in e.case.tasks
            if t.key == rejected.key and t.status == "rejected" and t.state == rejected.state
        }
        lead = e.loaded.protocol.case_lead
        if rejected.handoff is not None:
            found = handoff_route(e, rejected.handoff, exclude=tried)
        else:
            found = e.route(rejected.role, exclude=tried)
        template = "task_assigned" if rejected.handoff is None else "handoff_requested"
        routing: Routing
        if found is None or found.institution in tried:
            institution, routing = e.lead_institution(), "returned"
        else:
            institution, routing = found.institution, "gap" if found.gap else "rerouted"
        task = e.add_task(
            rejected.track,
            rejected.state,
            spec,
            rejected.role,
            institution,
            routing,
            rejected.handoff,
            template=template,
        )
        e.case.record(
            "task_rerouted",
            e.now,
            e.who,
            track=task.track,
            task=task.key,
            rejected_by=rejected.institution,
            institution=task.institution,
            routing=task.routing,
        )
        e.notify("task_rejected", lead, e.lead_institution(), rejected.key, rejected)

    def _hold(self, task: Task, reason: str, note: str | None) -> None:
        e = self.e
        task.status_before_hold, task.status = task.status, "on-hold"
        task.reason, task.note = reason, note
        task.held_at, task.next_action_at, task.updated_at, task.dirty = e.now, None, e.now, True
        e.case.record(
            "task_held",
            e.now,
            e.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            reason=reason,
            has_note=bool(note),
        )

    def _resume(self, task: Task) -> None:
        e = self.e
        assert task.held_at is not None
        paused = e.now - task.held_at
        # the clock stops while on hold: the due time moves by the time spent on hold
        task.due_at += paused
        task.status = task.status_before_hold or "requested"
        task.held_at, task.status_before_hold, task.reason = None, None, None
        task.updated_at = e.now
        e.schedule(task)
        e.case.record(
            "task_resumed",
            e.now,
            e.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            paused_seconds=int(paused.total_seconds()),
            due_at=task.due_at.isoformat(),
        )

    def _complete(self, task: Task, spec: TaskSpec, outcome: dict[str, Any]) -> None:
        e = self.e
        task.outcome = validate_outcome(e.case.ref, spec, outcome)
        task.status, task.next_action_at, task.updated_at, task.dirty = (
            "completed",
            None,
            e.now,
            True,
        )
        e.case.record(
            "task_completed",
            e.now,
            e.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            outcome=task.outcome,
            late=e.now > task.due_at,
        )
        if spec.on_complete:
            e.try_fire(task.track, spec.on_complete, cause=f"completed:{task.key}")
        else:
            e.open_ready_tracks()

    def assign(self, ref: str | int, owner: str | None) -> Task:
        """Give the task to a user of the same institution (checked by the service)."""
        task, _ = self.find(ref)
        task.owner, task.updated_at, task.dirty = owner, self.e.now, True
        self.e.case.record(
            "task_assigned_to_user",
            self.e.now,
            self.e.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            owner=owner,
        )
        return task

    def refer(self, ref: str | int, institution: str) -> Task:
        """The focal point sends a task that came back to them to another institution."""
        task, _ = self.find(ref)
        if task.status != "requested":
            raise TaskNotOpen(
                f"Task '{task.key}' of case {self.e.case.ref} is {task.status}; only a task "
                "nobody has taken up yet (requested) can be referred elsewhere."
            )
        before = task.institution
        task.institution, task.routing, task.owner = institution, "referred", None
        task.updated_at, task.dirty = self.e.now, True
        self.e.case.record(
            "task_referred",
            self.e.now,
            self.e.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            institution=institution,
            previous=before,
        )
        self.e.notify("task_assigned", task.role, institution, task.key, task)
        return task

    def _set(self, task: Task, name: str, status: TaskStatus | None) -> None:
        assert status is not None
        task.status, task.updated_at, task.dirty = status, self.e.now, True
        self.e.case.record(
            MOVES[name].event,
            self.e.now,
            self.e.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            institution=task.institution,
        )

"""The task lifecycle moves on one loaded case (the table is workflows/domain/lifecycle.py).

A rejection ends the task (FHIR re-referral makes a new one): a new task opens for the next
candidate institution, or goes back to the focal point's institution. Completing a task
returns the trigger its step fires, for the engine to fire: the moves decide, the engine
moves tracks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from protocols.schema import TaskSpec
from workflows.domain import deadlines
from workflows.domain.case import Case, Routing, Task, TaskStatus
from workflows.domain.errors import InvalidInput, TaskNotOpen, UnknownTask
from workflows.domain.events import EventKind
from workflows.domain.lifecycle import IMPLIED, MOVES, allowed_moves, check_reason, named
from workflows.domain.outcomes import validate_outcome
from workflows.engine.effects import Effects, FollowUp
from workflows.engine.routing import Router

TaskRef = int | str  # a task id, or a task key (the open task with that key)


@dataclass(frozen=True, slots=True)
class Moved:
    """What a move did: the task, and what the engine does next."""

    task: Task
    follow_up: FollowUp | None = None  # the trigger a completion fires
    reopen: bool = False  # a completion changed what guards see: open the tracks now ready


def find_task(case: Case, task: TaskRef) -> Task:
    """A task of the case by id or by key (the open one with that key, else the latest)."""
    found = case.task(task)
    if found is None:
        known = ", ".join(t.ident for t in case.open_tasks()) or "none"
        raise UnknownTask(f"Case {case.ref} has no task {task!r}; open tasks: {known}.")
    return found


def find_open(fx: Effects, task: TaskRef) -> tuple[Task, TaskSpec]:
    """An open task of the case, with its protocol step."""
    found = find_task(fx.case, task)
    if not found.is_open:
        raise TaskNotOpen(
            f"Task '{found.key}' of case {fx.case.ref} is {found.status}; only open tasks "
            "can change."
        )
    return found, fx.protocol.task_spec(found.key)[2]


@dataclass(frozen=True, slots=True)
class TaskMoves:
    fx: Effects
    router: Router

    def move(
        self,
        task: TaskRef,
        name: str,
        *,
        reason: str | None = None,
        note: str | None = None,
        outcome: dict[str, Any] | None = None,
    ) -> Moved:
        move = named(name)
        target, spec = find_open(self.fx, task)
        check_reason(name, reason, note)
        if target.status == "on-hold" and name not in ("resume", "cancel"):
            raise TaskNotOpen(
                f"Task '{target.key}' of case {self.fx.case.ref} is on hold; resume it first "
                "(allowed now: resume, cancel)."
            )
        for step in IMPLIED.get(name, {}).get(target.status, ()):
            self._set(target, step, MOVES[step].target)
        if target.status not in move.sources:
            raise TaskNotOpen(
                f"Task '{target.key}' of case {self.fx.case.ref} is {target.status}; '{name}' "
                f"is allowed only from {', '.join(move.sources)} (allowed now: "
                f"{', '.join(allowed_moves(target)) or 'none'})."
            )
        fx = self.fx
        if name == "hold":
            self._hold(target, reason or "", note)
        elif name == "resume":
            self._resume(target, spec)
        elif name == "complete":
            return self._complete(target, spec, outcome or {})
        elif name == "reject":
            self._end(target, "rejected", EventKind.task_rejected, reason, note)
            self._reroute(target, spec)
        elif name == "cancel":
            self._end(target, "cancelled", EventKind.task_cancelled, reason, note)
            fx.notify("task_cancelled", target.role, target.institution, target)
        elif name == "fail":
            self._end(target, "failed", EventKind.task_failed, reason, note)
            lead = fx.protocol.case_lead
            fx.notify("task_failed", lead, self.router.lead_institution(), target)
        else:
            self._set(target, name, move.target)
        return Moved(target)

    def _end(
        self,
        task: Task,
        status: TaskStatus,
        event: EventKind,
        reason: str | None,
        note: str | None,
    ) -> None:
        fx = self.fx
        task.status, task.reason, task.note = status, reason, note
        task.next_action_at, task.updated_at, task.dirty = None, fx.now, True
        fx.record_task(
            event,
            task,
            institution=task.institution,
            reason=reason,
            has_note=bool(note),  # the note itself is protected; events never hold it
        )

    def _reroute(self, rejected: Task, spec: TaskSpec) -> None:
        """FHIR re-referral: a new task for the next candidate, or back to the focal point."""
        fx, router = self.fx, self.router
        tried = {
            t.institution
            for t in fx.case.tasks
            if t.key == rejected.key and t.status == "rejected" and t.state == rejected.state
        }
        if rejected.handoff is not None:
            found = router.across(rejected.handoff, tried)
        else:
            found = router.reroute(rejected.role, tried)
        template = "task_assigned" if rejected.handoff is None else "handoff_requested"
        lead = router.lead_institution()
        routing: Routing
        if found is None or found.institution in tried:
            institution, routing = lead, "returned"
        else:
            institution, routing = found.institution, "gap" if found.gap else "rerouted"
        task = fx.open_task(
            rejected.track,
            rejected.state,
            spec,
            rejected.role,
            institution,
            routing,
            rejected.handoff,
            template=template,
        )
        fx.record(
            EventKind.task_rerouted,
            track=task.track,
            task=task.key,
            rejected_by=rejected.institution,
            institution=task.institution,
            routing=task.routing,
        )
        fx.notify("task_rejected", fx.protocol.case_lead, lead, rejected)

    def _hold(self, task: Task, reason: str, note: str | None) -> None:
        fx = self.fx
        task.status_before_hold, task.status = task.status, "on-hold"
        task.reason, task.note = reason, note
        task.held_at, task.next_action_at, task.updated_at, task.dirty = fx.now, None, fx.now, True
        fx.record_task(
            EventKind.task_held,
            task,
            reason=reason,
            has_note=bool(note),
        )

    def _resume(self, task: Task, spec: TaskSpec) -> None:
        fx = self.fx
        held_at = task.held_at or fx.now  # an on-hold task always has it (set by _hold)
        paused = fx.now - held_at
        # the clock stops while on hold, in the deadline's own unit
        p = fx.protocol
        task.due_at = deadlines.resumed(
            held_at, task.due_at, fx.now, spec.due.within.unit, p.timezone, p.calendar
        )
        task.status = task.status_before_hold or "requested"
        task.held_at, task.status_before_hold, task.reason = None, None, None
        task.updated_at = fx.now
        fx.schedule(task)
        fx.record_task(
            EventKind.task_resumed,
            task,
            paused_seconds=int(paused.total_seconds()),
            due_at=task.due_at.isoformat(),
        )

    def _complete(self, task: Task, spec: TaskSpec, outcome: dict[str, Any]) -> Moved:
        fx = self.fx
        task.outcome = validate_outcome(fx.case.ref, spec, outcome)
        task.status, task.next_action_at, task.updated_at = "completed", None, fx.now
        task.dirty = True
        fx.record_task(
            EventKind.task_completed,
            task,
            outcome=task.outcome,
            late=fx.now > task.due_at,
        )
        if spec.on_complete:
            return Moved(task, FollowUp(task.track, spec.on_complete, f"completed:{task.key}"))
        return Moved(task, reopen=True)

    def assign(self, task: TaskRef, owner: str | None) -> Task:
        """Give the task to a user of the same institution (checked by the service)."""
        target, _ = find_open(self.fx, task)
        target.owner, target.updated_at, target.dirty = owner, self.fx.now, True
        self.fx.record_task(
            EventKind.task_assigned_to_user,
            target,
            owner=owner,
        )
        return target

    def refer(self, task: TaskRef, institution: str) -> Task:
        """The focal point sends a task that came back to them to another institution."""
        target, _ = find_open(self.fx, task)
        if target.status != "requested":
            raise TaskNotOpen(
                f"Task '{target.key}' of case {self.fx.case.ref} is {target.status}; only a "
                "task nobody has taken up yet (requested) can be referred elsewhere."
            )
        before = target.institution
        target.institution, target.routing, target.owner = institution, "referred", None
        target.updated_at, target.dirty = self.fx.now, True
        self.fx.record_task(
            EventKind.task_referred,
            target,
            institution=institution,
            previous=before,
        )
        self.fx.notify("task_assigned", target.role, institution, target)
        return target

    def _set(self, task: Task, name: str, status: TaskStatus | None) -> None:
        if status is None:  # only `resume` has no fixed target, and it is never implied
            raise InvalidInput(f"The move '{name}' has no fixed status to set.")
        task.status, task.updated_at, task.dirty = status, self.fx.now, True
        self.fx.record_task(
            MOVES[name].event,
            task,
            institution=task.institution,
        )

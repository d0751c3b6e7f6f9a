"""Extensions: a bounded extra time on a task's due time or a state's deadline, granted by
the approver role the protocol names, at most as many times as it allows."""

from __future__ import annotations

from datetime import datetime

from protocols.schema import Deadline as DeadlineSpec
from protocols.schema import TaskSpec
from workflows.domain import deadlines
from workflows.domain.case import Task
from workflows.domain.errors import ExtensionRefused
from workflows.domain.events import EventKind
from workflows.domain.ladder import overdue_index
from workflows.engine.effects import Effects


def extend_task(fx: Effects, task: Task, spec: TaskSpec, role: str) -> None:
    task.due_at, task.extensions = _extended(
        fx, spec.due, role, task.due_at, task.extensions, f"task '{task.key}'"
    )
    # the ladder starts again from the new due time (reminders already sent stay sent)
    task.ladder_step = min(task.ladder_step, overdue_index(fx.ladder(task)))
    task.overdue_at, task.updated_at = None, fx.now
    fx.schedule(task)
    fx.record(
        EventKind.task_extended,
        track=task.track,
        task=task.key,
        role=role,
        due_at=task.due_at.isoformat(),
    )


def extend_deadline(fx: Effects, track: str, role: str) -> None:
    deadline = fx.case.running_deadline(track)
    spec = (
        fx.protocol.tracks[track].states[deadline.state].deadline if deadline is not None else None
    )
    if deadline is None or spec is None:
        raise ExtensionRefused(
            f"Case {fx.case.ref}: track '{track}' has no running deadline to extend."
        )
    deadline.due_at, deadline.extensions = _extended(
        fx, spec, role, deadline.due_at, deadline.extensions, f"the '{deadline.state}' deadline"
    )
    deadline.next_action_at, deadline.dirty = deadline.due_at, True
    fx.record(
        EventKind.deadline_extended,
        track=track,
        state=deadline.state,
        role=role,
        due_at=deadline.due_at.isoformat(),
    )


def _extended(
    fx: Effects, spec: DeadlineSpec, role: str, due_at: datetime, used: int, what: str
) -> tuple[datetime, int]:
    rule = spec.extension
    ref = fx.case.ref
    if rule is None:
        raise ExtensionRefused(
            f"Case {ref}: {what} cannot be extended ({spec.basis.value} deadline, {spec.source})."
        )
    if role != rule.approver:
        raise ExtensionRefused(f"Case {ref}: only {rule.approver} may extend {what}, not {role}.")
    if used >= rule.max:
        raise ExtensionRefused(
            f"Case {ref}: {what} was already extended {used} time(s); the limit is {rule.max} "
            f"({spec.source})."
        )
    p = fx.protocol
    return deadlines.add(due_at, rule.by, p.timezone, p.calendar), used + 1

"""Climbing a task's ladder: what each due rung does (when rungs fall: domain/ladder.py).

A reminder tells the assignee (skipped when the due time has already passed, so a late
sweep sends no stale reminder); the overdue rung marks the task, tells the assignee and the
case lead, and hands back the task's `on_expiry` trigger for the engine to fire; each
escalation level tells the coordinator role's institution, then the country's managers.
"""

from __future__ import annotations

from dataclasses import dataclass

from workflows.domain.case import Task
from workflows.domain.events import EventKind
from workflows.domain.ladder import Rung
from workflows.engine.effects import Effects, FollowUp
from workflows.engine.routing import Router


@dataclass(frozen=True, slots=True)
class Climbed:
    rungs: int  # how many rungs were done
    follow_up: FollowUp | None = None  # the overdue task's expiry trigger, to fire first


def climb(fx: Effects, router: Router, task: Task) -> Climbed:
    """Do the task's rungs that are due now, up to the first one that asks for a trigger.

    The engine fires that trigger and climbs again (the task may have closed meanwhile), so
    what follows an expiry is decided after it, as the protocol says it happens.
    """
    ladder, done = fx.ladder(task), 0
    while task.is_open and task.ladder_step < len(ladder):
        rung = ladder[task.ladder_step]
        if rung.at > fx.now:
            break
        task.ladder_step += 1
        done += 1
        if rung.kind == "remind" and task.due_at > fx.now:
            _remind(fx, task)
        elif rung.kind == "overdue":
            follow_up = _overdue(fx, router, task)
            if follow_up is not None:
                fx.schedule(task)
                return Climbed(done, follow_up)
        elif rung.kind == "escalate":
            _escalate(fx, router, task, rung)
    fx.schedule(task)
    return Climbed(done)


def _remind(fx: Effects, task: Task) -> None:
    fx.record_task(
        EventKind.task_reminded,
        task,
        due_at=task.due_at.isoformat(),
    )
    fx.notify("task_reminder", task.role, task.institution, task)


def _overdue(fx: Effects, router: Router, task: Task) -> FollowUp | None:
    task.overdue_at, task.dirty = fx.now, True
    fx.record_task(
        EventKind.task_overdue,
        task,
        due_at=task.due_at.isoformat(),
    )
    notify = fx.protocol.escalation.overdue_notify
    if "assignee" in notify:
        fx.notify("task_overdue", task.role, task.institution, task)
    if "case_lead" in notify:
        fx.notify("task_overdue", fx.protocol.case_lead, router.lead_institution(), task)
    spec = fx.protocol.task_spec(task.key)[2]
    if spec.due.on_expiry and not fx.case.is_closed:
        return FollowUp(task.track, spec.due.on_expiry, f"overdue:{task.key}")
    return None


def _escalate(fx: Effects, router: Router, task: Task, rung: Rung) -> None:
    """Escalate to a role (its institution for this case) or to the country's managers."""
    role = rung.role or fx.protocol.coordinator
    target = fx.protocol.coordinator if role == "manager" else role
    found = router.route(target)
    fx.record_task(
        EventKind.task_escalated,
        task,
        level=rung.level,
        to=role,
        institution=found.institution,
    )
    fx.notify("task_escalated", role, found.institution, task, rung.level)

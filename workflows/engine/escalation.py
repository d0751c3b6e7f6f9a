"""The reminder and escalation ladder of a task (DESIGN.md section 2, protocol `escalation:`).

```yaml
escalation:
  remind_before: ["50%", "4 hours"]      # before the due time: a share of the time given, or
                                         # a duration
  overdue_notify: [assignee, case_lead]  # at the due time
  escalate_after: {"1 business_days": comite_interinstitucional, "3 business_days": manager}
```

A task climbs the rungs in time order; `Task.ladder_step` counts the rungs done and
`Task.next_action_at` is the time of the next one, so a sweep reads only what is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from protocols.schema import Escalation, parse_duration
from workflows.domain import deadlines
from workflows.domain.case import Task

if TYPE_CHECKING:
    from workflows.engine.engine import Engine

RungKind = Literal["remind", "overdue", "escalate"]


@dataclass(frozen=True, slots=True)
class Rung:
    at: datetime
    kind: RungKind
    level: int = 0  # escalation level, 1 for the first
    role: str | None = None  # who an escalation goes to (a role, or "manager")


def rungs(
    created_at: datetime, due_at: datetime, escalation: Escalation, timezone: str, calendar: str
) -> list[Rung]:
    """Every rung of a task's ladder, in time order."""
    reminders: set[datetime] = set()
    for item in escalation.remind_before:
        if item.endswith("%"):
            share = int(item[:-1]) / 100
            at = due_at - (due_at - created_at) * share
        else:
            at = deadlines.before(due_at, parse_duration(item), timezone, calendar)
        if created_at < at < due_at:
            reminders.add(at)
    out = [Rung(at, "remind") for at in sorted(reminders)]
    out.append(Rung(due_at, "overdue"))
    later = sorted(
        (deadlines.add(due_at, parse_duration(delay), timezone, calendar), role)
        for delay, role in escalation.escalate_after.items()
    )
    out += [Rung(at, "escalate", level, role) for level, (at, role) in enumerate(later, start=1)]
    return out


def overdue_index(ladder: list[Rung]) -> int:
    return next(i for i, rung in enumerate(ladder) if rung.kind == "overdue")


def climb(e: Engine, task: Task) -> int:
    """Do every rung of the task that is due now; return how many."""
    ladder, done = e.ladder(task), 0
    while task.is_open and task.ladder_step < len(ladder):
        rung = ladder[task.ladder_step]
        if rung.at > e.now:
            break
        task.ladder_step += 1
        done += 1
        if rung.kind == "remind" and task.due_at > e.now:  # a late sweep skips it
            _remind(e, task)
        elif rung.kind == "overdue":
            _overdue(e, task)
        elif rung.kind == "escalate":
            _escalate(e, task, rung)
    e.schedule(task)
    return done


def _remind(e: Engine, task: Task) -> None:
    e.case.record(
        "task_reminded",
        e.now,
        e.who,
        track=task.track,
        task=task.key,
        task_id=task.id,
        due_at=task.due_at.isoformat(),
    )
    e.notify("task_reminder", task.role, task.institution, task.key, task)


def _overdue(e: Engine, task: Task) -> None:
    task.overdue_at, task.dirty = e.now, True
    e.case.record(
        "task_overdue",
        e.now,
        e.who,
        track=task.track,
        task=task.key,
        task_id=task.id,
        due_at=task.due_at.isoformat(),
    )
    notify = e.loaded.protocol.escalation.overdue_notify
    if "assignee" in notify:
        e.notify("task_overdue", task.role, task.institution, task.key, task)
    if "case_lead" in notify:
        lead = e.loaded.protocol.case_lead
        e.notify("task_overdue", lead, e.lead_institution(), task.key, task)
    spec = e.loaded.protocol.task_spec(task.key)[2]
    if spec.due.on_expiry and not e.case.is_closed:
        e.try_fire(task.track, spec.due.on_expiry, cause=f"overdue:{task.key}")


def _escalate(e: Engine, task: Task, rung: Rung) -> None:
    """Escalate to a role (its institution for this case) or to the country's managers."""
    role = rung.role or e.loaded.protocol.coordinator
    target = e.loaded.protocol.coordinator if role == "manager" else role
    found = e.route(target)
    assert found is not None
    e.case.record(
        "task_escalated",
        e.now,
        e.who,
        track=task.track,
        task=task.key,
        task_id=task.id,
        level=rung.level,
        to=role,
        institution=found.institution,
    )
    e.notify("task_escalated", role, found.institution, task.key, task, rung.level)

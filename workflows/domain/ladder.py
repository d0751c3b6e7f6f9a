"""When each rung of a task's reminder and escalation ladder falls (protocol `escalation:`).

```yaml
escalation:
  remind_before: ["50%", "4 hours"]      # before the due time: a share of the time given, or
                                         # a duration
  overdue_notify: [assignee, case_lead]  # at the due time
  escalate_after: {"1 business_days": comite_interinstitucional, "3 business_days": manager}
```

A task climbs the rungs in time order; `Task.ladder_step` counts the rungs done and
`Task.next_action_at` is the time of the next one, so a sweep reads only what is due. What
each rung does when it comes is the engine's (workflows/engine/escalation.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from protocols.schema import Escalation, parse_duration
from workflows.domain import deadlines

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
    """The position of the overdue rung (every ladder has exactly one)."""
    return next(i for i, rung in enumerate(ladder) if rung.kind == "overdue")

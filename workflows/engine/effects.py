"""What a decision leaves on a case: events, messages, tasks opened, scheduled and cancelled.

`Effects` is the engine's pen for one loaded case at one instant, on behalf of one actor.
The engine and each of its helpers (task moves, the ladder, consent, extensions, handoffs)
write through it; none of them holds the engine or calls back into it. Plain Python over
the in-memory aggregate: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocols.loader import LoadedProtocol
from protocols.schema import Deadline as DeadlineSpec
from protocols.schema import Protocol, TaskSpec
from workflows.domain import deadlines
from workflows.domain.case import Case, Notification, Routing, Task
from workflows.domain.events import EventKind
from workflows.domain.ladder import Rung, rungs


@dataclass(frozen=True, slots=True)
class FollowUp:
    """A trigger the protocol attaches to a completion or an expiry, for the engine to fire."""

    track: str
    trigger: str
    cause: str  # completed:<task>, overdue:<task>, expired:<state>


@dataclass(slots=True)
class Effects:
    case: Case
    loaded: LoadedProtocol
    now: datetime
    who: str

    @property
    def protocol(self) -> Protocol:
        return self.loaded.protocol

    def record(self, kind: EventKind, track: str | None = None, **data: Any) -> None:
        self.case.record(kind, self.now, self.who, track, **data)

    def record_task(self, kind: EventKind, task: Task, **data: Any) -> None:
        """An event about one task: its track, key and id, then `data`."""
        self.record(kind, track=task.track, task=task.key, task_id=task.id, **data)

    def notify(
        self, template: str, role: str, institution: str, task: Task, level: int | None = None
    ) -> None:
        """Queue a message about `task` to `institution` (the outbox, same transaction)."""
        self.case.new_notifications.append(
            Notification(template, role, institution, self.now, task.key, task, level)
        )

    # --- clocks ------------------------------------------------------------------------

    def due(self, start: datetime, spec: DeadlineSpec) -> datetime:
        return deadlines.add(start, spec.within, self.protocol.timezone, self.protocol.calendar)

    def ladder(self, task: Task) -> list[Rung]:
        p = self.protocol
        return rungs(task.created_at, task.due_at, p.escalation, p.timezone, p.calendar)

    def schedule(self, task: Task) -> None:
        """Set when the sweep next looks at the task: its next rung (never while on hold)."""
        ladder = self.ladder(task)
        due = task.is_open and task.status != "on-hold" and task.ladder_step < len(ladder)
        task.next_action_at = ladder[task.ladder_step].at if due else None
        task.dirty = True

    # --- tasks -------------------------------------------------------------------------

    def open_task(
        self,
        track: str,
        state: str,
        spec: TaskSpec,
        role: str,
        institution: str,
        routing: Routing,
        handoff: dict[str, Any] | None = None,
        template: str = "task_assigned",
    ) -> Task:
        """Open a task for `institution` and tell it so (outbox)."""
        due = self.due(self.now, spec.due)
        task = Task(
            track=track,
            state=state,
            key=spec.id,
            role=role,
            institution=institution,
            status="requested",
            due_at=due,
            created_at=self.now,
            updated_at=self.now,
            next_action_at=due,
            routing=routing,
            handoff=handoff,
        )
        self.schedule(task)
        self.case.tasks.append(task)
        self.record(
            EventKind.task_opened,
            track=track,
            task=spec.id,
            role=role,
            institution=institution,
            routing=routing,
            due_at=due.isoformat(),
        )
        if routing == "gap":
            self.record(
                EventKind.routing_gap,
                track=track,
                task=spec.id,
                role=role,
                country=self.case.country,
                jurisdiction=self.case.jurisdiction,
                institution=institution,
            )
        self.notify(template, role, institution, task)
        return task

    def cancel(self, task: Task, reason: str) -> None:
        """End an open task the case no longer needs (state left, case closed, consent)."""
        task.status, task.reason, task.next_action_at = "cancelled", reason, None
        task.updated_at, task.dirty = self.now, True
        self.record_task(
            EventKind.task_cancelled,
            task,
            institution=task.institution,
            reason=reason,
        )

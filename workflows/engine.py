"""What happens to a case when a step fires: pure rules over the in-memory aggregate.

The engine decides; the services layer loads, claims and saves. No I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from protocols.loader import LoadedProtocol
from protocols.schema import Deadline as DeadlineSpec
from protocols.schema import OutcomeField, TaskSpec
from workflows import deadlines
from workflows.domain import Case, Deadline, Notification, Task, TrackState
from workflows.errors import (
    CaseClosed,
    ExtensionRefused,
    InvalidInput,
    ReferralEngineError,
    TaskNotOpen,
    UnknownTask,
    UnknownTrack,
)
from workflows.guards import GuardContext, holds
from workflows.machine import next_state, track_machine
from workflows.ports import Directory


@dataclass(slots=True)
class Engine:
    """Applies protocol rules to one loaded case at one instant, on behalf of one actor."""

    case: Case
    loaded: LoadedProtocol
    directory: Directory
    now: datetime
    actor: str

    # --- clocks ---------------------------------------------------------------------

    def due(self, start: datetime, spec: DeadlineSpec) -> datetime:
        p = self.loaded.protocol
        return deadlines.add(start, spec.within, p.timezone, p.calendar)

    # --- opening ----------------------------------------------------------------------

    def open_case(self, personal_fields: list[str] | None = None) -> None:
        self.case.record(
            "case_opened",
            self.now,
            self.actor,
            protocol=self.loaded.id,
            version=self.loaded.protocol.version,
            protocol_hash=self.loaded.content_hash,
        )
        if personal_fields:  # the names of the fields only; the values stay in `persons`
            self.case.record("personal_data_recorded", self.now, self.actor, fields=personal_fields)
        self.open_ready_tracks()

    def open_ready_tracks(self) -> None:
        """Open every unopened track whose `opens_when` holds, until nothing changes."""
        changed = True
        while changed and not self.case.is_closed:
            changed = False
            for name, track in self.loaded.protocol.tracks.items():
                if name in self.case.tracks:
                    continue
                if holds(track.opens_when, GuardContext.of(self.case)):
                    self.case.tracks[name] = _new_track(name, track.initial, self.now)
                    self.case.record(
                        "track_opened", self.now, self.actor, track=name, state=track.initial
                    )
                    self.enter(name, track.initial)
                    changed = True

    # --- moving -------------------------------------------------------------------------

    def fire(self, track: str, trigger: str, cause: str = "person") -> str:
        """Move `track` by `trigger`; raise TransitionNotAllowed / GuardFailed otherwise."""
        if self.case.is_closed:
            raise CaseClosed(self.case.ref)
        current = self.case.tracks.get(track)
        if current is None:
            opened = ", ".join(self.case.tracks) or "none"
            raise UnknownTrack(
                f"Case {self.case.ref} has no open track '{track}'; open tracks: {opened}."
            )
        target = next_state(track_machine(self.loaded, track), GuardContext.of(self.case), trigger)
        source = current.state
        self.leave(track, source)
        current.state, current.entered_at, current.dirty = target, self.now, True
        self.case.record(
            "transition",
            self.now,
            self.actor,
            track=track,
            trigger=trigger,
            source=source,
            target=target,
            cause=cause,
        )
        self.enter(track, target)
        self.open_ready_tracks()
        return target

    def try_fire(self, track: str, trigger: str, cause: str) -> bool:
        """Fire a trigger the protocol attaches to a completion or an expiry, if allowed now."""
        try:
            self.fire(track, trigger, cause)
        except ReferralEngineError as exc:
            self.case.record(
                "trigger_not_fired",
                self.now,
                self.actor,
                track=track,
                trigger=trigger,
                cause=cause,
                reason=str(exc),
            )
            return False
        return True

    def leave(self, track: str, state: str) -> None:
        for task in self.case.open_tasks():
            if task.track == track and task.state == state:
                self._cancel(task, "state_left")
        deadline = self.case.running_deadline(track)
        if deadline is not None:
            deadline.status, deadline.next_action_at, deadline.dirty = "met", None, True

    def enter(self, track: str, state: str) -> None:
        spec = self.loaded.protocol.tracks[track].states[state]
        if spec.deadline is not None:
            due = self.due(self.now, spec.deadline)
            self.case.deadlines.append(
                Deadline(
                    track=track,
                    state=state,
                    due_at=due,
                    started_at=self.now,
                    status="running",
                    next_action_at=due,
                )
            )
            self.case.record(
                "deadline_started",
                self.now,
                self.actor,
                track=track,
                state=state,
                due_at=due.isoformat(),
            )
        ctx = GuardContext.of(self.case)
        for task_spec in spec.tasks:
            if holds(task_spec.when, ctx):
                self._open_task(track, state, task_spec)
        if spec.final and track == "care":
            self._close()

    def _open_task(self, track: str, state: str, spec: TaskSpec) -> None:
        jurisdiction = str(self.case.attributes.get("jurisdiction", self.case.country))
        institution = self.directory.resolve(self.case.country, spec.role, jurisdiction)
        due = self.due(self.now, spec.due)
        task = Task(
            track=track,
            state=state,
            key=spec.id,
            role=spec.role,
            institution=institution,
            status="requested",
            due_at=due,
            created_at=self.now,
            updated_at=self.now,
            next_action_at=due,
        )
        self.case.tasks.append(task)
        self.case.record(
            "task_opened",
            self.now,
            self.actor,
            track=track,
            task=spec.id,
            role=spec.role,
            institution=institution,
            due_at=due.isoformat(),
        )
        self.notify("task_assigned", spec.role, institution, spec.id)

    def _close(self) -> None:
        for task in self.case.open_tasks():
            self._cancel(task, "case_closed")
        for d in self.case.deadlines:
            if d.status == "running":
                d.status, d.next_action_at, d.dirty = "cancelled", None, True
        self.case.closed_at = self.now
        self.case.record("case_closed", self.now, self.actor)

    def _cancel(self, task: Task, reason: str) -> None:
        task.status, task.next_action_at, task.updated_at, task.dirty = (
            "cancelled",
            None,
            self.now,
            True,
        )
        self.case.record(
            "task_cancelled", self.now, self.actor, track=task.track, task=task.key, reason=reason
        )

    def notify(self, template: str, role: str, institution: str, task_key: str | None) -> None:
        self.case.new_notifications.append(
            Notification(template, role, institution, self.now, task_key)
        )

    # --- tasks ------------------------------------------------------------------------

    def open_task(self, key: str) -> tuple[Task, TaskSpec]:
        task = self.case.task(key)
        if task is None:
            known = ", ".join(sorted({t.key for t in self.case.open_tasks()})) or "none"
            raise UnknownTask(f"Case {self.case.ref} has no task '{key}'; open tasks: {known}.")
        if not task.is_open:
            raise TaskNotOpen(
                f"Task '{key}' of case {self.case.ref} is {task.status}; only open tasks "
                "can change."
            )
        return task, self.loaded.protocol.task_spec(key)[2]

    def complete(self, key: str, outcome: dict[str, Any]) -> None:
        task, spec = self.open_task(key)
        task.outcome = validate_outcome(self.case.ref, spec, outcome)
        task.status, task.next_action_at, task.updated_at, task.dirty = (
            "completed",
            None,
            self.now,
            True,
        )
        self.case.record(
            "task_completed",
            self.now,
            self.actor,
            track=task.track,
            task=key,
            outcome=task.outcome,
            late=self.now > task.due_at,
        )
        if spec.on_complete:
            self.try_fire(task.track, spec.on_complete, cause=f"completed:{key}")
        else:
            self.open_ready_tracks()

    def hold(self, key: str, reason: str) -> None:
        task, _ = self.open_task(key)
        if task.status == "on-hold":
            raise TaskNotOpen(f"Task '{key}' of case {self.case.ref} is already on hold.")
        task.status_before_hold, task.status = task.status, "on-hold"
        task.held_at, task.next_action_at, task.updated_at, task.dirty = (
            self.now,
            None,
            self.now,
            True,
        )
        self.case.record(
            "task_held", self.now, self.actor, track=task.track, task=key, reason=reason
        )

    def resume(self, key: str) -> None:
        task, _ = self.open_task(key)
        if task.status != "on-hold" or task.held_at is None:
            raise TaskNotOpen(f"Task '{key}' of case {self.case.ref} is not on hold.")
        paused: timedelta = self.now - task.held_at
        # the clock stops while on hold: the due time moves by the time spent on hold
        task.due_at += paused
        task.status = task.status_before_hold or "requested"
        task.held_at, task.status_before_hold = None, None
        task.next_action_at = task.due_at if task.overdue_at is None else None
        task.updated_at, task.dirty = self.now, True
        self.case.record(
            "task_resumed",
            self.now,
            self.actor,
            track=task.track,
            task=key,
            paused_seconds=int(paused.total_seconds()),
            due_at=task.due_at.isoformat(),
        )

    # --- extensions -------------------------------------------------------------------

    def extend_task(self, key: str, role: str) -> None:
        task, spec = self.open_task(key)
        task.due_at, task.extensions = self._extended(
            spec.due, role, task.due_at, task.extensions, f"task '{key}'"
        )
        task.next_action_at = task.due_at if task.status != "on-hold" else None
        task.overdue_at, task.updated_at, task.dirty = None, self.now, True
        self.case.record(
            "task_extended",
            self.now,
            self.actor,
            track=task.track,
            task=key,
            role=role,
            due_at=task.due_at.isoformat(),
        )

    def extend_deadline(self, track: str, role: str) -> None:
        deadline = self.case.running_deadline(track)
        if deadline is None:
            raise ExtensionRefused(
                f"Case {self.case.ref}: track '{track}' has no running deadline to extend."
            )
        spec = self.loaded.protocol.tracks[track].states[deadline.state].deadline
        assert spec is not None
        deadline.due_at, deadline.extensions = self._extended(
            spec, role, deadline.due_at, deadline.extensions, f"the '{deadline.state}' deadline"
        )
        deadline.next_action_at, deadline.dirty = deadline.due_at, True
        self.case.record(
            "deadline_extended",
            self.now,
            self.actor,
            track=track,
            state=deadline.state,
            role=role,
            due_at=deadline.due_at.isoformat(),
        )

    def _extended(
        self, spec: DeadlineSpec, role: str, due_at: datetime, used: int, what: str
    ) -> tuple[datetime, int]:
        rule = spec.extension
        if rule is None:
            raise ExtensionRefused(
                f"Case {self.case.ref}: {what} cannot be extended ({spec.basis.value} "
                f"deadline, {spec.source})."
            )
        if role != rule.approver:
            raise ExtensionRefused(
                f"Case {self.case.ref}: only {rule.approver} may extend {what}, not {role}."
            )
        if used >= rule.max:
            raise ExtensionRefused(
                f"Case {self.case.ref}: {what} was already extended {used} time(s); the "
                f"limit is {rule.max} ({spec.source})."
            )
        p = self.loaded.protocol
        return deadlines.add(due_at, rule.by, p.timezone, p.calendar), used + 1

    # --- the sweep ------------------------------------------------------------------

    def sweep(self) -> int:
        """Mark what is due as overdue or expired and fire expiry triggers; return the count."""
        handled = 0
        notify = self.loaded.protocol.escalation.overdue_notify
        for task in list(self.case.open_tasks()):
            if task.next_action_at is None or task.next_action_at > self.now:
                continue
            handled += 1
            task.overdue_at, task.next_action_at, task.dirty = self.now, None, True
            self.case.record(
                "task_overdue",
                self.now,
                self.actor,
                track=task.track,
                task=task.key,
                due_at=task.due_at.isoformat(),
            )
            if "assignee" in notify:
                self.notify("task_overdue", task.role, task.institution, task.key)
            if "case_lead" in notify:
                lead = self.loaded.protocol.case_lead
                jurisdiction = str(self.case.attributes.get("jurisdiction", self.case.country))
                self.notify(
                    "task_overdue",
                    lead,
                    self.directory.resolve(self.case.country, lead, jurisdiction),
                    task.key,
                )
            spec = self.loaded.protocol.task_spec(task.key)[2]
            if spec.due.on_expiry and not self.case.is_closed:
                self.try_fire(task.track, spec.due.on_expiry, cause=f"overdue:{task.key}")
        for d in list(self.case.deadlines):
            if d.status != "running" or d.next_action_at is None or d.next_action_at > self.now:
                continue
            handled += 1
            d.status, d.next_action_at, d.dirty = "expired", None, True
            self.case.record(
                "deadline_expired",
                self.now,
                self.actor,
                track=d.track,
                state=d.state,
                due_at=d.due_at.isoformat(),
            )
            rule = self.loaded.protocol.tracks[d.track].states[d.state].deadline
            if rule and rule.on_expiry and not self.case.is_closed:
                self.try_fire(d.track, rule.on_expiry, cause=f"expired:{d.state}")
        return handled


def _new_track(name: str, initial: str, now: datetime) -> TrackState:
    return TrackState(name, initial, now, now, is_new=True)


def validate_outcome(case_ref: str, spec: TaskSpec, outcome: dict[str, Any]) -> dict[str, Any]:
    """Check a completion's outcome against the fields the protocol step defines."""
    unknown = set(outcome) - set(spec.outcome)
    if unknown:
        allowed = ", ".join(spec.outcome) or "none"
        raise InvalidInput(
            f"Task '{spec.id}' of case {case_ref} has no outcome field(s) "
            f"{', '.join(sorted(unknown))}; allowed: {allowed}."
        )
    clean: dict[str, Any] = {}
    for name, field in spec.outcome.items():
        if name not in outcome:
            if field.required:
                raise InvalidInput(
                    f"Task '{spec.id}' of case {case_ref} needs the outcome '{name}'"
                    f"{_choices(field)}."
                )
            continue
        clean[name] = _outcome_value(case_ref, spec.id, name, field, outcome[name])
    return clean


def _choices(field: OutcomeField) -> str:
    return f" (one of: {', '.join(field.options)})" if field.options else f" ({field.type})"


def _outcome_value(case_ref: str, task: str, name: str, field: OutcomeField, value: Any) -> Any:
    ok = {
        "choice": isinstance(value, str) and value in (field.options or []),
        "boolean": isinstance(value, bool),
        "text": isinstance(value, str),
        "date": isinstance(value, str) and _is_date(value),
    }[field.type]
    if not ok:
        raise InvalidInput(
            f"Task '{task}' of case {case_ref}: outcome '{name}' cannot be {value!r}"
            f"{_choices(field)}."
        )
    return value


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True

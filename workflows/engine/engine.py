"""What happens to a case when a step fires: pure rules over the in-memory aggregate.

The engine decides; the services layer loads, claims and saves. No I/O here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from institutions.directory import Directory, route
from institutions.domain import Route
from protocols.loader import LoadedProtocol
from protocols.schema import ConsentGuard, TaskSpec
from protocols.schema import Deadline as DeadlineSpec
from workflows.domain import deadlines
from workflows.domain.access import Actor
from workflows.domain.case import (
    Case,
    ConsentRecord,
    Deadline,
    Notification,
    Routing,
    Task,
    TrackState,
)
from workflows.domain.errors import (
    CaseClosed,
    ExtensionRefused,
    ReferralEngineError,
    UnknownTrack,
)
from workflows.domain.guards import GuardContext, covering_conditions, holds
from workflows.domain.ports import Catalog
from workflows.engine.escalation import Rung, climb, overdue_index, rungs
from workflows.engine.handoff import handoff_task
from workflows.engine.machine import next_state, track_machine
from workflows.engine.tasks import TaskMoves


@dataclass(slots=True)
class Engine:
    """Applies protocol rules to one loaded case at one instant, on behalf of one actor."""

    case: Case
    loaded: LoadedProtocol
    directory: Directory
    now: datetime
    actor: Actor
    catalog: Catalog | None = None

    @property
    def who(self) -> str:
        return self.actor.name

    @property
    def jurisdiction(self) -> str:
        return str(self.case.attributes.get("jurisdiction", self.case.country))

    # --- routing ----------------------------------------------------------------------

    def route(self, role: str, exclude: Collection[str] = ()) -> Route | None:
        """Where a task for `role` goes in this case's jurisdiction (gaps: the coordinator)."""
        p = self.loaded.protocol
        return route(self.directory, p.country, role, self.jurisdiction, p.coordinator, exclude)

    def lead_institution(self) -> str:
        """The focal point's institution: where returned tasks and case-lead news go."""
        found = self.route(self.loaded.protocol.case_lead)
        assert found is not None
        return found.institution

    # --- clocks ---------------------------------------------------------------------

    def due(self, start: datetime, spec: DeadlineSpec) -> datetime:
        p = self.loaded.protocol
        return deadlines.add(start, spec.within, p.timezone, p.calendar)

    # --- opening ----------------------------------------------------------------------

    def open_case(self, personal_fields: list[str] | None = None) -> None:
        self.case.record(
            "case_opened",
            self.now,
            self.who,
            protocol=self.loaded.id,
            version=self.loaded.protocol.version,
            protocol_hash=self.loaded.content_hash,
        )
        self.case.lead_institution, self.case.lead_dirty = self.lead_institution(), True
        if personal_fields:  # the names of the fields only; the values stay in `persons`
            self.case.record("personal_data_recorded", self.now, self.who, fields=personal_fields)
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
                        "track_opened", self.now, self.who, track=name, state=track.initial
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
            self.who,
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
                self.who,
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
                self.who,
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
        if spec.handoff is not None:
            handoff_task(self, track, state, spec)
            return
        assert spec.role is not None
        found = self.route(spec.role)
        assert found is not None  # nothing excluded: a gap goes to the coordinator
        self.add_task(
            track, state, spec, spec.role, found.institution, "gap" if found.gap else "directory"
        )

    def add_task(
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
        self.case.record(
            "task_opened",
            self.now,
            self.who,
            track=track,
            task=spec.id,
            role=role,
            institution=institution,
            routing=routing,
            due_at=due.isoformat(),
        )
        if routing == "gap":
            self.case.record(
                "routing_gap",
                self.now,
                self.who,
                track=track,
                task=spec.id,
                role=role,
                country=self.case.country,
                jurisdiction=self.jurisdiction,
                institution=institution,
            )
        self.notify(template, role, institution, spec.id, task)
        return task

    def _close(self) -> None:
        for task in self.case.open_tasks():
            self._cancel(task, "case_closed")
        for d in self.case.deadlines:
            if d.status == "running":
                d.status, d.next_action_at, d.dirty = "cancelled", None, True
        self.case.closed_at = self.now
        self.case.record("case_closed", self.now, self.who)

    def _cancel(self, task: Task, reason: str) -> None:
        task.status, task.reason, task.next_action_at, task.updated_at, task.dirty = (
            "cancelled",
            reason,
            None,
            self.now,
            True,
        )
        self.case.record(
            "task_cancelled",
            self.now,
            self.who,
            track=task.track,
            task=task.key,
            task_id=task.id,
            institution=task.institution,
            reason=reason,
        )

    # --- consent ----------------------------------------------------------------------

    def record_consent(self, record: ConsentRecord) -> None:
        """Record consent or a legal basis; a withdrawal cancels the open tasks it covered."""
        before = GuardContext.of(self.case)
        self.case.consents.append(record)
        self.case.new_consents.append(record)
        said = ConsentGuard.model_validate({"consent": record.purpose, "role": record.role})
        withdrawn = not record.given and holds([said], before)
        kind = (
            "legal_basis_recorded"
            if record.legal_basis
            else "consent_withdrawn"
            if withdrawn
            else "consent_recorded"
        )
        after = GuardContext.of(self.case)
        extra: dict[str, Any] = (
            {"legal_basis_stands": True} if withdrawn and holds([said], after) else {}
        )
        self.case.record(
            kind,
            self.now,
            self.who,
            purpose=record.purpose,
            role=record.role,
            given=record.given,
            legal_basis=record.legal_basis,
            **extra,  # the person withdrew, but a legal duty keeps the referral going
        )
        if withdrawn:
            self._cancel_uncovered(before, after, record.purpose)
        self.open_ready_tracks()

    def _cancel_uncovered(self, before: GuardContext, after: GuardContext, purpose: str) -> None:
        """Cancel each open task whose consent condition held before and no longer does."""
        told: set[str] = set()
        for task in self.case.open_tasks():
            conditions = covering_conditions(self.loaded.protocol, task, purpose)
            lost = [g for g in conditions if holds([g], before) and not holds([g], after)]
            if not lost:
                continue
            self._cancel(task, "consent_withdrawn")
            if task.institution not in told:
                told.add(task.institution)
                self.notify("consent_withdrawn", task.role, task.institution, task.key, task)

    def notify(
        self,
        template: str,
        role: str,
        institution: str,
        task_key: str | None,
        task: Task | None = None,
        level: int | None = None,
    ) -> None:
        self.case.new_notifications.append(
            Notification(template, role, institution, self.now, task_key, task, level)
        )

    # --- extensions -------------------------------------------------------------------

    def extend_task(self, key: str | int, role: str) -> None:
        task, spec = TaskMoves(self).find(key)
        task.due_at, task.extensions = self._extended(
            spec.due, role, task.due_at, task.extensions, f"task '{key}'"
        )
        # the ladder starts again from the new due time (reminders already sent stay sent)
        task.ladder_step = min(task.ladder_step, overdue_index(self.ladder(task)))
        task.overdue_at, task.updated_at = None, self.now
        self.schedule(task)
        self.case.record(
            "task_extended",
            self.now,
            self.who,
            track=task.track,
            task=task.key,
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
            self.who,
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

    # --- the reminder and escalation ladder ------------------------------------------

    def ladder(self, task: Task) -> list[Rung]:
        p = self.loaded.protocol
        return rungs(task.created_at, task.due_at, p.escalation, p.timezone, p.calendar)

    def schedule(self, task: Task) -> None:
        """Set when the sweep next looks at the task: its next rung (never while on hold)."""
        ladder = self.ladder(task)
        due = task.is_open and task.status != "on-hold" and task.ladder_step < len(ladder)
        task.next_action_at = ladder[task.ladder_step].at if due else None
        task.dirty = True

    # --- the sweep ------------------------------------------------------------------

    def sweep(self) -> int:
        """Mark what is due as overdue or expired and fire expiry triggers; return the count."""
        handled = 0
        for task in list(self.case.open_tasks()):
            if task.next_action_at is None or task.next_action_at > self.now:
                continue
            handled += climb(self, task)
        for d in list(self.case.deadlines):
            if d.status != "running" or d.next_action_at is None or d.next_action_at > self.now:
                continue
            handled += 1
            d.status, d.next_action_at, d.dirty = "expired", None, True
            self.case.record(
                "deadline_expired",
                self.now,
                self.who,
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

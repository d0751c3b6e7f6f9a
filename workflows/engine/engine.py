"""What happens to a case when a step fires: the protocol's rules over the in-memory case.

The engine decides; the use cases (workflows/services/) load, claim and save. No SQL and no
I/O here: the case comes in loaded, the directory and the catalog through their ports. Its
helpers write through `Effects` and hand back decisions (a trigger to fire, tracks to open);
none of them holds the engine:

    Engine ── machine      the next state, or why not (transitions)
      ├──── tasks          the FHIR task moves             ─┐
      ├──── escalation     the reminder and escalation ladder ├── Effects (events, messages,
      ├──── consent        recording consent, withdrawals      │   tasks), Router (where
      ├──── extensions     extra time on a deadline            │   tasks go)
      └──── handoff        the task for another country's    ─┘
                           coordinator
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from institutions.directory import Directory
from protocols.loader import LoadedProtocol
from protocols.schema import TaskSpec
from workflows.domain.access import Actor
from workflows.domain.case import Approval, Case, ConsentRecord, Deadline, TrackState
from workflows.domain.errors import (
    CaseClosed,
    InvalidInput,
    NotAuthorised,
    ReferralEngineError,
    UnknownTrack,
)
from workflows.domain.events import EventKind
from workflows.domain.guards import GuardContext, holds
from workflows.domain.ports import Catalog
from workflows.engine import consent, escalation, extensions
from workflows.engine.effects import Effects, FollowUp
from workflows.engine.handoff import open_handoff
from workflows.engine.machine import next_state, track_machine
from workflows.engine.routing import Router
from workflows.engine.tasks import Moved, TaskMoves, TaskRef, find_open


@dataclass(slots=True)
class Engine:
    """Applies protocol rules to one loaded case at one instant, on behalf of one actor."""

    case: Case
    loaded: LoadedProtocol
    directory: Directory
    now: datetime
    actor: Actor
    catalog: Catalog | None = None
    fx: Effects = field(init=False)
    router: Router = field(init=False)

    def __post_init__(self) -> None:
        self.fx = Effects(self.case, self.loaded, self.now, self.actor.name)
        self.router = Router(self.directory, self.case, self.loaded.protocol)

    # --- opening ----------------------------------------------------------------------

    def open_case(self, personal_fields: list[str] | None = None) -> None:
        fx = self.fx
        fx.record(
            EventKind.case_opened,
            protocol=self.loaded.id,
            version=self.loaded.protocol.version,
            protocol_hash=self.loaded.content_hash,
        )
        self.case.lead_institution, self.case.lead_dirty = self.router.lead_institution(), True
        if personal_fields:  # the names of the fields only; the values stay in `persons`
            fx.record(EventKind.personal_data_recorded, fields=personal_fields)
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
                    self.case.tracks[name] = TrackState(
                        name, track.initial, self.now, self.now, is_new=True
                    )
                    self.fx.record(EventKind.track_opened, track=name, state=track.initial)
                    self._enter(name, track.initial)
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
        self._leave(track, source)
        current.state, current.entered_at, current.dirty = target, self.now, True
        self.fx.record(
            EventKind.transition,
            track=track,
            trigger=trigger,
            source=source,
            target=target,
            cause=cause,
        )
        self._enter(track, target)
        self.open_ready_tracks()
        return target

    def follow(self, follow_up: FollowUp) -> bool:
        """Fire a trigger the protocol attaches to a completion or an expiry, if allowed now;
        if not, record why (the step was not the person's choice, so it is no error)."""
        try:
            self.fire(follow_up.track, follow_up.trigger, follow_up.cause)
        except ReferralEngineError as exc:
            self.fx.record(
                EventKind.trigger_not_fired,
                track=follow_up.track,
                trigger=follow_up.trigger,
                cause=follow_up.cause,
                reason=str(exc),
            )
            return False
        return True

    def _leave(self, track: str, state: str) -> None:
        for task in self.case.open_tasks():
            if task.track == track and task.state == state:
                self.fx.cancel(task, "state_left")
        deadline = self.case.running_deadline(track)
        if deadline is not None:
            deadline.status, deadline.next_action_at, deadline.dirty = "met", None, True

    def _enter(self, track: str, state: str) -> None:
        spec = self.loaded.protocol.tracks[track].states[state]
        fx = self.fx
        if spec.deadline is not None:
            due = fx.due(self.now, spec.deadline)
            self.case.deadlines.append(
                Deadline(track, state, due, self.now, "running", next_action_at=due)
            )
            fx.record(EventKind.deadline_started, track=track, state=state, due_at=due.isoformat())
        ctx = GuardContext.of(self.case)
        for task_spec in spec.tasks:
            if holds(task_spec.when, ctx):
                self._open_task(track, state, task_spec)
        if spec.final and track == "care":
            self._close()

    def _open_task(self, track: str, state: str, spec: TaskSpec) -> None:
        if spec.handoff is not None:
            open_handoff(self.fx, self.router, self.catalog, track, state, spec)
            return
        role = spec.role
        if role is None:  # the protocol validator refuses such a file
            raise InvalidInput(
                f"Protocol {self.loaded.id}: task '{spec.id}' names neither a role nor a "
                "handoff; fix the protocol file (`ruta protocols validate`)."
            )
        found = self.router.route(role)
        self.fx.open_task(
            track, state, spec, role, found.institution, "gap" if found.gap else "directory"
        )

    def _close(self) -> None:
        for task in self.case.open_tasks():
            self.fx.cancel(task, "case_closed")
        for d in self.case.deadlines:
            if d.status == "running":
                d.status, d.next_action_at, d.dirty = "cancelled", None, True
        self.case.closed_at = self.now
        self.fx.record(EventKind.case_closed)

    # --- tasks --------------------------------------------------------------------------

    def move_task(
        self,
        task: TaskRef,
        name: str,
        *,
        reason: str | None = None,
        note: str | None = None,
        outcome: dict[str, Any] | None = None,
    ) -> Moved:
        """One FHIR lifecycle move (workflows/domain/lifecycle.py), and what it sets off."""
        moved = self._moves().move(task, name, reason=reason, note=note, outcome=outcome)
        if moved.follow_up is not None:
            self.follow(moved.follow_up)
        elif moved.reopen:
            self.open_ready_tracks()
        return moved

    def assign_task(self, task: TaskRef, owner: str | None) -> None:
        self._moves().assign(task, owner)

    def refer_task(self, task: TaskRef, institution: str) -> None:
        self._moves().refer(task, institution)

    def _moves(self) -> TaskMoves:
        return TaskMoves(self.fx, self.router)

    # --- decisions on the case ------------------------------------------------------

    def record_consent(self, record: ConsentRecord) -> None:
        consent.record_consent(self.fx, record)
        self.open_ready_tracks()

    def check_approval(self, approval: str, role: str) -> None:
        """Refuse an approval the protocol does not have, or by a role that is not its own."""
        spec = self.loaded.protocol.approvals.get(approval)
        if spec is None:
            known = ", ".join(self.loaded.protocol.approvals) or "none"
            raise InvalidInput(
                f"Unknown approval {approval!r}; approvals of {self.loaded.id}: {known}."
            )
        if role != spec.approver:
            raise NotAuthorised(
                f"Case {self.case.ref}: only {spec.approver} may record {approval}, not {role}."
            )

    def approve(self, approval: str, role: str) -> None:
        """Record a decision by its approver role (e.g. the mediate-assistance plan)."""
        self.check_approval(approval, role)
        self.case.add_approval(Approval(approval, role, self.now))
        self.fx.record(EventKind.approval_recorded, approval=approval, role=role)
        self.open_ready_tracks()

    def set_attributes(self, values: dict[str, Any]) -> None:
        """Change non-identifying attributes (already checked against the protocol)."""
        self.case.attributes.update(values)
        self.case.attributes_dirty = True
        if "jurisdiction" in values:  # the focal point's institution may change with the place
            self.case.lead_institution = self.router.lead_institution()
            self.case.lead_dirty = True
        self.fx.record(EventKind.attributes_changed, changed=sorted(values), **values)
        self.open_ready_tracks()

    def extend_task(self, task: TaskRef, role: str) -> None:
        target, spec = find_open(self.fx, task)
        extensions.extend_task(self.fx, target, spec, role)

    def extend_deadline(self, track: str, role: str) -> None:
        extensions.extend_deadline(self.fx, track, role)

    # --- the sweep ------------------------------------------------------------------

    def sweep(self) -> int:
        """Climb what is due, expire state deadlines, fire expiry triggers; return the count."""
        handled = 0
        for task in list(self.case.open_tasks()):
            if task.next_action_at is None or task.next_action_at > self.now:
                continue
            while True:
                climbed = escalation.climb(self.fx, self.router, task)
                handled += climbed.rungs
                if climbed.follow_up is None:
                    break
                self.follow(climbed.follow_up)
        for d in list(self.case.deadlines):
            if d.status != "running" or d.next_action_at is None or d.next_action_at > self.now:
                continue
            handled += 1
            d.status, d.next_action_at, d.dirty = "expired", None, True
            self.fx.record(
                EventKind.deadline_expired,
                track=d.track,
                state=d.state,
                due_at=d.due_at.isoformat(),
            )
            rule = self.loaded.protocol.tracks[d.track].states[d.state].deadline
            if rule and rule.on_expiry and not self.case.is_closed:
                self.follow(FollowUp(d.track, rule.on_expiry, f"expired:{d.state}"))
        return handled

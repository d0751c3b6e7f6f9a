"""The case aggregate: tracks, tasks, deadlines, consents and the events they leave behind."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NewType

from workflows.domain.events import EventKind

CaseId = NewType("CaseId", int)
TaskId = NewType("TaskId", int)

# FHIR Task statuses (reference/standards-and-libraries.md section 1).
TaskStatus = Literal[
    "requested",
    "received",
    "accepted",
    "in-progress",
    "on-hold",
    "completed",
    "rejected",
    "cancelled",
    "failed",
]
OPEN_TASK_STATUSES: tuple[TaskStatus, ...] = (
    "requested",
    "received",
    "accepted",
    "in-progress",
    "on-hold",
)
DeadlineStatus = Literal["running", "expired", "cancelled", "met"]
# How a task reached its institution.
Routing = Literal["directory", "gap", "rerouted", "returned", "referred", "handoff"]


@dataclass(slots=True)
class TrackState:
    """Where one track of a case stands."""

    name: str
    state: str
    opened_at: datetime
    entered_at: datetime
    is_new: bool = False
    dirty: bool = False


@dataclass(slots=True)
class Task:
    """A referral: work a protocol step asks of an institution role, with a due time."""

    track: str
    state: str
    key: str
    role: str
    institution: str
    status: TaskStatus
    due_at: datetime
    created_at: datetime
    updated_at: datetime
    next_action_at: datetime | None
    id: TaskId | None = None
    overdue_at: datetime | None = None
    held_at: datetime | None = None
    status_before_hold: TaskStatus | None = None
    extensions: int = 0
    outcome: dict[str, Any] = field(default_factory=dict)
    owner: str | None = None  # the user of the institution working on it
    reason: str | None = None  # why it is rejected, on hold, failed or cancelled (a code)
    note: str | None = None  # free text: protected like personal data, never in events
    routing: Routing = "directory"
    handoff: dict[str, Any] | None = None  # country, protocol, jurisdiction, linked_ref
    ladder_step: int = 0  # reminder/overdue/escalation rungs done (workflows/engine/escalation.py)
    dirty: bool = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_TASK_STATUSES

    @property
    def ident(self) -> str:
        """`key#id`: how messages name a task when several share a key (re-routing)."""
        return f"{self.key}#{self.id}" if self.id is not None else self.key


@dataclass(slots=True)
class Deadline:
    """A state's own clock (e.g. immediate assistance: 5 calendar days)."""

    track: str
    state: str
    due_at: datetime
    started_at: datetime
    status: DeadlineStatus
    next_action_at: datetime | None
    id: int | None = None
    extensions: int = 0
    dirty: bool = False


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """Consent given or refused/withdrawn for a purpose, or a legal basis standing in for it."""

    purpose: str
    role: str | None
    given: bool
    at: datetime
    legal_basis: str | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    name: str
    role: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CaseLink:
    """A case in another country that this one handed a person to (or received from)."""

    kind: Literal["handed_to", "received_from"]
    ref: str
    task_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    """An append-only record of a change. `data` never holds personal data."""

    kind: EventKind
    at: datetime
    actor: str
    data: dict[str, Any]
    track: str | None = None


@dataclass(frozen=True, slots=True)
class Notification:
    """A message to queue in the outbox, in the same transaction as its cause."""

    template: str
    role: str
    institution: str
    at: datetime
    task_key: str | None = None
    task: Task | None = None  # its id is known once saved
    level: int | None = None  # escalation level


@dataclass(slots=True)
class Case:
    """A survivor's case, referred to everywhere by its opaque reference, never by person."""

    ref: str
    protocol_id: str
    protocol_version: str
    protocol_hash: str
    country: str
    attributes: dict[str, Any]
    opened_at: datetime
    version: int
    id: CaseId | None = None
    closed_at: datetime | None = None
    lead_institution: str | None = None  # the focal point's institution (list filters)
    tracks: dict[str, TrackState] = field(default_factory=dict)
    tasks: list[Task] = field(default_factory=list)
    deadlines: list[Deadline] = field(default_factory=list)
    consents: list[ConsentRecord] = field(default_factory=list)
    approvals: list[Approval] = field(default_factory=list)
    links: list[CaseLink] = field(default_factory=list)
    # changes made in this unit of work, persisted by the repository
    new_events: list[Event] = field(default_factory=list)
    new_notifications: list[Notification] = field(default_factory=list)
    new_consents: list[ConsentRecord] = field(default_factory=list)
    new_approvals: list[Approval] = field(default_factory=list)
    new_links: list[CaseLink] = field(default_factory=list)
    attributes_dirty: bool = False
    lead_dirty: bool = False

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    @property
    def jurisdiction(self) -> str:
        """Where the case is handled: its `jurisdiction` attribute, else its country."""
        return str(self.attributes.get("jurisdiction", self.country))

    def open_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.is_open]

    def task(self, key: str | int) -> Task | None:
        """The task with this id; or the open task with this key, or else the latest one."""
        if isinstance(key, int):
            return next((t for t in self.tasks if t.id == key), None)
        matching = [t for t in self.tasks if t.key == key]
        open_ = [t for t in matching if t.is_open]
        chosen = open_ or matching
        return chosen[-1] if chosen else None

    def running_deadline(self, track: str) -> Deadline | None:
        for d in self.deadlines:
            if d.track == track and d.status == "running":
                return d
        return None

    def changed(self) -> bool:
        """Whether anything but events waits to be saved: such a save needs a claim."""
        return bool(
            self.attributes_dirty
            or self.lead_dirty
            or self.new_consents
            or self.new_approvals
            or self.new_links
            or self.new_notifications
            or any(t.is_new or t.dirty for t in self.tracks.values())
            or any(t.id is None or t.dirty for t in self.tasks)
            or any(d.id is None or d.dirty for d in self.deadlines)
        )

    def record(
        self, kind: EventKind, at: datetime, actor: str, track: str | None = None, **data: Any
    ) -> None:
        self.new_events.append(Event(kind, at, actor, data, track))

    def add_consent(self, record: ConsentRecord) -> None:
        self.consents.append(record)
        self.new_consents.append(record)

    def add_approval(self, approval: Approval) -> None:
        self.approvals.append(approval)
        self.new_approvals.append(approval)

    def add_link(self, link: CaseLink) -> None:
        self.links.append(link)
        self.new_links.append(link)

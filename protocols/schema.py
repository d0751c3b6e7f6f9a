"""Pydantic models of a protocol file: what a country's law and protocol say, as data."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

LOCALES = ("es", "pt", "en")
DURATION_UNITS = ("hours", "calendar_days", "business_days", "months")
_DURATION = re.compile(r"^\s*(\d+)\s+([a-z_]+)\s*$")
_IDENT = r"^[a-z][a-z0-9_]*$"

# Consent purposes a protocol may gate on (reference/national-protocols.md §13.2).
ConsentPurpose = Literal[
    "assistance",
    "data_sharing",
    "return",
    "medical",
    "law_enforcement_contact",
    "interview",
    "migration_procedure",
]
RiskLevel = Literal["low", "medium", "high"]
CONSENT_PURPOSES: tuple[str, ...] = get_args(ConsentPurpose)
RISK_LEVELS: tuple[str, ...] = get_args(RiskLevel)
# Attributes every case has; protocols may declare more under `attributes:`.
BUILTIN_ATTRIBUTES = ("jurisdiction", "minor", "nationality", "risk")
# Fields of the protected person record (never in events, emails or logs). A task shares
# some of them with its institution only where the protocol step says so.
PERSON_FIELDS = (
    "given_name",
    "family_name",
    "document_type",
    "document_number",
    "birth_date",
    "phone",
    "address",
    "narrative",
)
JUSTICE_TRACK = "justice"


class Basis(StrEnum):
    """Where a deadline comes from."""

    legal = "legal"
    protocol = "protocol"
    proposed = "proposed"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Labels(_Model):
    """A user-facing text in every console language."""

    es: str = Field(min_length=1)
    pt: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, locale: str) -> str:
        return str(getattr(self, locale, self.es))


@dataclass(frozen=True, slots=True)
class Duration:
    """An amount of a deadline unit: `5 calendar_days`, `24 hours`, `6 months`."""

    amount: int
    unit: str

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


def parse_duration(value: object) -> Duration:
    """Parse `"<n> <unit>"`; raise ValueError naming the allowed units otherwise."""
    if isinstance(value, Duration):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None or match.group(2) not in DURATION_UNITS:
        raise ValueError(
            f"malformed duration {value!r}; write '<number> <unit>' with unit one of "
            f"{', '.join(DURATION_UNITS)} (for example '5 calendar_days')"
        )
    amount = int(match.group(1))
    if amount <= 0:
        raise ValueError(f"duration {value!r} must be positive (for example '5 calendar_days')")
    return Duration(amount, match.group(2))


DurationField = Annotated[Duration, BeforeValidator(parse_duration)]
Ident = Annotated[str, Field(pattern=_IDENT)]


class Source(_Model):
    ref: str
    url: str | None = None


class Extension(_Model):
    """A bounded, approved extension of a deadline."""

    by: DurationField
    max: int = Field(ge=1)
    approver: Ident


class Deadline(_Model):
    """When something is due, and why: the provenance is part of the data."""

    within: DurationField
    basis: Basis
    source: str = Field(min_length=1)
    note: str | None = None
    extension: Extension | None = None
    on_expiry: Ident | None = None


# --- guards: a fixed, named vocabulary (workflows/domain/guards.py evaluates them) -------------


class ConsentGuard(_Model):
    """Consent given for a purpose (or a recorded legal basis that stands in for it)."""

    consent: ConsentPurpose
    role: Ident | None = None


class RiskBelowGuard(_Model):
    """The case's assessed security risk is below a level."""

    risk_below: RiskLevel


class MinorGuard(_Model):
    """The person is (or is not) under 18."""

    minor: bool


class NationalGuard(_Model):
    """The person is (or is not) a national of the protocol's country."""

    national: bool


class TrackInGuard(_Model):
    """Another track of the case is in one of the given states."""

    track: Ident
    in_: list[Ident] = Field(alias="in", min_length=1)


class TaskCompletedGuard(_Model):
    """A task of this case was completed, optionally with given outcome values."""

    task_completed: Ident
    outcome: dict[str, str | bool | int] | None = None


class ApprovalGuard(_Model):
    """An approval (a decision by an approver role) was recorded on the case."""

    approval: Ident


class AttributeGuard(_Model):
    """A case attribute equals (or does not equal, or is / is not one of) a value."""

    attribute: Ident
    equals: str | bool | int | None = None
    not_equals: str | bool | int | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None

    @model_validator(mode="after")
    def _one_comparison(self) -> AttributeGuard:
        keys = ("equals", "not_equals", "in_", "not_in")
        given = [k for k in keys if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "an attribute guard needs exactly one of: equals, not_equals, in, not_in"
            )
        return self


class AnyOfGuard(_Model):
    """At least one of the listed guards holds."""

    any_of: list[Guard] = Field(min_length=2)


Guard = (
    ConsentGuard
    | RiskBelowGuard
    | MinorGuard
    | NationalGuard
    | TrackInGuard
    | TaskCompletedGuard
    | ApprovalGuard
    | AttributeGuard
    | AnyOfGuard
)

# The key that names each guard, in the order the validator reports them.
GUARDS: dict[str, type[_Model]] = {
    "consent": ConsentGuard,
    "risk_below": RiskBelowGuard,
    "minor": MinorGuard,
    "national": NationalGuard,
    "track": TrackInGuard,
    "task_completed": TaskCompletedGuard,
    "approval": ApprovalGuard,
    "attribute": AttributeGuard,
    "any_of": AnyOfGuard,
}


def _pick_guard(value: Any) -> Any:
    """Choose the guard model by its naming key, so errors say 'unknown guard' plainly."""
    if isinstance(value, _Model):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"a guard is a mapping such as {{consent: assistance}}, got {value!r}")
    names = [key for key in value if key in GUARDS]
    if len(names) != 1:
        unknown = ", ".join(repr(k) for k in value if k not in GUARDS) or "none"
        raise ValueError(
            f"unknown guard (keys: {unknown}); a guard names exactly one of: {', '.join(GUARDS)}"
        )
    return GUARDS[names[0]].model_validate(value)


GuardField = Annotated[Guard, BeforeValidator(_pick_guard)]
AnyOfGuard.model_rebuild()


# --- tracks, states, tasks, transitions -------------------------------------------------


class OutcomeField(_Model):
    """One field of the structured outcome an institution records when it completes a task."""

    type: Literal["choice", "boolean", "date"]  # no free text: it would land in events
    label: Labels
    options: list[Ident] | None = None
    required: bool = True


class HandoffSpec(_Model):
    """A cross-border handoff: the task goes to the receiving country's coordinator.

    `to` is a case attribute holding the receiving country (`nationality`) or a fixed
    ISO 3166-1 code; `jurisdictions` says where the person crosses, per receiving country.
    Accepting the task opens a linked case there under that country's own protocol.
    """

    to: str = Field(pattern=r"^([A-Z]{2}|[a-z][a-z0-9_]*)$")
    programme: Literal["trafficking", "smuggling"] = "trafficking"
    jurisdictions: dict[str, str] = {}


class TaskSpec(_Model):
    """A task opened for an institution role when its state is entered.

    `shares` names the case attributes and person fields the assignee may see; person
    fields only while consent to share data with that role (or a legal basis) stands.
    """

    id: Ident
    role: Ident | None = None
    label: Labels
    due: Deadline
    when: list[GuardField] = []
    outcome: dict[Ident, OutcomeField] = {}
    on_complete: Ident | None = None
    shares: list[Ident] = []
    handoff: HandoffSpec | None = None

    @model_validator(mode="after")
    def _role_or_handoff(self) -> TaskSpec:
        if (self.role is None) == (self.handoff is None):
            raise ValueError(
                "a task names either `role:` (an institution role of this protocol) or "
                "`handoff:` (the receiving country's coordinator), not both or neither"
            )
        return self


class State(_Model):
    label: Labels
    final: bool = False
    tasks: list[TaskSpec] = []
    deadline: Deadline | None = None


class Transition(_Model):
    trigger: Ident
    from_: Ident | list[Ident] = Field(alias="from")
    to: Ident
    when: list[GuardField] = []

    @property
    def sources(self) -> list[str]:
        return [self.from_] if isinstance(self.from_, str) else list(self.from_)


class Track(_Model):
    label: Labels
    initial: Ident
    opens_when: list[GuardField] = []
    states: dict[Ident, State] = Field(min_length=1)
    transitions: list[Transition] = []
    triggers: dict[Ident, Labels] = {}


class Escalation(_Model):
    """Reminder and escalation ladder shared by a protocol's deadlines."""

    remind_before: list[str] = []
    overdue_notify: list[Literal["assignee", "case_lead"]] = ["assignee", "case_lead"]
    escalate_after: dict[str, Ident] = {}

    @model_validator(mode="after")
    def _durations(self) -> Escalation:
        for item in self.remind_before:
            if not (item.endswith("%") and item[:-1].isdigit()):
                parse_duration(item)
        for item in self.escalate_after:
            parse_duration(item)
        return self


class DurableSolution(_Model):
    """A durable-solution option and the care-track trigger that chooses it."""

    id: Literal["local_integration", "voluntary_return", "relocation", "repatriation"]
    trigger: Ident
    label: Labels


class Retention(_Model):
    """How long personal data is kept after a case closes, and why (purged afterwards)."""

    after_closure: DurationField
    basis: Basis
    source: str = Field(min_length=1)


class ApprovalSpec(_Model):
    """A decision an approver role records on a case (e.g. the mediate-assistance plan)."""

    approver: Ident
    label: Labels


class AttributeSpec(_Model):
    label: Labels
    values: list[str] | None = None


class Protocol(_Model):
    """A country's referral protocol for one programme, at one version."""

    id: str = Field(pattern=r"^[A-Z]{2}-[A-Z]+$")
    country: str = Field(pattern=r"^[A-Z]{2}$")
    programme: Literal["trafficking", "smuggling"]
    version: str = Field(min_length=1)
    status: Literal["draft", "published", "retired"]
    timezone: str
    calendar: str = Field(pattern=r"^[A-Z]{2}$")
    title: Labels
    legal_basis: list[Source] = Field(min_length=1)
    coordinator: Ident
    case_lead: Ident
    roles: dict[Ident, Labels] = Field(min_length=1)
    attributes: dict[Ident, AttributeSpec] = {}
    approvals: dict[Ident, ApprovalSpec] = {}
    escalation: Escalation = Escalation()
    retention: Retention | None = None  # None: personal data is kept until purged by hand
    durable_solutions: list[DurableSolution] = []
    tracks: dict[Ident, Track] = Field(min_length=1)

    def track(self, name: str) -> Track:
        return self.tracks[name]

    def task_spec(self, task_id: str) -> tuple[str, str, TaskSpec]:
        """Return (track, state, spec) of a task id; ids are unique per protocol."""
        for track_name, track in self.tracks.items():
            for state_name, state in track.states.items():
                for spec in state.tasks:
                    if spec.id == task_id:
                        return track_name, state_name, spec
        raise KeyError(task_id)

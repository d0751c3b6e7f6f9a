"""The case engine's tables (SQLAlchemy Core). Personal data has a table of its own."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from institutions.sqltypes import NAMING_CONVENTION, UtcDateTime

metadata = MetaData(naming_convention=NAMING_CONVENTION)


Stamp = UtcDateTime()

protocol_versions = Table(
    "protocol_versions",
    metadata,
    Column("content_hash", String(64), primary_key=True),
    Column("protocol_id", String(32), nullable=False),
    Column("version", String(32), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("stored_at", Stamp, nullable=False),
    UniqueConstraint("protocol_id", "version", "content_hash", name="uq_protocol_versions_id"),
)

case_counters = Table(
    "case_counters",
    metadata,
    Column("country", String(2), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("ref", String(32), nullable=False, unique=True),
    Column("protocol_id", String(32), nullable=False),
    Column("protocol_version", String(32), nullable=False),
    Column(
        "protocol_hash", String(64), ForeignKey("protocol_versions.content_hash"), nullable=False
    ),
    Column("country", String(2), nullable=False),
    Column("jurisdiction", String(16), nullable=False),
    Column("lead_institution", String(64)),  # the focal point's institution for this case
    Column("attributes", JSON, nullable=False),
    Column("opened_at", Stamp, nullable=False),
    Column("closed_at", Stamp),
    Column("version", Integer, nullable=False),
    Index("ix_cases_country_opened", "country", "opened_at"),
    Index("ix_cases_lead_institution", "lead_institution"),
)

# Names, documents, contacts, addresses, narratives: only here, keyed by case.
persons = Table(
    "persons",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column(
        "payload", Text, nullable=False
    ),  # sealed: v1.<key id>.<AES-GCM> (workflows/store/vault.py)
    Column("key_id", String(8), nullable=False),  # which key sealed it; rotation reads this
    Column("doc_index", String(64)),  # HMAC blind index of the document number
    Column("updated_at", Stamp, nullable=False),
    Index("ix_persons_doc_index", "doc_index"),
    Index("ix_persons_key_id", "key_id"),
)

tracks = Table(
    "tracks",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("track", String(32), primary_key=True),
    Column("state", String(64), nullable=False),
    Column("opened_at", Stamp, nullable=False),
    Column("entered_at", Stamp, nullable=False),
    Index("ix_tracks_track_state", "track", "state"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("track", String(32), nullable=False),
    Column("state", String(64), nullable=False),
    Column("task_key", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("institution", String(96), nullable=False),
    Column("status", String(16), nullable=False),
    Column("due_at", Stamp, nullable=False),
    Column("next_action_at", Stamp),
    Column("created_at", Stamp, nullable=False),
    Column("updated_at", Stamp, nullable=False),
    Column("overdue_at", Stamp),
    Column("held_at", Stamp),
    Column("status_before_hold", String(16)),
    Column("extensions", Integer, nullable=False),
    Column("outcome", JSON, nullable=False),
    Column("owner", String(64)),
    Column("reason", String(32)),
    Column(
        "note", Text
    ),  # free text is protected like personal data: sealed (workflows/store/vault.py)
    Column("routing", String(16), nullable=False, server_default="directory"),
    Column("handoff", JSON),
    Column("ladder_step", Integer, nullable=False, server_default="0"),
    Index("ix_tasks_case", "case_id"),
    Index("ix_tasks_routing", "routing"),
    # compliance rollups read only this index (benchmarks/console.py)
    Index(
        "ix_tasks_status_case",
        "status",
        "case_id",
        "task_key",
        "institution",
        "created_at",
        "updated_at",
        "due_at",
    ),
    # the sweep reads only what is due: O(due), not O(open)
    Index("ix_tasks_next_action_at", "next_action_at"),
    Index("ix_tasks_institution_status", "institution", "status"),
)

deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("track", String(32), nullable=False),
    Column("state", String(64), nullable=False),
    Column("due_at", Stamp, nullable=False),
    Column("started_at", Stamp, nullable=False),
    Column("status", String(16), nullable=False),
    Column("next_action_at", Stamp),
    Column("extensions", Integer, nullable=False),
    Index("ix_deadlines_case", "case_id"),
    Index("ix_deadlines_next_action_at", "next_action_at"),
)

consents = Table(
    "consents",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("role", String(64)),
    Column("given", Boolean, nullable=False),
    Column("legal_basis", Text),
    Column("at", Stamp, nullable=False),
    Index("ix_consents_case", "case_id"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("role", String(64), nullable=False),
    Column("at", Stamp, nullable=False),
    Index("ix_approvals_case", "case_id"),
)

# The head of the event hash chain: one row, locked by every append.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("event_id", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

case_links = Table(
    "case_links",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("linked_ref", String(32), nullable=False),
    Column("task_id", Integer),
    Column("at", Stamp, nullable=False),
    Index("ix_case_links_case", "case_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id")),
    Column("at", Stamp, nullable=False),
    Column("actor", String(96), nullable=False),
    Column("kind", String(48), nullable=False),
    Column("track", String(32)),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64)),  # the hash chain (workflows/store/audit.py)
    Column("hash", String(64)),
    Index("ix_events_case", "case_id"),
    Index("ix_events_kind_at", "kind", "at"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("case_id", Integer, ForeignKey("cases.id"), nullable=False),
    Column("template", String(48), nullable=False),
    Column("role", String(64), nullable=False),
    Column("institution", String(96), nullable=False),
    Column("task_key", String(64)),
    Column("task_id", Integer),
    Column("level", Integer),
    # pending -> sending (claimed) -> sent | pending again (retry) | dead (dead letter)
    Column("status", String(16), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    # retries after a timeout the provider may have accepted: each may have sent a duplicate
    Column("ambiguous_retries", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", Stamp),
    Column("claimed_until", Stamp),
    Column("claim", String(32)),
    Column("sent_at", Stamp),
    Column("provider_id", String(128)),
    Column("last_error", Text),
    Index("ix_outbox_status_created", "status", "created_at"),
    Index("ix_outbox_status_next_attempt", "status", "next_attempt_at"),
)

# The compliance read model (workflows/store/facts.py): written in the same transaction as the
# change it records, so the manager's figures read narrow, pre-joined rows through covering
# indexes instead of every task and every care event ever written.
task_completions = Table(
    "task_completions",
    metadata,
    Column("task_id", Integer, ForeignKey("tasks.id"), primary_key=True),
    Column("protocol_id", String(32), nullable=False),
    Column("task_key", String(64), nullable=False),
    Column("institution", String(96), nullable=False),
    Column("country", String(2), nullable=False),
    Column("created_at", Stamp, nullable=False),
    Column("completed_at", Stamp, nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM of completion, UTC
    Column("on_time", Integer, nullable=False),  # 1: completed by its due time
    Column("hours", Float, nullable=False),  # creation to completion
    # on-time rates: grouped in index order, no sort
    Index(
        "ix_task_completions_rates",
        "protocol_id",
        "task_key",
        "institution",
        "country",
        "month",
        "on_time",
        "created_at",
    ),
    # medians and 90th percentiles: the k-th hours of a step read by offset in index order
    Index(
        "ix_task_completions_hours",
        "protocol_id",
        "task_key",
        "hours",
        "country",
        "institution",
        "created_at",
    ),
)

# Every care state a case ever entered (the funnel), once per case and state.
care_states_reached = Table(
    "care_states_reached",
    metadata,
    Column("case_id", Integer, ForeignKey("cases.id"), primary_key=True),
    Column("state", String(64), primary_key=True),
    Column("protocol_id", String(32), nullable=False),
    Column("country", String(2), nullable=False),
    Column("opened_at", Stamp, nullable=False),  # the case's
    Index("ix_care_states_reached_funnel", "protocol_id", "state", "country", "opened_at"),
)

# Nightly compliance figures per country (the nightly flow).
compliance_snapshots = Table(
    "compliance_snapshots",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("taken_at", Stamp, nullable=False),
    Column("country", String(2), nullable=False),
    Column("figures", JSON, nullable=False),
    Index("ix_compliance_snapshots_country_taken", "country", "taken_at"),
)

"""Every kind of event a case (or a user account change) records, declared once.

The engine and the use cases record only these kinds; the console has a label for each
(`tests/unit/test_event_kinds.py` holds the two lists together). Member names equal their
values, so whatever a database driver writes for an enum, the stored text is the same.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    # the case
    case_opened = "case_opened"
    case_closed = "case_closed"
    attributes_changed = "attributes_changed"
    approval_recorded = "approval_recorded"
    # tracks and their states
    track_opened = "track_opened"
    transition = "transition"
    trigger_not_fired = "trigger_not_fired"
    deadline_started = "deadline_started"
    deadline_extended = "deadline_extended"
    deadline_expired = "deadline_expired"
    # tasks (the FHIR lifecycle, routing and the reminder ladder)
    task_opened = "task_opened"
    routing_gap = "routing_gap"
    task_received = "task_received"
    task_accepted = "task_accepted"
    task_rejected = "task_rejected"
    task_rerouted = "task_rerouted"
    task_started = "task_started"
    task_held = "task_held"
    task_resumed = "task_resumed"
    task_completed = "task_completed"
    task_failed = "task_failed"
    task_cancelled = "task_cancelled"
    task_assigned_to_user = "task_assigned_to_user"
    task_referred = "task_referred"
    task_extended = "task_extended"
    task_reminded = "task_reminded"
    task_overdue = "task_overdue"
    task_escalated = "task_escalated"
    # consent
    consent_recorded = "consent_recorded"
    consent_withdrawn = "consent_withdrawn"
    legal_basis_recorded = "legal_basis_recorded"
    # cross-border handoffs
    handoff_requested = "handoff_requested"
    handoff_unavailable = "handoff_unavailable"
    handoff_accepted = "handoff_accepted"
    handoff_received = "handoff_received"
    arrival_confirmed = "arrival_confirmed"
    # personal data (the names of the fields only, never their values)
    personal_data_recorded = "personal_data_recorded"
    personal_data_shared = "personal_data_shared"
    personal_data_viewed = "personal_data_viewed"
    personal_data_searched = "personal_data_searched"
    personal_data_purged = "personal_data_purged"
    # user accounts (events of no case: `ruta users ...`)
    user_added = "user_added"
    user_deactivated = "user_deactivated"
    user_activated = "user_activated"
    user_role_changed = "user_role_changed"
    user_password_reset = "user_password_reset"

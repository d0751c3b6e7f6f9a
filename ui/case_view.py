"""The case page of the Cases screen: header, tracks with diagrams and steps, tasks, consents,
timeline, linked cases and the logged reveal of personal data.

Writes go through workflows services with the case version shown (`expected_version`), in
button callbacks, so a form rendered before someone else's change is refused, never applied.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from institutions.domain import User
from protocols.loader import LoadedProtocol
from protocols.schema import CONSENT_PURPOSES, PERSON_FIELDS
from ui import deps
from ui.deps import _
from workflows.domain.access import Actor
from workflows.domain.case import Task
from workflows.domain.errors import (
    ConcurrentChange,
    NotAuthorised,
    ReferralEngineError,
    SealedDataUnavailable,
    UnknownCase,
)
from workflows.queries import casebook
from workflows.queries import protocols as protocol_views
from workflows.queries.case_list import TimelineEntry
from workflows.queries.casebook import CaseDetail, Step
from workflows.services import cases, privacy

FLASH = "cases_flash"  # (kind, message) left by a callback for the next render
REVEAL = "cases_reveal_for"  # the case whose reveal form is open


# --- small helpers ------------------------------------------------------------------------


def callback_actor() -> Actor | None:
    """The signed-in, not idle actor inside a widget callback (which runs before the page
    body, so before `deps.actor()` checks the idle timeout and re-reads the user), as the
    directory has them now; None refuses the action."""
    user = st.session_state.get("user")
    last = st.session_state.get("last_seen")
    if not isinstance(user, User) or last is None or deps.now() - last > deps.IDLE_TIMEOUT:
        return None
    fresh = deps.refreshed(user)
    if fresh is None:
        return None  # deactivated: the page body then signs the session out
    try:
        return Actor.of(fresh)
    except NotAuthorised:
        return None


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH] = (kind, message)


def show_flash() -> None:
    found = st.session_state.pop(FLASH, None)
    if not found:
        return
    kind, message = found
    if kind == "success":
        st.success(message)
    elif kind == "stale":
        st.error(message)
        if st.button(_("Reload"), key="cases_reload"):
            st.rerun()
    else:
        st.error(message)


def open_case(ref: str | None) -> None:
    """Show a case (by the `case` query parameter, as email links do) or the list."""
    st.session_state.pop(REVEAL, None)
    if ref:
        st.query_params["case"] = ref
    elif "case" in st.query_params:
        del st.query_params["case"]


def task_label(loaded: LoadedProtocol, key: str, locale: str) -> str:
    try:
        return loaded.protocol.task_spec(key)[2].label.get(locale)
    except KeyError:
        return key


def state_label(loaded: LoadedProtocol, track: str, state: str | None, locale: str) -> str:
    spec = loaded.protocol.tracks.get(track)
    found = spec.states.get(state or "") if spec is not None else None
    return found.label.get(locale) if found is not None else (state or "—")


def track_label(loaded: LoadedProtocol, track: str | None, locale: str) -> str:
    spec = loaded.protocol.tracks.get(track or "")
    return spec.label.get(locale) if spec is not None else (track or "")


def case_zone(d: CaseDetail) -> str:
    """The time zone a case's times are shown in: its pinned protocol's, where its deadlines
    run."""
    return d.loaded.protocol.timezone


def statuses() -> dict[str, str]:
    """The FHIR task statuses, named alike on the case page and in the inbox ("received" is
    what the Acknowledge button leads to)."""
    return {
        "requested": _("Requested"),
        "received": _("Acknowledged"),
        "accepted": _("Accepted"),
        "in-progress": _("In progress"),
        "on-hold": _("On hold"),
        "completed": _("Completed"),
        "rejected": _("Rejected"),
        "cancelled": _("Cancelled"),
        "failed": _("Failed"),
    }


def routings() -> dict[str, str]:
    return {
        "directory": "",
        "gap": _("Routing gap: sent to the coordinator"),
        "rerouted": _("Rerouted after a rejection"),
        "returned": _("Returned to the focal point"),
        "referred": _("Referred by the focal point"),
        "handoff": _("Cross-border handoff"),
    }


def reason_labels() -> dict[str, str]:
    """Why a task was rejected, put on hold, failed or cancelled (workflows/domain/lifecycle.py
    and the engine's own cancellations): the inbox's forms and the case page's tasks."""
    return {
        "no_capacity": _("No capacity"),
        "out_of_jurisdiction": _("Outside our jurisdiction"),
        "not_competent": _("Not our competence"),
        "not_eligible": _("The person is not eligible"),
        "duplicate": _("Duplicate"),
        "waiting_for_person": _("Waiting for the person"),
        "waiting_for_documents": _("Waiting for documents"),
        "waiting_for_other_institution": _("Waiting for another institution"),
        "person_unreachable": _("The person cannot be reached"),
        "security": _("Security"),
        "person_declined": _("The person declined"),
        "service_unavailable": _("Service unavailable"),
        "not_needed": _("No longer needed"),
        "entered_in_error": _("Entered in error"),
        "consent_withdrawn": _("Consent withdrawn"),
        "state_left": _("The case moved to another step"),
        "case_closed": _("Case closed"),
        "other": _("Other (say why in the note)"),
    }


def person_fields() -> dict[str, str]:
    return {
        "given_name": _("Given name"),
        "family_name": _("Family name"),
        "document_type": _("Document type"),
        "document_number": _("Document number"),
        "birth_date": _("Birth date"),
        "phone": _("Phone"),
        "address": _("Address"),
        "narrative": _("Narrative"),
    }


def purposes() -> dict[str, str]:
    return {
        "assistance": _("Assistance"),
        "data_sharing": _("Sharing data with institutions"),
        "return": _("Return"),
        "medical": _("Medical care"),
        "law_enforcement_contact": _("Contact with law enforcement"),
        "interview": _("Interview"),
        "migration_procedure": _("Migration procedure"),
    }


def reveal_reasons() -> dict[str, str]:
    return {
        "case_work": _("Case work"),
        "contact_person": _("Contacting the person"),
        "legal_proceeding": _("Legal proceeding"),
        "verification": _("Identity verification"),
    }


def reason_select(key: str) -> str | None:
    """The coded reason asked before personal data is revealed or searched (None: not yet)."""
    reasons = reveal_reasons()
    choice: str | None = st.selectbox(
        _("Why do you need it?"),
        list(reasons),
        index=None,
        format_func=lambda k: reasons[k],
        placeholder=_("Choose a reason"),
        key=key,
    )
    return choice


def event_kinds() -> dict[str, str]:
    """A label for every kind of event (workflows/domain/events.py; a test keeps them equal)."""
    return {
        "case_opened": _("Case opened"),
        "case_closed": _("Case closed"),
        "attributes_changed": _("Attributes changed"),
        "approval_recorded": _("Approval recorded"),
        "track_opened": _("Track opened"),
        "transition": _("Step"),
        "trigger_not_fired": _("Step not taken"),
        "deadline_started": _("Deadline started"),
        "deadline_extended": _("Deadline extended"),
        "deadline_expired": _("Deadline expired"),
        "task_opened": _("Task opened"),
        "routing_gap": _("Routing gap"),
        "task_received": _("Task acknowledged"),
        "task_accepted": _("Task accepted"),
        "task_rejected": _("Task rejected"),
        "task_rerouted": _("Task sent to the next institution"),
        "task_started": _("Task started"),
        "task_held": _("Task put on hold"),
        "task_resumed": _("Task resumed"),
        "task_completed": _("Task completed"),
        "task_failed": _("Task failed"),
        "task_cancelled": _("Task cancelled"),
        "task_assigned_to_user": _("Task reassigned"),
        "task_referred": _("Task referred"),
        "task_extended": _("Task deadline extended"),
        "task_reminded": _("Reminder sent"),
        "task_overdue": _("Task overdue"),
        "task_escalated": _("Task escalated"),
        "consent_recorded": _("Consent recorded"),
        "consent_withdrawn": _("Consent withdrawn"),
        "legal_basis_recorded": _("Legal basis recorded"),
        "handoff_requested": _("Handoff requested"),
        "handoff_unavailable": _("Handoff not possible"),
        "handoff_accepted": _("Handoff accepted"),
        "handoff_received": _("Received from another country"),
        "arrival_confirmed": _("Arrival confirmed"),
        "personal_data_recorded": _("Personal data recorded"),
        "personal_data_shared": _("Personal data shared"),
        "personal_data_viewed": _("Personal data viewed"),
        "personal_data_searched": _("Found by document number"),
        "personal_data_purged": _("Personal data purged (retention)"),
        "user_added": _("User added"),
        "user_deactivated": _("User deactivated"),
        "user_activated": _("User reactivated"),
        "user_role_changed": _("User's role or countries changed"),
        "user_password_reset": _("User's password reset"),
    }


def _value(value: Any, zone: str) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v, zone) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_value(v, zone)}" for k, v in value.items())
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:  # ISO times (due_at) in the case's zone
            return deps.when(datetime.fromisoformat(value), zone)
        except ValueError:
            return value
    return str(value)


_SKIP = {"protocol_hash", "task_id", "track"}


def describe_event(entry: TimelineEntry, d: CaseDetail, locale: str) -> str:
    """A short line from an event's non-personal data (events never hold personal data)."""
    loaded, zone, roles = d.loaded, case_zone(d), d.loaded.protocol.roles
    data, kind, track = entry.data, entry.kind, entry.track or ""
    if kind == "transition":
        return (
            f"{state_label(loaded, track, data.get('source'), locale)} → "
            f"{state_label(loaded, track, data.get('target'), locale)} "
            f"({data.get('trigger')})"
        )
    parts = []
    for key, value in data.items():
        if key in _SKIP or value is None or value == "" or value == []:
            continue
        if key == "task":
            parts.append(task_label(loaded, str(value), locale))
        elif key == "institution":
            parts.append(d.institutions.get(str(value), str(value)))
        elif key == "state":
            parts.append(state_label(loaded, track, str(value), locale))
        elif key == "purpose":
            parts.append(purposes().get(str(value), str(value)))
        elif key == "role":  # tasks name their institution; consents their recipient role
            if "institution" not in data:
                parts.append(roles[value].get(locale) if value in roles else str(value))
        else:
            parts.append(f"{key.replace('_', ' ')}: {_value(value, zone)}")
    return " · ".join(parts)


# --- actions (callbacks) ---------------------------------------------------------------


def _fire(ref: str, track: str, trigger: str, label: str, version: int) -> None:
    actor = callback_actor()
    if actor is None:
        return
    try:
        cases.fire(deps.services(), ref, track, trigger, actor, expected_version=version)
    except ConcurrentChange as exc:
        flash("stale", str(exc))
    except ReferralEngineError as exc:
        flash("error", str(exc))
    else:
        flash("success", _("Done: {step}.").format(step=label))


def _record_consent(ref: str, version: int) -> None:
    actor = callback_actor()
    if actor is None:
        return
    ss = st.session_state
    decision = ss.get("consent_decision")
    basis = str(ss.get("consent_basis") or "").strip()
    if decision == "legal_basis" and not basis:
        flash("error", _("Name the legal basis (e.g. the law that protects minors)."))
        return
    try:
        cases.record_consent(
            deps.services(),
            ref,
            str(ss.get("consent_purpose")),
            decision != "refused",
            actor,
            role=ss.get("consent_role") or None,
            legal_basis=basis if decision == "legal_basis" else None,
            expected_version=version,
        )
    except ConcurrentChange as exc:
        flash("stale", str(exc))
    except ReferralEngineError as exc:
        flash("error", str(exc))
    else:
        ss["consent_basis"] = ""
        flash("success", _("Consent recorded."))


def _start_reveal(ref: str) -> None:
    st.session_state[REVEAL] = ref


def _cancel_reveal() -> None:
    st.session_state.pop(REVEAL, None)


# --- the page sections -----------------------------------------------------------------


def show_case(actor: Actor, ref: str) -> None:
    locale = deps.locale()
    st.button(_("← Back to the list"), key="cases_back", on_click=open_case, args=(None,))
    try:
        d = casebook.case_detail(deps.services(), actor, ref, locale)
    except (NotAuthorised, UnknownCase) as exc:
        st.error(str(exc))
        return
    case, zone = d.case, case_zone(d)
    show_flash()
    st.header(_("Case {ref}").format(ref=case.ref), anchor=False)
    facts = [
        (_("Protocol"), f"{case.protocol_id} {case.protocol_version}"),
        (_("Country"), case.country),
        (_("Jurisdiction"), case.jurisdiction),
        (_("Opened"), deps.when(case.opened_at, zone)),
        (_("Closed"), deps.when(case.closed_at, zone) if case.closed_at else "—"),
    ]
    for col, (label, value) in zip(st.columns(len(facts)), facts, strict=True):
        col.caption(label)
        col.markdown(f"**{value}**")
    lead = d.institutions.get(case.lead_institution or "", case.lead_institution or "—")
    st.caption(_("Lead institution: {name}").format(name=lead))
    if case.links:
        show_links(actor, d)
    tracks, tasks, consents, timeline, person = st.tabs(
        [_("Tracks"), _("Tasks"), _("Consents"), _("Timeline"), _("Personal data")]
    )
    with tracks:
        show_tracks(d, locale)
    with tasks:
        show_tasks(d, locale)
    with consents:
        show_consents(d, locale)
    with timeline:
        show_timeline(d, locale)
    with person:
        show_person(actor, d)


def show_links(actor: Actor, d: CaseDetail) -> None:
    st.markdown("**" + _("Linked cases") + "**")
    for link in d.case.links:
        kind = _("handed to") if link.kind == "handed_to" else _("received from")
        text = f"{kind} {link.ref}"
        if link.ref[:2] in actor.countries:
            st.button(text, key=f"cases_link_{link.ref}", on_click=open_case, args=(link.ref,))
        else:
            st.markdown(f"- {text}")


@st.cache_data(max_entries=256, show_spinner=False)
def _diagram(content_hash: str, track: str, state: str, locale: str, _loaded: Any) -> str:
    """Protocol data only (no case data): cached per protocol version, track, state, locale."""
    return protocol_views.diagram(_loaded, track, "dot", current=state, locale=locale)


def show_tracks(d: CaseDetail, locale: str) -> None:
    case, loaded, zone = d.case, d.loaded, case_zone(d)
    if case.is_closed:
        st.info(_("The case is closed; no step can be taken."))
    for name, current in case.tracks.items():
        st.subheader(track_label(loaded, name, locale), anchor=False)
        now, steps = st.columns([2, 3])
        with now:
            st.markdown(
                _("**Now:** {state} (since {when})").format(
                    state=state_label(loaded, name, current.state, locale),
                    when=deps.when(current.entered_at, zone),
                )
            )
            deadline = case.running_deadline(name)
            if deadline is not None:
                st.caption(_("Deadline: {when}").format(when=deps.when(deadline.due_at, zone)))
        with steps:
            show_steps(d, name, d.steps.get(name, []), locale)
        # full width: a long track (care) needs it; a short one keeps its natural size
        source = _diagram(loaded.content_hash, name, current.state, locale, loaded)
        st.graphviz_chart(source, width="content")


def show_steps(d: CaseDetail, track: str, found: list[Step], locale: str) -> None:
    if not found:
        st.caption(_("No step leaves this state."))
        return
    for step in found:
        target = state_label(d.loaded, track, step.target, locale)
        if step.allowed:
            st.button(
                f"{step.label} → {target}",
                key=f"fire_{track}_{step.trigger}",
                on_click=_fire,
                args=(d.case.ref, track, step.trigger, step.label, d.case.version),
                wrap=True,
            )
        else:
            reasons = "; ".join(step.unmet)
            st.markdown(
                f"🔒 {step.label} → {target}  \n" + _("Blocked: {reasons}").format(reasons=reasons)
            )
        for key in step.fired_by:
            if key == "deadline":
                st.caption(_("Happens by itself when the deadline expires."))
            else:
                st.caption(
                    _("Happens by itself when this task is completed: {task}").format(
                        task=task_label(d.loaded, key, locale)
                    )
                )


def _task_row(t: Task, d: CaseDetail, locale: str) -> dict[str, str]:
    zone = case_zone(d)
    overdue = t.is_open and t.status != "on-hold" and t.due_at < d.now
    return {
        _("Task"): task_label(d.loaded, t.key, locale),
        _("Track"): track_label(d.loaded, t.track, locale),
        _("Institution"): d.institutions.get(t.institution, t.institution),
        _("Status"): statuses().get(t.status, t.status),
        _("Due"): deps.when(t.due_at, zone),
        _("Overdue"): "⚠️" if overdue or (t.is_open and t.overdue_at is not None) else "",
        _("Routing"): routings().get(t.routing, t.routing),
        _("Reason"): reason_labels().get(t.reason, t.reason) if t.reason else "",
        _("Updated"): deps.when(t.updated_at, zone),
    }


def show_tasks(d: CaseDetail, locale: str) -> None:
    open_ = [_task_row(t, d, locale) for t in d.case.tasks if t.is_open]
    past = [_task_row(t, d, locale) for t in reversed(d.case.tasks) if not t.is_open]
    st.markdown("**" + _("Open tasks") + "**")
    if open_:
        st.dataframe(open_, hide_index=True)
    else:
        st.caption(_("No open tasks."))
    st.markdown("**" + _("Past tasks") + "**")
    if past:
        st.dataframe(past, hide_index=True)
    else:
        st.caption(_("No past tasks."))


def show_consents(d: CaseDetail, locale: str) -> None:
    roles = d.loaded.protocol.roles
    zone = case_zone(d)
    rows = [
        {
            _("Purpose"): purposes().get(c.purpose, c.purpose),
            _("Role"): roles[c.role].get(locale) if c.role in roles else _("Every role"),
            _("Decision"): _("Legal basis")
            if c.legal_basis
            else (_("Given") if c.given else _("Refused or withdrawn")),
            _("Legal basis"): c.legal_basis or "",
            _("When"): deps.when(c.at, zone),
        }
        for c in d.case.consents
    ]
    if rows:
        st.dataframe(rows, hide_index=True)
    else:
        st.caption(_("No consent recorded yet."))
    if d.case.is_closed:
        return
    decisions = {
        "given": _("Given"),
        "refused": _("Refused or withdrawn"),
        "legal_basis": _("A legal basis stands in for consent"),
    }
    purpose_labels, every = purposes(), _("Every role")
    with st.form("cases_consent_form"):
        st.markdown("**" + _("Record consent") + "**")
        st.selectbox(
            _("Purpose"),
            CONSENT_PURPOSES,
            format_func=lambda p: purpose_labels.get(p, p),
            key="consent_purpose",
        )
        st.selectbox(
            _("To whom"),
            ["", *roles],
            format_func=lambda r: roles[r].get(locale) if r else every,
            key="consent_role",
        )
        st.radio(
            _("Decision"),
            list(decisions),
            format_func=lambda k: decisions[k],
            key="consent_decision",
            horizontal=True,
        )
        st.text_input(_("Legal basis (law and article)"), key="consent_basis")
        st.form_submit_button(
            _("Record"),
            key="consent_submit",
            on_click=_record_consent,
            args=(d.case.ref, d.case.version),
        )


def show_timeline(d: CaseDetail, locale: str) -> None:
    kinds, zone = event_kinds(), case_zone(d)
    rows = [
        {
            _("When"): deps.when(e.at, zone),
            _("What"): kinds[e.kind],
            _("Track"): track_label(d.loaded, e.track, locale),
            _("Who"): e.actor,
            _("Details"): describe_event(e, d, locale),
        }
        for e in d.timeline
    ]
    st.dataframe(rows, hide_index=True)


def sealed_data_unavailable() -> str:
    """What a user is told when the key that sealed personal data is missing or wrong."""
    return _(
        "Personal data cannot be opened: the encryption key is missing or wrong. "
        "Ask the administrator to restore it (ruta keys status)."
    )


def show_person(actor: Actor, d: CaseDetail) -> None:
    ref = d.case.ref
    if not d.has_person:
        st.info(_("No personal data was recorded for this case."))
        return
    st.caption(_("Personal data is shown only on request, with a reason; every view is recorded."))
    if st.session_state.get(REVEAL) != ref:
        st.button(
            _("Reveal personal data"), key="cases_reveal", on_click=_start_reveal, args=(ref,)
        )
        return
    reason = reason_select("cases_reveal_reason")
    show, cancel, _rest = st.columns([1, 1, 6])
    cancel.button(_("Cancel"), key="cases_reveal_cancel", on_click=_cancel_reveal)
    if not show.button(_("Show"), key="cases_reveal_show", disabled=reason is None):
        return
    try:
        person = privacy.reveal_person(deps.services(), actor, ref, str(reason))
    except ReferralEngineError as exc:
        st.error(str(exc))
        return
    except SealedDataUnavailable:
        st.error(sealed_data_unavailable())
        return
    st.session_state.pop(REVEAL, None)  # the next view asks again
    labels = person_fields()
    shown = {labels.get(k, k): person[k] for k in PERSON_FIELDS if person.get(k)}
    if not shown:
        st.info(_("The person record is empty."))
        return
    st.table([{_("Field"): k, _("Value"): v} for k, v in shown.items()])

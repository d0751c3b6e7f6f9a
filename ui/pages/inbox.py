"""Inbox: an institution's tasks coloured by due state, and the moves it makes on them.

The task detail is read once when a task is chosen and kept in the session: every move is
sent with the case version shown then, so a case that changed meanwhile is refused (reload)
instead of overwritten, and sharing the person fields is recorded once, not on every rerun.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from institutions.errors import DirectoryError
from protocols.schema import PERSON_FIELDS
from ui import case_view, deps, i18n
from ui.deps import _
from workflows.domain.case import TaskStatus
from workflows.domain.errors import ConcurrentChange, ReferralEngineError
from workflows.domain.lifecycle import FAIL_REASONS, HOLD_REASONS, MOVES, REJECT_REASONS
from workflows.domain.ports import InboxRow
from workflows.queries import inbox
from workflows.queries.inbox import OutcomeInput
from workflows.services import tasks
from workflows.services.tasks import TaskView

VIEW, STALE, FLASH, CHOSEN = "inbox_view", "inbox_stale", "inbox_flash", "inbox_task"
BUTTON_MOVES = ("receive", "accept", "start", "resume")
LIST_LIMIT = 200  # the Inbox port (Inbox.tasks) lists at most this many
COLOURS = {
    "overdue": "background-color: #f8d7da; color: #842029",
    "due_soon": "background-color: #fff3cd; color: #664d03",
    "on_hold": "background-color: #e2e3e5; color: #41464b",
    "on_time": "",
    "closed": "color: #6c757d",
}
BADGES = {
    "overdue": "red",
    "due_soon": "orange",
    "on_hold": "gray",
    "on_time": "blue",
    "closed": "gray",
}


def move_labels() -> dict[str, str]:
    return {
        "receive": _("Acknowledge"),
        "accept": _("Accept"),
        "start": _("Start"),
        "resume": _("Resume"),
        "reject": _("Reject"),
        "hold": _("Put on hold"),
        "complete": _("Complete"),
        "fail": _("Mark as failed"),
    }


def done_messages() -> dict[str, str]:
    return {
        "receive": _("Task acknowledged."),
        "accept": _("Task accepted."),
        "start": _("Task started."),
        "resume": _("Task resumed; its due time moved by the time it was on hold."),
        "reject": _("Task rejected; Ruta routes it to the next institution."),
        "hold": _("Task put on hold; its clock is stopped."),
        "complete": _("Task completed."),
        "fail": _("Task marked as failed."),
        "reassign": _("Task reassigned."),
    }


def due_labels() -> dict[str, str]:
    return {
        "overdue": _("Overdue"),
        "due_soon": _("Due within 24 hours"),
        "on_hold": _("On hold (clock stopped)"),
        "on_time": _("On time"),
        "closed": _("Closed"),
    }


def field_labels() -> dict[str, str]:
    return {
        "jurisdiction": _("Jurisdiction"),
        "minor": _("Minor"),
        "nationality": _("Nationality"),
        "risk": _("Security risk"),
        **case_view.person_fields(),
    }


def field_label(name: str) -> str:
    return field_labels().get(name, name.replace("_", " ").capitalize())


def shown(value: Any) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return "—" if value is None or value == "" else str(value)


def humanise(code: str) -> str:
    return code.replace("_", " ").capitalize()


# --- filters and the list ---------------------------------------------------------------


def filters(home_country: str) -> dict[str, Any]:
    left, middle, right, last = st.columns(4)
    scopes = {"open": _("Open tasks"), "all": _("All tasks")}
    scope = left.selectbox(
        _("Status"), list(scopes), format_func=scopes.__getitem__, key="inbox_status"
    )
    known = sorted({p.protocol.country for p in svc.catalog.loaded})  # countries with a protocol
    countries = {"": _("All countries")} | {code: code for code in known}
    country = middle.selectbox(
        _("Country"), list(countries), format_func=countries.__getitem__, key="inbox_country"
    )
    case_ref = right.text_input(
        _("Case reference"), value=str(st.query_params.get("case", "")), key="inbox_case"
    )
    day: date | None = last.date_input(
        _("Due before the end of"), value=None, key="inbox_due_before"
    )
    due_before = None
    if day is not None:  # the end of that day where the tasks' deadlines run
        zone = ZoneInfo(deps.country_zone(country or home_country))
        due_before = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return {
        "statuses": None if scope == "open" else list(get_args(TaskStatus)),
        "due_before": due_before,
        "country": country or None,
        "case_ref": case_ref.strip().upper() or None,
    }


def task_table(
    rows: list[InboxRow], labels: dict[tuple[str, str], str], zones: dict[str, str]
) -> None:
    now = deps.now()
    states = [inbox.due_state(r.status, r.due_at, r.overdue, now) for r in rows]
    statuses = case_view.statuses()
    due_col, state_col = _("Due"), _("Due state")
    frame = pd.DataFrame(
        {
            state_col: [due_labels()[s] for s in states],
            due_col: [deps.when(r.due_at, zones[r.protocol_hash]) for r in rows],
            _("Case"): [r.case_ref for r in rows],
            _("Status"): [statuses.get(r.status, r.status) for r in rows],
            _("Task"): [labels[r.protocol_hash, r.task_key] for r in rows],
            _("Country"): [r.country for r in rows],
            _("Assigned to"): [r.owner or "—" for r in rows],
        }
    )
    css = [COLOURS[s] for s in states]
    styled = frame.style.apply(lambda _column: css, subset=[state_col, due_col])
    st.dataframe(styled, hide_index=True, width="stretch", key="inbox_table")


# --- the chosen task ------------------------------------------------------------------------


def load_view(actor_name: str, row: InboxRow) -> tuple[TaskView, list[OutcomeInput]] | None:
    """The task as shown when chosen (kept until a move, a reload or another choice)."""
    key = (actor_name, row.case_ref, row.task_id)
    cached = st.session_state.get(VIEW)
    if cached is not None and cached[0] == key:
        return cached[1], cached[2]
    st.session_state.pop(STALE, None)
    try:
        view = tasks.view_task(svc, actor, row.case_ref, row.task_id, locale=deps.locale())
        fields = (
            inbox.step_outcome(svc, actor, row.case_ref, row.task_id, deps.locale())
            if "complete" in view.moves
            else []
        )
    except ReferralEngineError as exc:
        st.error(str(exc))
        return None
    st.session_state[VIEW] = (key, view, fields)
    return view, fields


def act(name: str, do: Callable[[], object]) -> None:
    """Make a move; on success reload the inbox with a message, on a stale form ask to reload."""
    try:
        do()
    except ConcurrentChange as exc:
        st.session_state[STALE] = str(exc)
        st.rerun()
    except (ReferralEngineError, DirectoryError) as exc:
        st.error(str(exc))
        return
    st.session_state.pop(VIEW, None)
    st.session_state[FLASH] = done_messages()[name]
    st.rerun()


def show_task(view: TaskView, row: InboxRow, zone: str) -> None:
    st.subheader(view.label)
    state = inbox.due_state(view.status, view.due_at, view.overdue, deps.now())
    facts = {
        _("Case"): view.case_ref,
        _("Status"): case_view.statuses().get(view.status, view.status),
        _("Due"): deps.when(view.due_at, zone),
        _("Due state"): f":{BADGES[state]}-badge[{due_labels()[state]}]",
    }
    for column, (label, value) in zip(st.columns(len(facts)), facts.items(), strict=True):
        column.markdown(f"**{label}**  \n{value}")
    if view.linked_ref:
        st.caption(_("Linked case: {ref}").format(ref=view.linked_ref))
    st.caption(_("Assigned to: {owner}").format(owner=row.owner or _("nobody")))
    shared = {field_label(k): shown(v) for k, v in view.attributes.items()}
    shared |= {field_label(k): shown(v) for k, v in view.person.items()}
    if shared:
        st.markdown("**" + _("What this step shares with your institution") + "**")
        st.table(pd.DataFrame({_("Field"): list(shared), _("Value"): list(shared.values())}))
    else:
        st.caption(_("This step shares no case data with your institution."))
    if view.withheld:
        names = ", ".join(field_label(k) for k in view.withheld if k in PERSON_FIELDS)
        st.info(_("Not shared without consent: {fields}").format(fields=names))


def move_forms(view: TaskView, row: InboxRow, fields: list[OutcomeInput]) -> None:
    stale = st.session_state.get(STALE)
    if stale:
        st.error(stale)
        if st.button(_("Reload"), key="inbox_reload", type="primary"):
            st.session_state.pop(STALE, None)
            st.session_state.pop(VIEW, None)
            st.rerun()
        return
    if row.case_version != view.case_version:  # the list is read afresh on every run
        st.warning(_("The case has changed since you opened this task; reload to see it now."))
        if st.button(_("Reload"), key="inbox_refresh"):
            st.session_state.pop(VIEW, None)
            st.rerun()
    moves = [m for m in view.moves if MOVES[m].party == "responder"]
    if not moves:
        st.caption(_("No moves are open on this task."))
        return
    ref, task_id, version = view.case_ref, view.task_id, view.case_version

    def move(name: str, **kwargs: Any) -> Callable[[], int]:
        return lambda: tasks.move(
            svc, actor, ref, task_id, name, expected_version=version, **kwargs
        )

    buttons = [m for m in moves if m in BUTTON_MOVES]
    widths = [1] * len(buttons) + [max(6 - len(buttons), 1)]  # buttons side by side, on the left
    for column, name in zip(st.columns(widths), buttons, strict=False):
        if column.button(move_labels()[name], key=f"inbox_move_{name}"):
            act(name, move(name))
    if "complete" in moves:
        complete_form(fields, move)
    for name, codes in (("reject", REJECT_REASONS), ("hold", HOLD_REASONS), ("fail", FAIL_REASONS)):
        if name in moves:
            reason_form(name, codes, move)
    assign_form(view, row)


def reason_form(name: str, codes: tuple[str, ...], move: Callable[..., Callable[[], int]]) -> None:
    labels = case_view.reason_labels()
    reasons = {code: labels.get(code, humanise(code)) for code in codes}
    with st.expander(move_labels()[name]), st.form(f"inbox_{name}_form"):
        reason = st.selectbox(
            _("Reason"),
            codes,
            index=None,
            format_func=reasons.__getitem__,
            placeholder=_("Choose a reason"),
            key=f"inbox_{name}_reason",
        )
        note = st.text_area(
            _("Note"), help=_("Required when the reason is 'Other'."), key=f"inbox_{name}_note"
        )
        if st.form_submit_button(move_labels()[name], key=f"inbox_{name}_submit"):
            if reason is None:
                st.error(_("Choose a reason."))
            elif reason == "other" and not note.strip():
                st.error(_("Say why in the note: the reason is 'Other'."))
            else:
                act(name, move(name, reason=reason, note=note.strip() or None))


def complete_form(fields: list[OutcomeInput], move: Callable[..., Callable[[], int]]) -> None:
    yes_no = {True: _("Yes"), False: _("No")}
    with st.expander(move_labels()["complete"], expanded=True), st.form("inbox_complete_form"):
        values: dict[str, Any] = {}
        if not fields:
            st.caption(_("This step asks for no outcome."))
        for f in fields:
            label = f.label if f.required else _("{label} (optional)").format(label=f.label)
            key = f"inbox_outcome_{f.name}"
            if f.type == "choice":
                values[f.name] = st.selectbox(
                    label,
                    f.options,
                    index=None,
                    format_func=humanise,
                    placeholder=_("Choose an option"),
                    key=key,
                )
            elif f.type == "boolean":
                values[f.name] = st.radio(
                    label,
                    list(yes_no),
                    index=None,
                    format_func=yes_no.__getitem__,
                    horizontal=True,
                    key=key,
                )
            elif f.type == "date":
                picked = st.date_input(label, value=None, key=key)
                values[f.name] = picked.isoformat() if isinstance(picked, date) else None
            else:
                values[f.name] = st.text_input(label, key=key).strip()
        if st.form_submit_button(_("Complete the task"), key="inbox_complete_submit"):
            missing = [f.label for f in fields if f.required and values[f.name] in (None, "")]
            if missing:
                st.error(_("Fill in: {fields}").format(fields=", ".join(missing)))
                return
            outcome = {k: v for k, v in values.items() if v not in (None, "")}
            act("complete", move("complete", outcome=outcome))


def assign_form(view: TaskView, row: InboxRow) -> None:
    try:
        people = inbox.colleagues(svc, actor)
    except ReferralEngineError as exc:
        st.error(str(exc))
        return
    options = {"": _("Nobody")} | {name: name for name in people}
    with st.expander(_("Reassign")), st.form("inbox_assign_form"):
        who = st.selectbox(
            _("Assign to"),
            list(options),
            index=list(options).index(row.owner) if row.owner in options else 0,
            format_func=options.__getitem__,
            key="inbox_assign_to",
        )
        if st.form_submit_button(_("Reassign"), key="inbox_assign_submit"):
            act(
                "reassign",
                lambda: tasks.assign(
                    svc,
                    actor,
                    view.case_ref,
                    view.task_id,
                    who or None,
                    expected_version=view.case_version,
                ),
            )


# --- the page -------------------------------------------------------------------------------

actor = deps.actor()
st.title(_("Inbox"))
svc = deps.services()
flash = st.session_state.pop(FLASH, None)
if flash:
    st.success(flash)
home = inbox.own_institution(svc, actor)
if home is not None:
    st.caption(home.name)
chosen_filters = filters(home.country if home is not None else "")
try:
    rows = inbox.inbox(svc, actor, **chosen_filters)
except ReferralEngineError as exc:
    st.error(str(exc))
    st.stop()
if not rows:
    st.info(_("No tasks match these filters."))
    st.stop()
labels = inbox.task_labels(svc, {(r.protocol_hash, r.task_key) for r in rows}, deps.locale())
zones = inbox.zones(svc, {r.protocol_hash for r in rows})  # each task's pinned protocol's zone
st.caption(
    _("{count} tasks, soonest due first").format(count=i18n.number(len(rows), deps.locale()))
)
task_table(rows, labels, zones)
if len(rows) >= LIST_LIMIT:
    st.caption(
        _("Only the first {count} tasks are listed; narrow the filters.").format(count=LIST_LIMIT)
    )

by_id = {r.task_id: r for r in rows}
choices = {
    r.task_id: f"{r.case_ref} · {labels[r.protocol_hash, r.task_key]} · "
    f"{deps.when(r.due_at, zones[r.protocol_hash])}"
    for r in rows
}
if st.session_state.get(CHOSEN) not in by_id:  # gone after a move, or filtered out
    st.session_state.pop(CHOSEN, None)
chosen = st.selectbox(
    _("Task"),
    list(choices),
    index=0 if len(rows) == 1 and chosen_filters["case_ref"] else None,
    format_func=choices.__getitem__,
    placeholder=_("Choose a task to see it and act on it"),
    key=CHOSEN,
)
if chosen is not None:
    loaded_view = load_view(actor.name, by_id[chosen])
    if loaded_view is not None:
        st.divider()
        show_task(loaded_view[0], by_id[chosen], zones[by_id[chosen].protocol_hash])
        move_forms(loaded_view[0], by_id[chosen], loaded_view[1])

"""Cases (focal points): the filterable case list, a case's page, recording a new case.

`?case=REF` (the links in emails) opens that case's page; "back to the list" returns.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from protocols.schema import RISK_LEVELS
from ui import case_view, deps, i18n
from ui.deps import _
from workflows.domain.access import Actor, require_casebook
from workflows.domain.errors import NotAuthorised, ReferralEngineError, SealedDataUnavailable
from workflows.queries import casebook
from workflows.services import cases, privacy

FILTERS = ("cases_country", "cases_state", "cases_overdue", "cases_lead", "cases_ref")
PERSON = {
    "given_name": "new_given_name",
    "family_name": "new_family_name",
    "document_type": "new_document_type",
    "document_number": "new_document_number",
}


def keep_filters() -> None:
    """Streamlit forgets a widget's value on a run that does not draw it (the case page);
    re-setting the keys keeps the list's filters for the way back."""
    for key in (*FILTERS, "cases_page"):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def _find_by_document() -> None:
    """The search runs in the button's callback, which then empties the number field."""
    ss = st.session_state
    number, reason = str(ss.get("cases_doc_number") or ""), ss.get("cases_doc_reason")
    ss["cases_doc_number"] = ""  # the number is not kept in the session
    ss.pop("cases_doc_found", None)
    actor = case_view.callback_actor()
    if actor is None:
        return
    if reason is None:
        ss["cases_doc_error"] = _("Choose a reason.")
        return
    try:
        ss["cases_doc_found"] = privacy.find_by_document(
            deps.services(), actor, number, str(reason)
        )
    except ReferralEngineError as exc:
        ss["cases_doc_error"] = str(exc)
    except SealedDataUnavailable:
        ss["cases_doc_error"] = case_view.sealed_data_unavailable()


def show_document_search() -> None:
    """Find a person's cases by document number: blind index, a reason, an event per case."""
    with st.expander(_("Find by document number")):
        with st.form("cases_doc_form", border=False):
            st.text_input(_("Document number"), key="cases_doc_number")
            case_view.reason_select("cases_doc_reason")
            st.form_submit_button(_("Search"), on_click=_find_by_document)
        error = st.session_state.pop("cases_doc_error", None)
        if error:
            st.error(error)
        found = st.session_state.get("cases_doc_found")
        if found is None:
            st.caption(_("The search is recorded on every case it finds."))
        elif not found:
            st.info(_("No case in your countries has this document number."))
        else:
            st.caption(_("Cases with this document number:"))
            for ref in found:
                st.button(ref, key=f"cases_doc_{ref}", on_click=case_view.open_case, args=(ref,))


def show_list(actor: Actor) -> None:
    svc, locale = deps.services(), deps.locale()
    show_document_search()
    options = casebook.list_options(svc, actor)
    states, leads = options.care_states, options.lead_institutions
    every = _("All")
    c1, c2, c3, c4, c5 = st.columns([1, 2, 2, 2, 1])
    country = c1.selectbox(
        _("Country"),
        [None, *options.countries],
        format_func=lambda v: every if v is None else v,
        key="cases_country",
    )
    state = c2.selectbox(
        _("Care state"),
        [None, *states],
        format_func=lambda v: every if v is None else states[v].get(locale),
        key="cases_state",
    )
    lead = c3.selectbox(
        _("Lead institution"),
        [None, *leads],
        format_func=lambda v: every if v is None else leads[v],
        key="cases_lead",
    )
    prefix = c4.text_input(_("Reference starts with"), key="cases_ref", placeholder="CO-2026-")
    overdue = c5.checkbox(_("Overdue only"), key="cases_overdue")
    signature = (country, state, lead, prefix, overdue)
    if st.session_state.get("cases_signature") != signature:  # new filters: first page
        st.session_state["cases_signature"] = signature
        st.session_state["cases_page"] = 1
    found = casebook.list_cases(
        svc,
        actor,
        country=country,
        care_state=state,
        overdue_only=overdue,
        lead_institution=lead,
        ref_prefix=prefix,
        page=int(st.session_state.get("cases_page", 1)),
    )
    st.session_state["cases_page"] = found.page  # clamped to the pages there are
    # the list has no protocol at hand: each country's latest protocol gives the time zone
    zones = {c: deps.country_zone(c) for c in {r.country for r in found.rows}}
    rows = [
        {
            _("Reference"): r.ref,
            _("Country"): r.country,
            _("Protocol"): f"{r.protocol_id} {r.protocol_version}",
            _("Jurisdiction"): r.jurisdiction,
            _("Care state"): states[r.care_state].get(locale)
            if r.care_state in states
            else (r.care_state or "—"),
            _("Opened"): deps.when(r.opened_at, zones[r.country]),
            _("Closed"): deps.when(r.closed_at, zones[r.country]) if r.closed_at else "",
            _("Open tasks"): r.open_tasks,
            _("Overdue"): r.overdue_tasks,
            _("Lead institution"): leads.get(r.lead_institution or "", r.lead_institution or ""),
        }
        for r in found.rows
    ]
    if rows:
        st.dataframe(rows, hide_index=True)
    else:
        st.info(_("No case matches these filters."))
    left, right = st.columns([1, 3])
    left.number_input(_("Page"), min_value=1, max_value=found.pages, step=1, key="cases_page")
    right.caption(
        _("{total} cases · page {page} of {pages}").format(
            total=i18n.number(found.total, locale), page=found.page, pages=found.pages
        )
    )
    st.selectbox(
        _("Open a case"),
        [r.ref for r in found.rows],
        index=None,
        placeholder=_("Choose a reference"),
        key="cases_open",
        on_change=lambda: case_view.open_case(st.session_state.get("cases_open")),
    )


def _record_new_case() -> None:
    actor = case_view.callback_actor()
    if actor is None:
        return
    svc, ss = deps.services(), st.session_state
    chosen_id = str(ss.get("new_protocol") or "")
    chosen = {p.id: p for p in casebook.new_case_protocols(svc, actor)}.get(chosen_id)
    if chosen is None:
        case_view.flash("error", _("Choose a protocol."))
        return
    attributes: dict[str, object] = {
        "jurisdiction": str(ss.get("new_jurisdiction") or "").strip().upper(),
        "minor": bool(ss.get("new_minor")),
    }
    nationality = str(ss.get("new_nationality") or "").strip().upper()
    if nationality:
        attributes["nationality"] = nationality
    if ss.get("new_risk"):
        attributes["risk"] = ss["new_risk"]
    person = {
        field: str(ss.get(key) or "").strip()
        for field, key in PERSON.items()
        if str(ss.get(key) or "").strip()
    }
    born = ss.get("new_birth_date")
    if isinstance(born, date):
        person["birth_date"] = born.isoformat()
    try:
        ref = cases.open_case(svc, chosen, attributes, actor, person=person or None)
    except ReferralEngineError as exc:
        case_view.flash("error", str(exc))
        return
    # the personal data leaves the form (and the session) at once; so does the rest
    for key in (*PERSON.values(), "new_birth_date", "new_jurisdiction", "new_nationality"):
        ss.pop(key, None)
    ss["cases_new_ref"] = ref
    case_view.flash("success", _("Case {ref} recorded.").format(ref=ref))


def show_new_case(actor: Actor) -> None:
    protocols = {p.id: p for p in casebook.new_case_protocols(deps.services(), actor)}
    locale = deps.locale()
    new_ref = st.session_state.pop("cases_new_ref", None)
    if new_ref:
        st.button(
            _("Open case {ref}").format(ref=new_ref),
            key="cases_open_new",
            on_click=case_view.open_case,
            args=(new_ref,),
        )
    with st.expander(_("Record a new case"), expanded=bool(new_ref)):
        if not protocols:
            st.info(_("No published protocol for your countries."))
            return
        with st.form("cases_new_case"):
            st.selectbox(
                _("Protocol"),
                list(protocols),
                format_func=lambda i: (
                    f"{i} {protocols[i].protocol.version}: "
                    f"{protocols[i].protocol.title.get(locale)}"
                ),
                key="new_protocol",
            )
            a, b = st.columns(2)
            a.text_input(
                _("Jurisdiction"),
                key="new_jurisdiction",
                placeholder="CO-NAR-52356",
                help=_("Country, subdivision or municipality code, e.g. CO-NAR-52356 (Ipiales)."),
            )
            b.text_input(_("Nationality (2-letter code)"), key="new_nationality", max_chars=2)
            a.selectbox(
                _("Security risk"),
                ["", *RISK_LEVELS],
                format_func={
                    "": _("Not assessed"),
                    "low": _("Low"),
                    "medium": _("Medium"),
                    "high": _("High"),
                }.__getitem__,
                key="new_risk",
            )
            b.checkbox(_("Minor (under 18)"), key="new_minor")
            st.markdown("**" + _("Person (protected record)") + "**")
            a, b = st.columns(2)
            a.text_input(_("Given name"), key="new_given_name")
            b.text_input(_("Family name"), key="new_family_name")
            a.text_input(_("Document type"), key="new_document_type")
            b.text_input(_("Document number"), key="new_document_number")
            a.date_input(
                _("Birth date"),
                value=None,
                min_value=date(1900, 1, 1),
                max_value=deps.now().date(),
                key="new_birth_date",
            )
            st.form_submit_button(
                _("Record the case"), key="new_case_submit", on_click=_record_new_case
            )


actor = deps.actor()
st.title(_("Cases"))
keep_filters()
try:
    require_casebook(actor)
except NotAuthorised as exc:
    st.error(str(exc))
    st.stop()
ref = st.query_params.get("case")
if ref:
    case_view.show_case(actor, ref)
else:
    case_view.show_flash()
    show_new_case(actor)
    show_list(actor)

"""The console: sign-in, then a menu of the pages the user's role may open.

Authorisation is enforced again by every use case in the service layer; the menu only
spares people pages they could not use.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from institutions.accounts import LOCKOUT, MAX_FAILURES, SignInRefused
from ruta import logs
from ui import deps, i18n
from ui.deps import _
from workflows.services import accounts

logs.install()  # personal values never reach a log line (ruta/logs.py)

PAGES = Path(__file__).parent / "pages"
MENU = {  # role -> pages, the first is where they land
    "focal_point": ["cases", "inbox", "protocols"],
    "officer": ["inbox", "protocols"],
    "manager": ["compliance", "protocols"],
    "admin": ["institutions", "protocols"],
}

st.set_page_config(page_title="Ruta", layout="wide")


def sign_in() -> None:
    st.title("Ruta")
    st.caption(_("Referral protocols for survivors of trafficking"))
    with st.form("sign_in"):
        username = st.text_input(_("User name"), key="sign_in_user")
        password = st.text_input(_("Password"), type="password", key="sign_in_password")
        submitted = st.form_submit_button(_("Sign in"))
    if submitted:
        svc = deps.services()
        try:
            user = accounts.sign_in(svc, username, password)
        except SignInRefused:  # one answer for every reason, so it tells nothing
            st.error(
                _(
                    "Sign-in refused: wrong user name or password, or the account is locked "
                    "or deactivated. {failures} failed attempts in a row lock an account for "
                    "{minutes} minutes; ask your administrator if it persists."
                ).format(failures=MAX_FAILURES, minutes=int(LOCKOUT.total_seconds() // 60))
            )
            return
        st.session_state["user"] = user
        st.session_state["last_seen"] = svc.clock.now()
        st.rerun()
    if sso_configured():  # single sign-on (OIDC) when the deployment configures it
        st.divider()
        if st.button(_("Sign in with your organisation's account")):
            st.login()


def sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml: local accounts only
        return False


def single_sign_on() -> None:
    """Map a signed-in OIDC identity to a Ruta user by work address."""
    if deps.user() is not None or not getattr(st.user, "is_logged_in", False):
        return
    email = str(getattr(st.user, "email", "") or "")
    svc = deps.services()
    found = accounts.by_email(svc, email)
    if found is None or not found.active:
        st.error(_("Your account is not registered in Ruta; ask your administrator."))
        st.stop()
    st.session_state["user"] = found
    st.session_state["last_seen"] = svc.clock.now()


def role_names() -> dict[str, str]:
    return {
        "focal_point": _("Focal point"),
        "officer": _("Institution officer"),
        "manager": _("Manager"),
        "admin": _("Administrator"),
    }


@st.cache_data(ttl=600)
def institution_name(institution_id: str) -> str:
    with deps.services().uow() as uow:
        found = uow.directory.institution(institution_id)
    return found.name if found else institution_id


def sidebar() -> None:
    user = deps.user()
    if user is None:  # the menu is drawn for signed-in users only
        return
    with st.sidebar:
        st.markdown(f"**{user.username}**")
        st.caption(f"{role_names()[user.role]} · {institution_name(user.institution)}")
        current = deps.locale()
        chosen = st.selectbox(
            _("Language"),
            i18n.LOCALES,
            index=i18n.LOCALES.index(current),
            format_func=lambda code: i18n.LOCALE_NAMES[code],
            key="language",
        )
        if chosen != current:
            st.session_state["locale"] = chosen
            st.rerun()
        if st.button(_("Sign out"), key="sign_out"):
            deps.sign_out()
            st.rerun()


def titles() -> dict[str, str]:
    return {
        "cases": _("Cases"),
        "inbox": _("Inbox"),
        "compliance": _("Compliance"),
        "protocols": _("Protocols"),
        "institutions": _("Institutions"),
    }


def signed_out_page() -> None:
    if st.session_state.pop("signed_out_idle", False):
        st.info(_("You were signed out after 30 minutes without activity."))
    if st.session_state.pop("signed_out_deactivated", False):
        st.info(_("Your account was deactivated, so you were signed out."))
    sign_in()


single_sign_on()
if deps.user() is None:
    # a navigation of its own, so Streamlit never lists the page files to a signed-out visitor
    st.navigation([st.Page(signed_out_page, title="Ruta")], position="hidden").run()
    st.stop()
# the idle timeout and the user as the directory has them now (deactivated: signed out; a
# new role or scope: the menu and every page follow it); every page checks it again
signed_in = deps.actor()
sidebar()
pages = [
    st.Page(str(PAGES / f"{name}.py"), title=titles()[name], url_path=name, default=(i == 0))
    for i, name in enumerate(MENU.get(signed_in.role, ["protocols"]))
]
st.navigation(pages).run()

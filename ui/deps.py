"""What every page needs: the services, the signed-in actor, the language, formatting.

Tests put their own `Services` into `st.session_state["services"]` before the first run;
otherwise the real ones are built once per process from the settings (ruta/bootstrap.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st

from institutions.domain import User
from ruta import bootstrap
from ui import i18n
from workflows.domain.access import Actor
from workflows.domain.ports import Services
from workflows.services import accounts

IDLE_TIMEOUT = timedelta(minutes=30)


@st.cache_resource
def _real_services() -> Services:
    return bootstrap.services()


def services() -> Services:
    injected = st.session_state.get("services")
    return injected if isinstance(injected, Services) else _real_services()


def user() -> User | None:
    found = st.session_state.get("user")
    return found if isinstance(found, User) else None


def actor() -> Actor:
    """The signed-in user as an actor, as the directory has them now. Every page starts
    here: nobody signed in, idle for 30 minutes or deactivated since, and the page stops
    (the menu then offers the sign-in form); a new role or scope holds at once."""
    current = user()
    if current is None:
        st.info(_("Please sign in."))
        st.stop()
    moment = now()
    last = st.session_state.get("last_seen")
    if last is not None and moment - last > IDLE_TIMEOUT:
        sign_out()
        st.session_state["signed_out_idle"] = True
        st.info(_("You were signed out after 30 minutes without activity."))
        st.stop()
    fresh = refreshed(current)
    if fresh is None:
        sign_out()
        st.session_state["signed_out_deactivated"] = True
        st.info(_("Your account was deactivated, so you were signed out."))
        st.stop()
    st.session_state["last_seen"] = moment
    return Actor.of(fresh)


def refreshed(current: User) -> User | None:
    """The signed-in user re-read from the directory (one query by name, on every request):
    None when deactivated or removed; a changed role or scope replaces the session's."""
    found = accounts.current(services(), current.username)
    if found is None or not found.active:
        return None
    if found != current:
        st.session_state["user"] = found
    return found


def sign_out() -> None:
    """Forget everything of the session but the language (and injected test services)."""
    for key in list(st.session_state.keys()):
        if key not in ("services", "locale"):
            del st.session_state[key]
    if getattr(st.user, "is_logged_in", False):
        st.logout()


def locale() -> str:
    chosen = st.session_state.get("locale", "es")
    return chosen if chosen in i18n.LOCALES else "es"


def _(message: str) -> str:
    """Translate a console message into the user's language."""
    return i18n.gettext(locale(), message)


def when(value: datetime | None, timezone: str = "UTC") -> str:
    return i18n.when(value, locale(), timezone)


def country_zone(country: str | None) -> str:
    """The time zone of a country where no protocol is at hand: its latest published
    trafficking protocol's, else UTC. A case's or a task's own times use the time zone of
    the protocol it is pinned to (`CaseDetail.loaded`, `workflows.queries.inbox.zones`)."""
    loaded = services().catalog.latest(country, "trafficking") if country else None
    return loaded.protocol.timezone if loaded is not None else "UTC"


def now() -> datetime:
    return services().clock.now()

"""Inbox (being built)."""

from __future__ import annotations

import streamlit as st

from ui import deps
from ui.deps import _

actor = deps.actor()
st.title(_("Inbox"))

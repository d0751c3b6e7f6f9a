"""Protocols: each protocol's tracks as diagrams, deadlines with their legal source, versions."""

from __future__ import annotations

import streamlit as st

from ui import deps
from ui.deps import _

actor = deps.actor()
st.title(_("Protocols"))

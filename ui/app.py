"""The console entry point. Until the console issue lands: where the system stands.

Counts only; no case, no person, no sign-in needed. `ruta serve` starts it.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy import func, select

from ruta import bootstrap
from workflows import orm
from workflows.domain import OPEN_TASK_STATUSES

st.set_page_config(page_title="Ruta", layout="centered")
st.title("Ruta")
st.caption("Estado del sistema · Estado do sistema · System status")


@st.cache_resource
def _engine():  # type: ignore[no-untyped-def]
    return bootstrap.engine()


with _engine().connect() as conn:
    t, o = orm.tasks, orm.outbox
    cases = conn.execute(select(func.count()).select_from(orm.cases)).scalar_one()
    open_tasks = conn.execute(
        select(func.count()).select_from(t).where(t.c.status.in_(OPEN_TASK_STATUSES))
    ).scalar_one()
    overdue = conn.execute(
        select(func.count())
        .select_from(t)
        .where(t.c.status.in_(OPEN_TASK_STATUSES), t.c.overdue_at.is_not(None))
    ).scalar_one()
    outbox = {
        status: int(n)
        for status, n in conn.execute(select(o.c.status, func.count()).group_by(o.c.status))
    }

left, middle, right = st.columns(3)
left.metric("Casos", cases)
middle.metric("Tareas abiertas", open_tasks)
right.metric("Tareas vencidas", overdue)
st.subheader("Correo saliente")
a, b, c = st.columns(3)
a.metric("Pendientes", outbox.get("pending", 0) + outbox.get("sending", 0))
b.metric("Enviados", outbox.get("sent", 0))
c.metric("Sin entregar", outbox.get("dead", 0))

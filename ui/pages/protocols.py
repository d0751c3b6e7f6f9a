"""Protocols: each protocol's tracks as diagrams, deadlines with their legal source, versions."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from protocols.loader import LoadedProtocol
from protocols.schema import Duration
from ui import deps, i18n
from ui.deps import _
from workflows.queries import protocols as protocol_views


def basis_labels() -> dict[str, str]:
    return {"legal": _("Legal"), "protocol": _("Protocol"), "proposed": _("Proposed by Ruta")}


def status_labels() -> dict[str, str]:
    return {"draft": _("Draft"), "published": _("Published"), "retired": _("Retired")}


def duration(value: Duration | None) -> str:
    if value is None:
        return ""
    units = {
        "hours": _("{n} hours"),
        "calendar_days": _("{n} calendar days"),
        "business_days": _("{n} business days"),
        "months": _("{n} months"),
    }
    return units.get(value.unit, "{n} " + value.unit).format(n=value.amount)


def header(loaded: LoadedProtocol, locale: str) -> None:
    protocol = loaded.protocol
    st.subheader(protocol.title.get(locale))
    first, second, third, fourth = st.columns(4)
    first.metric(_("Protocol"), loaded.id)
    second.metric(_("Version"), protocol.version)
    third.metric(_("Status"), status_labels().get(protocol.status, protocol.status))
    fourth.metric(_("Country"), protocol.country)
    st.caption(
        _("Deadlines run in {zone}, with the public holidays of {calendar}.").format(
            zone=protocol.timezone, calendar=protocol.calendar
        )
    )
    st.markdown("**" + _("Legal basis") + "**")
    st.markdown(
        "\n".join(
            f"- [{source.ref}]({source.url})" if source.url else f"- {source.ref}"
            for source in protocol.legal_basis
        )
    )


def diagrams(loaded: LoadedProtocol, locale: str) -> None:
    st.markdown("**" + _("Tracks") + "**")
    tracks = loaded.protocol.tracks
    for tab, (name, track) in zip(
        st.tabs([track.label.get(locale) for track in tracks.values()]), tracks.items(), strict=True
    ):
        with tab:
            st.graphviz_chart(
                protocol_views.diagram(loaded, name, "dot", locale=locale), width="stretch"
            )
            states = {s: state.label.get(locale) for s, state in track.states.items()}
            st.caption(" · ".join(f"{code}: {label}" for code, label in states.items()))


def deadlines(loaded: LoadedProtocol, locale: str) -> None:
    st.markdown("**" + _("Deadlines") + "**")
    rows = protocol_views.deadline_rows(loaded, locale)
    bases = basis_labels()
    extension = _("+{by}, at most {times} times, granted by {approver}")
    frame = pd.DataFrame(
        {
            _("Track"): [r.track for r in rows],
            _("State"): [r.state for r in rows],
            _("Task"): [r.task or _("(the state's own deadline)") for r in rows],
            _("Role"): [r.role for r in rows],
            _("Within"): [duration(r.within) for r in rows],
            _("Basis"): [bases.get(r.basis, r.basis) for r in rows],
            _("Source"): [r.source for r in rows],
            _("Extension"): [
                extension.format(
                    by=duration(r.extension_by),
                    times=r.extension_max,
                    approver=r.extension_approver,
                )
                if r.extension_by is not None
                else ""
                for r in rows
            ],
        }
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="protocol_deadlines")
    legal = sum(1 for r in rows if r.basis == "legal")
    st.caption(
        _("{legal} of {total} deadlines are set by law.").format(
            legal=i18n.number(legal, locale), total=i18n.number(len(rows), locale)
        )
    )


def versions(loaded: LoadedProtocol, same_id: list[LoadedProtocol], locale: str) -> None:
    st.markdown("**" + _("Versions") + "**")
    statuses = status_labels()
    st.dataframe(
        pd.DataFrame(
            {
                _("Version"): [p.protocol.version for p in same_id],
                _("Status"): [statuses.get(p.protocol.status, p.protocol.status) for p in same_id],
                _("Content hash"): [p.content_hash[:12] for p in same_id],
                _("File"): [p.path.rsplit("/", 1)[-1] for p in same_id],
            }
        ),
        hide_index=True,
        width="stretch",
        key="protocol_versions",
    )
    pinned = protocol_views.pinned_versions(svc, loaded.id)
    if not pinned:
        st.caption(_("No case has been opened under this protocol yet."))
        return
    st.caption(_("Versions cases were opened under (each case keeps its version):"))
    zone = loaded.protocol.timezone
    st.dataframe(
        pd.DataFrame(
            {
                _("Version"): [p.version for p in pinned],
                _("Content hash"): [p.content_hash[:12] for p in pinned],
                _("First pinned"): [deps.when(p.stored_at, zone) for p in pinned],
                _("Cases"): [i18n.number(p.cases, locale) for p in pinned],
            }
        ),
        hide_index=True,
        width="stretch",
        key="protocol_pinned",
    )


actor = deps.actor()
st.title(_("Protocols"))
svc = deps.services()
locale = deps.locale()
registry = protocol_views.registry(svc)
for broken in registry.broken:  # a file that fails validation is not offered to cases
    st.warning(_("A protocol file could not be loaded: {error}").format(error=str(broken)))
if not registry.loaded:
    st.info(_("No protocol files are installed."))
    st.stop()

by_id = protocol_views.known_versions(svc)
names = {pid: f"{pid} · {same[-1].protocol.title.get(locale)}" for pid, same in by_id.items()}
left, right = st.columns([3, 1])
chosen_id = left.selectbox(
    _("Protocol"), list(names), format_func=names.__getitem__, key="protocol_id"
)
same_id = by_id[chosen_id]
labels = {
    p.content_hash: f"{p.protocol.version} ({status_labels().get(p.protocol.status, '')})"
    for p in same_id
}
published = [p for p in same_id if p.protocol.status == "published"]
default = (published or same_id)[-1]
chosen_hash = right.selectbox(
    _("Version"),
    list(labels),
    index=list(labels).index(default.content_hash),
    format_func=labels.__getitem__,
    key=f"protocol_version_{chosen_id}",
)
loaded = next(p for p in same_id if p.content_hash == chosen_hash)

header(loaded, locale)
diagrams(loaded, locale)
deadlines(loaded, locale)
versions(loaded, same_id, locale)

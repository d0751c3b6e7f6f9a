"""Institutions (admin): the directory, its routing gaps, HSDS import and export."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from institutions.domain import Institution
from institutions.errors import DirectoryError
from institutions.hsds import HsdsImport, read_hsds
from ui import deps, i18n
from ui.deps import _
from workflows.domain.errors import ReferralEngineError
from workflows.queries import directory
from workflows.services import admin

SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}\.(csv|json)$")


def directory_table(rows: list[Institution]) -> None:
    frame = pd.DataFrame(
        {
            _("Id"): [i.id for i in rows],
            _("Name"): [i.name for i in rows],
            _("Jurisdiction"): [i.jurisdiction for i in rows],
            _("Roles"): [", ".join(i.roles) for i in rows],
            _("Active"): [i.active for i in rows],
            _("Emails"): [len(i.emails) for i in rows],
        }
    )
    st.dataframe(frame, hide_index=True, width="stretch", key="directory_table")
    active = sum(1 for i in rows if i.active)
    st.caption(
        _("{count} institutions, {active} active").format(
            count=i18n.number(len(rows), locale), active=i18n.number(active, locale)
        )
    )


def routing_gaps() -> None:
    st.subheader(_("Routing gaps"))
    st.caption(
        _("Tasks sent to the coordinator because no active institution fills the role there.")
    )
    try:
        gaps = directory.gaps_for_admin(svc, actor)
    except ReferralEngineError as exc:
        st.error(str(exc))
        return
    if not gaps:
        st.caption(_("No routing gaps."))
        return
    st.dataframe(
        pd.DataFrame(
            {
                _("Country"): [g[0] for g in gaps],
                _("Role"): [g[1] for g in gaps],
                _("Tasks"): [g[2] for g in gaps],
            }
        ),
        hide_index=True,
        key="routing_gaps",
    )


def read_upload(files: list[UploadedFile]) -> HsdsImport | None:
    """Write the uploaded files into a fresh folder and read it as HSDS."""
    with tempfile.TemporaryDirectory(prefix="ruta-hsds-") as folder:
        for f in files:
            name = Path(f.name).name
            if not SAFE_NAME.match(name):
                rule = _("{name}: use letters, digits, '.', '_' or '-', and .csv or .json.")
                st.error(rule.format(name=name))
                return None
            (Path(folder) / name).write_bytes(f.getvalue())
        try:
            return read_hsds(Path(folder))
        except DirectoryError as exc:
            st.error(str(exc).replace(folder, _("the upload")))
            return None


def hsds_import(known: set[str]) -> None:
    st.subheader(_("Import from HSDS"))
    st.caption(
        _(
            "Open Referral HSDS 3.0: the CSV tables (organizations.csv and the tables linked to "
            "it) or JSON files. Bad rows are reported and skipped; the rest can be imported."
        )
    )
    files = st.file_uploader(
        _("HSDS files"), type=["csv", "json"], accept_multiple_files=True, key="hsds_files"
    )
    if not files:
        return
    found = read_upload(list(files))
    if found is None:
        return
    if found.problems:
        st.warning(
            _("{count} problems: these rows or links were skipped.").format(
                count=i18n.number(len(found.problems), locale)
            )
        )
        st.dataframe(
            pd.DataFrame(
                {
                    _("File"): [p.file for p in found.problems],
                    _("Row"): [p.row for p in found.problems],
                    _("Problem"): [p.message for p in found.problems],
                }
            ),
            hide_index=True,
            width="stretch",
            key="hsds_problems",
        )
    if not found.institutions:
        st.info(_("No institution can be imported from these files."))
        return
    new, update = _("new"), _("replaces the directory's")
    st.dataframe(
        pd.DataFrame(
            {
                _("Id"): [i.id for i in found.institutions],
                _("Name"): [i.name for i in found.institutions],
                _("Jurisdiction"): [i.jurisdiction for i in found.institutions],
                _("Roles"): [", ".join(i.roles) for i in found.institutions],
                _("Import"): [update if i.id in known else new for i in found.institutions],
            }
        ),
        hide_index=True,
        width="stretch",
        key="hsds_preview",
    )
    if found.without_roles:
        st.info(
            _(
                "{count} of them fill no protocol role: they get no tasks until roles are added."
            ).format(count=i18n.number(found.without_roles, locale))
        )
    label = _("Import {count} institutions").format(
        count=i18n.number(len(found.institutions), locale)
    )
    if st.button(label, key="hsds_import", type="primary"):
        try:
            count = admin.import_institutions(svc, actor, found.institutions)
        except (ReferralEngineError, DirectoryError) as exc:
            st.error(str(exc))
            return
        st.success(_("Imported {count} institutions.").format(count=i18n.number(count, locale)))


def hsds_export(rows: list[Institution]) -> None:
    st.subheader(_("Export as HSDS"))
    if not rows:
        st.caption(_("Nothing to export."))
        return
    st.download_button(
        _("Download these {count} institutions (HSDS CSV, zip)").format(
            count=i18n.number(len(rows), locale)
        ),
        directory.hsds_zip(rows),
        file_name="ruta-directory-hsds.zip",
        mime="application/zip",
        key="hsds_export",
    )


actor = deps.actor()
st.title(_("Institutions"))
svc = deps.services()
locale = deps.locale()
try:
    everything = directory.directory_rows(svc, actor)
except ReferralEngineError as exc:
    st.error(str(exc))
    st.stop()

countries = {"": _("All countries")} | {c: c for c in sorted({i.country for i in everything})}
roles = {"": _("All roles")} | {r: r for r in sorted({r for i in everything for r in i.roles})}
left, right = st.columns(2)
country = left.selectbox(
    _("Country"), list(countries), format_func=countries.__getitem__, key="directory_country"
)
role = right.selectbox(_("Role"), list(roles), format_func=roles.__getitem__, key="directory_role")
shown = [
    i for i in everything if (not country or i.country == country) and (not role or role in i.roles)
]
directory_table(shown)
routing_gaps()
hsds_import({i.id for i in everything})
hsds_export(shown)

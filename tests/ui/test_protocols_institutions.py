"""The Protocols page (every role) and the Institutions page (the admin's directory, HSDS)."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from institutions.domain import Institution
from institutions.hsds import write_hsds
from institutions.store import SqlDirectory
from tests.ui.conftest import APP, PERSONAS
from workflows.domain.access import Actor
from workflows.domain.errors import NotAuthorised
from workflows.queries import directory
from workflows.queries import protocols as protocol_views
from workflows.services import admin, cases

SYSTEM = Actor.system("test")
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "hsds-3" / "examples-csv"
PROTOCOLS = "pages/protocols.py"
INSTITUTIONS = "pages/institutions.py"


def _protocols(console, persona: str = "off.ipiales", locale: str = "en"):
    return console(persona, locale=locale).run().switch_page(PROTOCOLS).run()


@pytest.mark.parametrize("protocol_id", ["CO-TRATA", "EC-TRATA", "PE-TRATA"])
def test_each_protocol_shows_its_tracks_deadlines_and_sources(console, console_svc, protocol_id):
    at = _protocols(console)
    at.selectbox(key="protocol_id").select(protocol_id).run()
    assert not at.exception
    loaded = console_svc.catalog.latest_published(protocol_id)
    assert at.subheader[0].value == loaded.protocol.title.en
    assert [t.label for t in at.tabs] == [t.label.en for t in loaded.protocol.tracks.values()]
    charts = at.get("graphviz_chart")
    assert len(charts) == len(loaded.protocol.tracks)
    assert all(chart.proto.spec.startswith("digraph") for chart in charts)
    assert loaded.protocol.legal_basis[0].ref in at.markdown[1].value
    table = _table(at, "Source")
    assert len(table) == len(protocol_views.deadline_rows(loaded, "en"))
    assert table["Source"].str.len().min() > 0  # every deadline says where it comes from
    assert set(table["Basis"]) <= {"Legal", "Protocol", "Proposed by Ruta"}


def test_the_deadlines_table_gives_extensions_and_state_deadlines(console):
    at = _protocols(console)
    at.selectbox(key="protocol_id").select("CO-TRATA").run()
    table = _table(at, "Source")
    immediate = table[table["Source"].str.contains("1069", regex=False) & (table["Within"] != "")]
    assert not immediate.empty
    extended = table[table["Extension"] != ""]
    assert not extended.empty
    assert extended["Extension"].iloc[0].startswith("+")
    lodging = table[table["Task"] == "Provide safe and decent lodging"].iloc[0]
    assert (lodging["Within"], lodging["Basis"]) == ("12 hours", "Proposed by Ruta")


def test_every_role_sees_the_protocols_in_its_language(console, console_svc):
    care = console_svc.catalog.latest_published("CO-TRATA").protocol.tracks["care"].label
    for persona in PERSONAS:
        at = _protocols(console, persona, locale="es")
        at.selectbox(key="protocol_id").select("CO-TRATA").run()
        assert not at.exception, persona
        assert at.tabs[0].label == care.es, persona
        assert len(at.get("graphviz_chart")) == len(at.tabs), persona


def test_versions_list_the_registry_and_the_pinned_cases(console, console_svc):
    loaded = console_svc.catalog.latest_published("CO-TRATA")
    for _ in range(2):
        cases.open_case(
            console_svc,
            loaded,
            {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
            SYSTEM,
        )
    at = _protocols(console, "fp.co")
    at.selectbox(key="protocol_id").select("CO-TRATA").run()
    registry = _table(at, "File")
    assert list(registry["Version"]) == [loaded.protocol.version]
    assert list(registry["Status"]) == ["Published"]
    pinned = _table(at, "Cases")
    assert list(pinned["Version"]) == [loaded.protocol.version]
    assert list(pinned["Cases"]) == ["2"]
    at.selectbox(key="protocol_id").select("PE-TRATA").run()
    assert "No case has been opened" in " ".join(c.value for c in at.caption)


# --- institutions ----------------------------------------------------------------------------


def _institutions(console):
    return console("admin").run()  # the admin lands on Institutions


def test_the_admin_sees_the_directory_and_filters_it(console):
    at = _institutions(console)
    assert not at.exception
    table = _table(at, "Emails")
    assert "co-alcaldia-ipiales" in set(table["Id"])
    assert list(table.columns) == ["Id", "Name", "Jurisdiction", "Roles", "Active", "Emails"]
    at.selectbox(key="directory_country").select("PE").run()
    peru = _table(at, "Emails")
    assert set(peru["Id"].str[:3]) == {"pe-"}
    at.selectbox(key="directory_country").select("CO").run()
    at.selectbox(key="directory_role").select("entidad_territorial").run()
    ids = set(_table(at, "Emails")["Id"])
    assert {"co-alcaldia-ipiales", "co-gobernacion-narino"} <= ids
    assert "co-icbf-ipiales" not in ids


def test_routing_gaps_are_counted_for_the_admin(console, console_svc):
    at = _institutions(console)
    assert "No routing gaps." in [c.value for c in at.caption]
    with console_svc.uow() as uow:  # nobody in Colombia reviews migration status any more
        store = SqlDirectory(uow.connection)
        migracion = [i for i in store.institutions("CO") if "migracion" in i.roles]
        store.upsert([replace(i, active=False) for i in migracion])
        uow.commit()
    cases.open_case(
        console_svc,
        console_svc.catalog.latest_published("CO-TRATA"),
        {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"},
        SYSTEM,
    )
    at.run()
    gaps = _table(at, "Tasks")
    assert gaps.to_dict("records") == [{"Country": "CO", "Role": "migracion", "Tasks": 1}]


def test_an_hsds_upload_reports_its_problems_and_imports_on_confirmation(console, console_svc):
    at = _institutions(console)
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(EXAMPLES.glob("*.csv"))]
    at.file_uploader(key="hsds_files").set_value(files).run()
    assert not at.exception
    problems = _table(at, "Problem")
    assert list(problems.columns) == ["File", "Row", "Problem"]
    assert "contacts.csv" in set(problems["File"])
    assert "points to no row" in problems["Problem"].iloc[0]
    preview = _table(at, "Import")
    assert list(preview["Id"]) == ["us-example-organization-inc"]
    assert at.button(key="hsds_import").label == "Import 1 institutions"
    assert _directory_ids(console_svc).isdisjoint({"us-example-organization-inc"})
    at.button(key="hsds_import").click().run()
    assert not at.exception
    assert at.success[0].value == "Imported 1 institutions."
    assert "us-example-organization-inc" in _directory_ids(console_svc)


def test_a_round_trip_through_the_export_imports_the_same_institutions(
    console, console_svc, tmp_path
):
    at = _institutions(console)
    at.selectbox(key="directory_country").select("EC").run()
    button = at.get("download_button")[0]
    ecuador = directory.directory_rows(console_svc, Actor.of(PERSONAS["admin"]), "EC")
    assert button.label == f"Download these {len(ecuador)} institutions (HSDS CSV, zip)"
    archive = zipfile.ZipFile(io.BytesIO(directory.hsds_zip(ecuador)))
    assert "organizations.csv" in archive.namelist()
    renamed = Institution(
        "ec-test-shelter",
        "EC",
        "EC-C",
        "Casa de acogida de prueba",
        ("sdh",),
        ("a@ec.example.org",),
    )
    write_hsds([renamed], tmp_path, "csv")
    files = [(p.name, p.read_bytes(), "text/csv") for p in sorted(tmp_path.glob("*.csv"))]
    at.file_uploader(key="hsds_files").set_value(files).run()
    assert _table(at, "Problem") is None
    assert list(_table(at, "Import")["Import"]) == ["new"]
    at.button(key="hsds_import").click().run()
    assert "ec-test-shelter" in _directory_ids(console_svc)


def test_a_file_that_is_not_hsds_is_refused_plainly(console):
    at = _institutions(console)
    at.file_uploader(key="hsds_files").set_value(("notes.csv", b"a,b\n1,2\n", "text/csv")).run()
    assert not at.exception
    assert "no HSDS data" in at.error[0].value
    assert "ruta-hsds-" not in at.error[0].value  # no server paths in messages
    assert not [b for b in at.button if b.key == "hsds_import"]


@pytest.mark.parametrize("persona", ["fp.co", "off.ipiales", "mgr.co"])
def test_only_an_admin_reads_or_changes_the_directory(console_svc, persona):
    actor = Actor.of(PERSONAS[persona])
    with pytest.raises(NotAuthorised, match="only administrators"):
        directory.directory_rows(console_svc, actor)
    with pytest.raises(NotAuthorised, match="only administrators"):
        admin.import_institutions(console_svc, actor, [])
    with pytest.raises(NotAuthorised, match="only administrators"):
        directory.gaps_for_admin(console_svc, actor)


def test_a_non_admin_opening_the_page_is_refused(console_svc):
    at = AppTest.from_file(str(Path(APP).parent / INSTITUTIONS), default_timeout=30)
    at.session_state["services"] = console_svc
    at.session_state["user"] = PERSONAS["off.ipiales"]
    at.session_state["last_seen"] = console_svc.clock.now()
    at.run()
    assert not at.exception
    assert "only administrators" in at.error[0].value
    assert not at.dataframe


def _directory_ids(svc) -> set[str]:
    return {i.id for i in directory.directory_rows(svc, Actor.system("test"))}


def _table(at, column: str):
    """The first table of the page with that column (st.dataframe keys are not exposed)."""
    return next((d.value for d in at.dataframe if column in d.value.columns), None)

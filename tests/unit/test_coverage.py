"""Deadline coverage lists every deadline with its basis and source, and counts them by basis."""

from __future__ import annotations

import pytest

from protocols.coverage import (
    CoverageRow,
    CoverageSummary,
    coverage_rows,
    coverage_summary,
    parse_bases,
    render_rows,
    render_summary,
    select,
)
from protocols.loader import LoadedProtocol, from_text, load_file
from protocols.registry import COUNTRIES_DIR
from protocols.schema import Basis

FILES = sorted(COUNTRIES_DIR.glob("*.yaml"))

SMALL = """
id: XX-TEST
country: CO
programme: trafficking
version: "3"
status: published
timezone: America/Bogota
calendar: CO
title: {es: "Prueba", pt: "Teste", en: "Test"}
legal_basis: [{ref: "Synthetic"}]
coordinator: lead
case_lead: lead
roles:
  lead: {es: "Punto focal", pt: "Ponto focal", en: "Focal point"}
  committee: {es: "Comité", pt: "Comitê", en: "Committee"}
retention: {after_closure: "24 months", basis: proposed, source: "Proposed: keep two years"}
tracks:
  care:
    label: {es: "Atención", pt: "Atenção", en: "Care"}
    initial: reported
    states:
      reported:
        label: {es: "Reportado", pt: "Reportado", en: "Reported"}
        tasks:
          - id: register
            role: lead
            label: {es: "Registrar", pt: "Registrar", en: "Register"}
            due: {within: "24 hours", basis: protocol, source: "Protocol step 1"}
            on_complete: registered
      assisted:
        label: {es: "Asistido", pt: "Assistido", en: "Assisted"}
        deadline: {within: "5 calendar_days", basis: legal, source: "Decree 1, art. 2",
                   extension: {by: "5 calendar_days", max: 1, approver: committee}}
        tasks:
          - id: lodge
            role: lead
            label: {es: "Alojar", pt: "Alojar", en: "Lodge"}
            due:
              within: "12 hours"
              basis: proposed
              source: "Proposed by Ruta; a long source explaining why no deadline was found"
      closed:
        label: {es: "Cerrado", pt: "Encerrado", en: "Closed"}
        final: true
    transitions:
      - {trigger: registered, from: reported, to: assisted}
      - {trigger: close_case, from: assisted, to: closed}
    triggers:
      registered: {es: "Registrado", pt: "Registrado", en: "Registered"}
      close_case: {es: "Cerrar", pt: "Encerrar", en: "Close"}
"""


@pytest.fixture(scope="module")
def small() -> LoadedProtocol:
    return from_text("small.yaml", SMALL)


@pytest.fixture(scope="module")
def shipped() -> list[LoadedProtocol]:
    return [load_file(f) for f in FILES]


# --- a small inline protocol: exact rows -------------------------------------------------


def test_each_kind_of_deadline_is_one_row_with_its_basis_and_source(small):
    assert coverage_rows([small]) == [
        CoverageRow(
            "XX-TEST",
            "3",
            "task",
            "care",
            "reported",
            "register",
            "24 hours",
            Basis.protocol,
            "Protocol step 1",
        ),
        CoverageRow(
            "XX-TEST",
            "3",
            "state",
            "care",
            "assisted",
            "",
            "5 calendar_days",
            Basis.legal,
            "Decree 1, art. 2",
        ),
        CoverageRow(
            "XX-TEST",
            "3",
            "extension",
            "care",
            "assisted",
            "",
            "+5 calendar_days x1 (committee)",
            Basis.legal,
            "Decree 1, art. 2",
        ),
        CoverageRow(
            "XX-TEST",
            "3",
            "task",
            "care",
            "assisted",
            "lodge",
            "12 hours",
            Basis.proposed,
            "Proposed by Ruta; a long source explaining why no deadline was found",
        ),
        CoverageRow(
            "XX-TEST",
            "3",
            "retention",
            "",
            "",
            "",
            "24 months",
            Basis.proposed,
            "Proposed: keep two years",
        ),
    ]
    assert [r.where for r in coverage_rows([small])] == [
        "care.reported.register",
        "care.assisted",
        "care.assisted",
        "care.assisted.lodge",
        "retention",
    ]


def test_the_summary_counts_rows_by_basis(small):
    (summary,) = coverage_summary([small])
    assert summary == CoverageSummary("XX-TEST", "3", 2, 1, 2, "24 months")
    assert summary.total == len(coverage_rows([small]))


def test_a_protocol_without_retention_says_none_in_the_summary(small):
    without = from_text("no-retention.yaml", SMALL.replace("retention:", "# retention:"))
    (summary,) = coverage_summary([without])
    assert summary.retention == ""
    assert summary.total == 4
    assert "none" in render_summary([summary]).splitlines()[1].split()


def test_the_table_has_a_header_aligned_columns_and_clipped_sources(small):
    text = render_rows(coverage_rows([small]), source_width=30)
    lines = text.splitlines()
    assert lines[0].split() == [
        "PROTOCOL",
        "VERSION",
        "KIND",
        "WHERE",
        "DURATION",
        "BASIS",
        "SOURCE",
    ]
    assert len(lines) == 1 + 5
    # every column starts at the same offset on every line
    basis_at = lines[0].index("BASIS")
    assert [line[basis_at:].split()[0] for line in lines[1:]] == [
        "protocol",
        "legal",
        "legal",
        "proposed",
        "proposed",
    ]
    assert lines[4].endswith("...")
    assert len(lines[4][lines[0].index("SOURCE") :]) == 30
    assert all(line == line.rstrip() for line in lines)
    assert "+5 calendar_days x1 (committee)" in lines[3]
    # no width: the whole source
    assert "explaining why no deadline was found" in render_rows(coverage_rows([small]), None)


def test_the_summary_table_has_one_line_per_protocol(small):
    lines = render_summary(coverage_summary([small])).splitlines()
    assert lines[0].split() == [
        "PROTOCOL",
        "VERSION",
        "LEGAL",
        "PROTOCOL",
        "PROPOSED",
        "TOTAL",
        "RETENTION",
    ]
    assert lines[1].split() == ["XX-TEST", "3", "2", "1", "2", "5", "24", "months"]


def test_rows_can_be_selected_by_protocol_basis_and_kind(small, shipped):
    rows = coverage_rows([small, *shipped])
    assert {r.protocol_id for r in select(rows, ["XX-TEST"])} == {"XX-TEST"}
    legal = select(rows, ["XX-TEST"], [Basis.legal])
    assert [r.kind for r in legal] == ["state", "extension"]
    assert [r.where for r in select(rows, ["XX-TEST"], kinds=["retention"])] == ["retention"]
    assert select(rows) == rows


def test_bad_filters_name_what_is_allowed():
    assert parse_bases(["Legal", " proposed"]) == {Basis.legal, Basis.proposed}
    with pytest.raises(ValueError, match="unknown basis 'law'; allowed: legal, protocol, proposed"):
        parse_bases(["law"])
    with pytest.raises(ValueError, match="unknown kind 'due'; allowed: task, state, extension"):
        select([], kinds=["due"])


# --- the shipped protocols --------------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_every_deadline_of_a_shipped_protocol_is_covered(path):
    loaded = load_file(path)
    p = loaded.protocol
    deadlines = [
        d
        for track in p.tracks.values()
        for state in track.states.values()
        for d in [*(t.due for t in state.tasks), *([state.deadline] if state.deadline else [])]
    ]
    expected = len(deadlines) + sum(1 for d in deadlines if d.extension) + (1 if p.retention else 0)
    rows = coverage_rows([loaded])
    assert len(rows) == expected
    assert {r.protocol_id for r in rows} == {p.id}
    assert all(r.source.strip() and r.duration for r in rows)
    (summary,) = coverage_summary([loaded])
    assert summary.total == len(rows)
    assert summary.legal == sum(1 for r in rows if r.basis is Basis.legal)


def test_colombia_immediate_assistance_is_legal_and_extendable(shipped):
    co = [p for p in shipped if p.id == "CO-TRATA"]
    rows = select(coverage_rows(co), bases=[Basis.legal])
    immediate = [r for r in rows if r.where == "care.immediate_assistance"]
    assert [(r.kind, r.duration) for r in immediate] == [
        ("state", "5 calendar_days"),
        ("extension", "+5 calendar_days x1 (comite_territorial)"),
    ]
    assert all("1069" in r.source for r in immediate)


def test_brazil_and_paraguay_rest_on_proposals_with_a_retention_period(shipped):
    for summary in coverage_summary(p for p in shipped if p.id in ("BR-TRATA", "PY-TRATA")):
        assert (summary.legal, summary.protocol) == (0, 0), summary
        assert summary.proposed > 0
        assert summary.retention == "60 months"


def test_the_coverage_command_lists_every_protocol_and_refuses_what_it_does_not_know():
    from typer.testing import CliRunner

    from protocols.registry import Registry
    from ruta.cli import app

    runner = CliRunner()
    summary = runner.invoke(app, ["protocols", "coverage", "--summary"])
    assert summary.exit_code == 0, summary.output
    for protocol_id in Registry.scan().ids():
        assert protocol_id in summary.output
    legal = runner.invoke(app, ["protocols", "coverage", "CO-TRATA", "--basis", "legal"])
    assert legal.exit_code == 0, legal.output
    assert "proposed" not in legal.output
    assert " legal " in legal.output
    unknown = runner.invoke(app, ["protocols", "coverage", "XX-TRATA"])
    assert unknown.exit_code == 2
    assert "Unknown protocol 'XX-TRATA'; protocols: AR-TRATA" in unknown.output
    wrong = runner.invoke(app, ["protocols", "coverage", "--basis", "guessed"])
    assert wrong.exit_code == 2
    assert "allowed: legal, protocol, proposed" in wrong.output

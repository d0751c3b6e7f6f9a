"""Role -> institution routing over an in-memory directory, and the real seed files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from institutions.directory import InMemoryDirectory, reroute
from institutions.domain import Institution, Route, jurisdiction_chain, level
from institutions.errors import NoCoordinator
from institutions.seeds import load_seed, load_seeds
from protocols.errors import ProtocolFileError
from protocols.registry import Registry

IPIALES = "CO-NAR-52356"
PASTO = "CO-NAR-52001"


def inst(
    id_: str, jurisdiction: str, roles: tuple[str, ...] = ("shelter",), active: bool = True
) -> Institution:
    return Institution(id_, jurisdiction[:2], jurisdiction, id_, roles, active=active)


COORDINATION = inst("co-coordination", "CO", ("coordinator",))
NATIONAL = inst("co-shelter", "CO")
NARINO = inst("co-shelter-narino", "CO-NAR")
IPIALES_SHELTER = inst("co-shelter-ipiales", IPIALES)


def directory(*extra: Institution) -> InMemoryDirectory:
    return InMemoryDirectory([COORDINATION, NATIONAL, NARINO, IPIALES_SHELTER, *extra])


def to(
    d: InMemoryDirectory, jurisdiction: str, role: str = "shelter", exclude: list[str] | None = None
) -> Route | None:
    return reroute(d, "CO", role, jurisdiction, "coordinator", exclude or ())


# --- jurisdictions -------------------------------------------------------------------


def test_a_jurisdiction_chain_runs_from_the_municipality_to_the_country():
    assert jurisdiction_chain(IPIALES) == [IPIALES, "CO-NAR", "CO"]
    assert jurisdiction_chain("PE-PUN") == ["PE-PUN", "PE"]
    assert jurisdiction_chain("EC") == ["EC"]
    assert [level(j) for j in jurisdiction_chain(IPIALES)] == [
        "municipal",
        "subdivision",
        "national",
    ]


# --- most specific active institution ----------------------------------------------------


def test_the_most_specific_institution_wins_municipal_then_subdivision_then_national():
    d = directory()
    assert to(d, IPIALES) == Route("co-shelter-ipiales")
    assert to(d, "CO-NAR") == Route("co-shelter-narino")
    assert to(d, "CO") == Route("co-shelter")
    assert [i.id for i in d.candidates("CO", "shelter", IPIALES)] == [
        "co-shelter-ipiales",
        "co-shelter-narino",
        "co-shelter",
    ]


def test_an_inactive_institution_is_skipped_for_the_next_one_up_the_chain():
    closed = inst("co-shelter-ipiales", IPIALES, active=False)
    d = InMemoryDirectory([COORDINATION, NATIONAL, NARINO, closed])
    assert to(d, IPIALES) == Route("co-shelter-narino")
    closed_narino = inst("co-shelter-narino", "CO-NAR", active=False)
    d = InMemoryDirectory([COORDINATION, NATIONAL, closed_narino, closed])
    assert to(d, IPIALES) == Route("co-shelter")


def test_siblings_never_match_another_municipality_or_department():
    pasto = inst("co-shelter-pasto", PASTO)
    putumayo = inst("co-shelter-putumayo", "CO-PUT")
    d = InMemoryDirectory([COORDINATION, NATIONAL, pasto, putumayo])
    assert to(d, IPIALES) == Route("co-shelter")  # not Pasto, though it is also in Narino
    assert to(d, "CO-NAR") == Route("co-shelter")  # a municipality does not serve its department
    assert to(d, "CO-PUT-86001") == Route("co-shelter-putumayo")
    assert [i.id for i in d.candidates("CO", "shelter", IPIALES)] == ["co-shelter"]


def test_an_institution_of_another_country_or_role_never_matches():
    ecuador = Institution("ec-shelter", "EC", "EC", "ec-shelter", ("shelter",))
    police = inst("co-police-ipiales", IPIALES, ("police",))
    d = InMemoryDirectory([COORDINATION, ecuador, police])
    assert d.candidates("CO", "shelter", IPIALES) == []
    assert to(d, IPIALES) == Route("co-coordination", gap=True)


def test_excluded_candidates_move_routing_to_the_next_and_none_when_all_are_tried():
    d = directory()
    assert to(d, IPIALES, exclude=["co-shelter-ipiales"]) == Route("co-shelter-narino")
    tried = ["co-shelter-ipiales", "co-shelter-narino"]
    assert to(d, IPIALES, exclude=tried) == Route("co-shelter")
    assert to(d, IPIALES, exclude=[*tried, "co-shelter"]) is None


# --- gaps and the coordinator -------------------------------------------------------


def test_a_role_nobody_fills_goes_to_the_coordinator_as_a_routing_gap():
    d = directory()
    assert to(d, IPIALES, role="child_authority") == Route("co-coordination", gap=True)
    # an exclusion list does not turn a gap into "everyone was tried"
    found = to(d, IPIALES, role="child_authority", exclude=["co-coordination"])
    assert found == Route("co-coordination", gap=True)


def test_the_most_specific_coordinator_takes_the_gap():
    narino_coordination = inst("co-coordination-narino", "CO-NAR", ("coordinator",))
    d = directory(narino_coordination)
    assert to(d, IPIALES, role="child_authority") == Route("co-coordination-narino", gap=True)
    assert to(d, "CO-ANT", role="child_authority") == Route("co-coordination", gap=True)


def test_without_a_coordinator_routing_a_gap_names_the_country_and_the_role():
    d = InMemoryDirectory([NATIONAL, inst("co-coordination", "CO", ("coordinator",), False)])
    assert to(d, IPIALES) == Route("co-shelter")  # no gap, no coordinator needed
    with pytest.raises(NoCoordinator) as info:
        to(d, IPIALES, role="child_authority")
    message = str(info.value)
    assert "No active institution in CO" in message
    assert "'coordinator'" in message


# --- the seed files ------------------------------------------------------------------


def test_the_real_seeds_load_with_unique_ids_and_valid_records():
    seeds = load_seeds()
    ids = [i.id for i in seeds]
    assert len(ids) == len(set(ids))
    assert {i.country for i in seeds} == {"AR", "BO", "BR", "CO", "EC", "PE", "PY"}
    assert all(i.problems() == [] for i in seeds)
    for i in seeds:  # placeholder contacts only
        assert all(e.endswith("example.org") for e in i.emails), (i.id, i.emails)


def test_every_role_of_every_country_protocol_has_a_national_institution():
    registry = Registry.scan()
    assert registry.broken == []
    assert registry.loaded
    d = InMemoryDirectory(load_seeds())
    missing = []
    for loaded in registry.loaded:
        p = loaded.protocol
        for role in p.roles:
            if not d.candidates(p.country, role, p.country):
                missing.append(f"{loaded.id}: {role}")
        assert d.candidates(p.country, p.coordinator, p.country), loaded.id
    assert missing == [], "roles with no national institution (unintended routing gaps)"


def test_the_pilot_border_areas_have_territorial_bodies():
    seeds = load_seeds()
    covered = {j for i in seeds for j in jurisdiction_chain(i.jurisdiction)}
    # Narino, Carchi, Puno, Tumbes, El Oro, Parana (Foz do Iguacu), Alto Parana (Ciudad del
    # Este), La Paz (Desaguadero), Tarija (Bermejo), Misiones (Puerto Iguazu), Salta (Oran)
    pilot = {"CO-NAR", "EC-C", "PE-PUN", "PE-TUM", "EC-O", "BR-PR", "PY-10"}
    assert pilot | {"BO-L", "BO-T", "AR-N", "AR-A"} <= covered


BROKEN_SEED = """\
country: CO
institutions:
  - id: co-good
    name: "A good one"
    jurisdiction: CO-NAR
    roles: [shelter]
  - id: co-bad-jurisdiction
    name: "Wrong place"
    jurisdiction: PE-LIM
    roles: [shelter]
  - id: co-unknown-field
    name: "Typo"
    jurisdiction: CO
    roels: [shelter]
  - id: co-good
    name: "Same id again"
    jurisdiction: CO
    roles: [shelter]
"""


def test_a_broken_seed_file_reports_each_problem_with_its_file_and_line(tmp_path: Path):
    path = tmp_path / "co.yaml"
    path.write_text(BROKEN_SEED, encoding="utf-8")
    with pytest.raises(ProtocolFileError) as info:
        load_seed(path)
    problems = info.value.problems
    assert len(problems) == 3, problems
    message = str(info.value)
    lines = {p.line for p in problems}
    assert lines == {7, 11, 15}, problems
    for line in lines:
        assert f"{path}:{line}:" in message
    assert re.search(r"jurisdiction 'PE-LIM' is not in country CO", message)
    assert "unknown field(s) roels" in message
    assert "duplicate institution id 'co-good'" in message
    with pytest.raises(ProtocolFileError):  # load_seeds stops on a broken file too
        load_seeds(tmp_path)


def test_a_seed_file_without_institutions_says_what_it_needs(tmp_path: Path):
    path = tmp_path / "pe.yaml"
    path.write_text("country: PE\n", encoding="utf-8")
    with pytest.raises(ProtocolFileError, match="a seed file needs `institutions:`"):
        load_seed(path)

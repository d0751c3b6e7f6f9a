"""Each rule of DESIGN.md section 3 rejects a broken file, naming path, line and the allowed."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from protocols.errors import ProtocolFileError
from protocols.loader import from_text
from ruta.cli import app

FIXTURE = Path(__file__).parents[1] / "fixtures" / "test-protocol.yaml"
BASE: dict[str, Any] = yaml.safe_load(FIXTURE.read_text())

Mutation = Callable[[dict[str, Any]], None]


def care(d: dict[str, Any]) -> Any:
    return d["tracks"]["care"]


def _unknown_target(d):
    care(d)["transitions"][0]["to"] = "identificaton"


def _unknown_source(d):
    care(d)["transitions"][0]["from"] = "reportd"


def _unreachable(d):
    care(d)["states"]["limbo"] = {
        "label": {"es": "Limbo", "pt": "Limbo", "en": "Limbo"},
        "deadline": {"within": "1 hours", "basis": "proposed", "source": "x"},
    }
    care(d)["transitions"].append({"trigger": "close_case", "from": "limbo", "to": "closed"})


def _dead_end(d):
    care(d)["transitions"][-1]["from"] = ["review"]  # nothing leaves `integration` any more


def _unknown_role(d):
    care(d)["states"]["reported"]["tasks"][0]["role"] = "coat"


def _unknown_guard(d):
    care(d)["transitions"][1]["when"] = [{"complaint_filed": True}]


def _malformed_duration(d):
    care(d)["states"]["immediate"]["deadline"]["within"] = "5 days"


def _duplicate_task_id(d):
    care(d)["states"]["identified"]["tasks"][0]["id"] = "characterise"


def _missing_translation(d):
    del care(d)["states"]["reported"]["label"]["pt"]


def _justice_guard_on_assistance(d):
    care(d)["transitions"][1]["when"] = [{"track": "justice", "in": ["complaint_filed"]}]


def _justice_guard_inside_any_of(d):
    care(d)["transitions"][3]["when"] = [
        {"any_of": [{"minor": True}, {"track": "justice", "in": ["complaint_filed"]}]}
    ]


def _unknown_key(d):
    care(d)["states"]["reported"]["tasks"][0]["deadline"] = "1 hours"


def _unknown_trigger_on_complete(d):
    care(d)["states"]["reported"]["tasks"][0]["on_complete"] = "characterized"


def _unlabelled_trigger(d):
    del care(d)["triggers"]["close_case"]


def _unknown_task_in_guard(d):
    care(d)["transitions"][1]["when"] = [{"task_completed": "no_such_task"}]


def _unknown_approval(d):
    care(d)["transitions"][3]["when"] = [{"approval": "mediate_plan"}]


def _unknown_attribute(d):
    care(d)["transitions"][1]["when"] = [{"attribute": "gender", "equals": "f"}]


def _bad_consent_purpose(d):
    care(d)["transitions"][1]["when"] = [{"consent": "everything"}]


def _unknown_timezone(d):
    d["timezone"] = "America/Bogotá"


def _no_source(d):
    del care(d)["states"]["immediate"]["deadline"]["source"]


def _bad_basis(d):
    care(d)["states"]["immediate"]["deadline"]["basis"] = "custom"


def _final_with_tasks(d):
    care(d)["states"]["closed"]["tasks"] = copy.deepcopy(care(d)["states"]["identified"]["tasks"])
    care(d)["states"]["closed"]["tasks"][0]["id"] = "ghost"


def _unknown_track_in_opens_when(d):
    d["tracks"]["shelter"]["opens_when"] = [{"track": "cuidado", "in": ["immediate"]}]


CASES: list[tuple[str, Mutation, str, str]] = [
    # (rule, mutation, path in the message, words in the message)
    (
        "unknown target state",
        _unknown_target,
        "tracks.care.transitions[0].to",
        "unknown target state 'identificaton'",
    ),
    (
        "unknown source state",
        _unknown_source,
        "tracks.care.transitions[0].from",
        "unknown source state 'reportd'",
    ),
    ("unreachable state", _unreachable, "tracks.care.states.limbo", "unreachable"),
    ("non-final state with no way out", _dead_end, "tracks.care.states.integration", "no way out"),
    (
        "unknown role",
        _unknown_role,
        "tracks.care.states.reported.tasks[0].role",
        "unknown role 'coat'; declared roles: ",
    ),
    ("unknown guard name", _unknown_guard, "tracks.care.transitions[1].when[0]", "unknown guard"),
    (
        "malformed duration",
        _malformed_duration,
        "tracks.care.states.immediate.deadline.within",
        "malformed duration '5 days'",
    ),
    (
        "duplicate task id",
        _duplicate_task_id,
        "tracks.care.states.identified.tasks[0].id",
        "duplicate task id 'characterise'",
    ),
    (
        "missing translation",
        _missing_translation,
        "tracks.care.states.reported.label.pt",
        "missing translation 'pt'",
    ),
    (
        "justice guard on an assistance track",
        _justice_guard_on_assistance,
        "tracks.care.transitions[1].when[0]",
        "cannot depend on the 'justice' track",
    ),
    (
        "justice guard hidden in any_of",
        _justice_guard_inside_any_of,
        "tracks.care.transitions[3].when[0].any_of[1]",
        "cannot depend on the 'justice' track",
    ),
    (
        "unknown key",
        _unknown_key,
        "tracks.care.states.reported.tasks[0].deadline",
        "unknown key 'deadline'; allowed: id, role, label, due",
    ),
    (
        "on_complete names no trigger",
        _unknown_trigger_on_complete,
        "tracks.care.states.reported.tasks[0].on_complete",
        "unknown trigger 'characterized'",
    ),
    (
        "trigger without labels",
        _unlabelled_trigger,
        "tracks.care.transitions[5].trigger",
        "trigger 'close_case' has no label",
    ),
    (
        "guard on an unknown task",
        _unknown_task_in_guard,
        "tracks.care.transitions[1].when[0].task_completed",
        "unknown task 'no_such_task'",
    ),
    (
        "guard on an undeclared approval",
        _unknown_approval,
        "tracks.care.transitions[3].when[0].approval",
        "unknown approval 'mediate_plan'",
    ),
    (
        "guard on an undeclared attribute",
        _unknown_attribute,
        "tracks.care.transitions[1].when[0].attribute",
        "unknown attribute 'gender'",
    ),
    (
        "unknown consent purpose",
        _bad_consent_purpose,
        "tracks.care.transitions[1].when[0].consent",
        "'assistance', 'data_sharing'",
    ),
    ("unknown time zone", _unknown_timezone, "timezone", "unknown time zone"),
    (
        "deadline without a source",
        _no_source,
        "tracks.care.states.immediate.deadline.source",
        "required key 'source' is missing",
    ),
    (
        "deadline basis outside the vocabulary",
        _bad_basis,
        "tracks.care.states.immediate.deadline.basis",
        "'legal', 'protocol' or 'proposed'",
    ),
    (
        "final state with tasks",
        _final_with_tasks,
        "tracks.care.states.closed",
        "final state 'closed' cannot open tasks",
    ),
    (
        "opens_when on an unknown track",
        _unknown_track_in_opens_when,
        "tracks.shelter.opens_when[0].track",
        "unknown track 'cuidado'",
    ),
]


def broken(mutation: Mutation) -> str:
    data = copy.deepcopy(BASE)
    mutation(data)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def test_the_fixture_itself_is_valid():
    assert from_text("fixture.yaml", FIXTURE.read_text()).id == "CO-TEST"


@pytest.mark.parametrize(("rule", "mutation", "path", "words"), CASES, ids=[c[0] for c in CASES])
def test_broken_file_is_rejected_with_path_line_and_what_is_allowed(rule, mutation, path, words):
    text = broken(mutation)
    with pytest.raises(ProtocolFileError) as info:
        from_text("broken.yaml", text)
    rendered = [p.render("broken.yaml") for p in info.value.problems]
    matching = [p for p in info.value.problems if p.path == path and words in p.message]
    assert matching, f"{rule}: no problem at {path} saying {words!r} in {rendered}"
    problem = matching[0]
    assert problem.line is not None
    # the line points at the offending key (or its parent mapping) in the text
    key = str(path.rsplit(".", 1)[-1]).split("[")[0]
    assert key in text.splitlines()[problem.line - 1] or problem.line > 1


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(ProtocolFileError) as info:
        from_text("bad.yaml", "id: CO-X\ntracks: [\n  care: {\n")
    assert info.value.problems[0].line is not None
    assert "not valid YAML" in info.value.problems[0].message


def test_duplicate_yaml_keys_are_refused_not_overwritten():
    text = FIXTURE.read_text().replace('version: "1"', 'version: "1"\nversion: "2"')
    with pytest.raises(ProtocolFileError, match=r"duplicate key 'version' \(first on line"):
        from_text("dup.yaml", text)


def test_cli_validate_exits_2_with_file_line_and_message(tmp_path):
    bad = tmp_path / "xx-broken.yaml"
    bad.write_text(broken(_unknown_target))
    good = FIXTURE
    result = CliRunner().invoke(app, ["protocols", "validate", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{good}: ok" in result.output
    assert f"{bad}:" in result.output
    assert "unknown target state 'identificaton'" in result.output
    assert "Traceback" not in result.output


def test_cli_validate_a_missing_file_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(app, ["protocols", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "cannot read" in result.output

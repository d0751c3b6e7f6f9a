"""What the import contracts cannot say: every event kind is labelled in the console, the
reads never write, every room says what lives in it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from workflows.domain.events import EventKind

ROOT = Path(__file__).resolve().parents[2]
ROOMS = ["domain", "engine", "services", "queries", "store"]
# what a write looks like: SQL statements, a commit, a repository save or an event
WRITES = {"insert", "update", "delete", "commit", "save", "upsert", "save_user", "record", "claim"}


def _function(path: Path, name: str) -> ast.FunctionDef:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def test_the_console_labels_every_event_kind_and_no_other():
    fn = _function(ROOT / "ui" / "case_view.py", "event_kinds")
    table = next(n.value for n in ast.walk(fn) if isinstance(n, ast.Return))
    assert isinstance(table, ast.Dict)
    labelled = [
        k.value for k in table.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)
    ]
    assert len(labelled) == len(set(labelled)), "a kind is labelled twice"
    assert sorted(labelled) == sorted(EventKind), "ui/case_view.py event_kinds() vs EventKind"


def test_event_kinds_are_stored_as_their_own_names():
    assert all(kind.name == kind.value for kind in EventKind)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "workflows" / "queries").glob("*.py")), ids=lambda p: p.name
)
def test_the_reads_never_write(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    called = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            called.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
        if isinstance(node, ast.ImportFrom) and node.module == "sqlalchemy":
            called |= {alias.name for alias in node.names}
    assert not called & WRITES, f"{path.name} writes: {sorted(called & WRITES)}"


@pytest.mark.parametrize("room", ROOMS)
def test_every_room_says_what_lives_in_it_and_what_it_may_import(room):
    readme = ROOT / "workflows" / room / "README.md"
    assert readme.is_file(), f"workflows/{room}/README.md is missing"
    text = readme.read_text(encoding="utf-8")
    assert "May import" in text
    modules = sorted(p.stem for p in readme.parent.glob("*.py") if p.stem != "__init__")
    unnamed = [m for m in modules if f"`{m}.py`" not in text]
    assert not unnamed, f"workflows/{room}/README.md does not name {unnamed}"

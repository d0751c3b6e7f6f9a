"""The event log against a hostile database owner: unreadable events are named, TRUNCATE and
deleting the head are refused, and a log emptied, cut or re-hashed fails against its head
or an anchor taken before (issue 15, section 1)."""

from __future__ import annotations

import json
import stat
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, select, text, update
from sqlalchemy.exc import DBAPIError

from ruta import bootstrap
from ruta.db import upgrade
from tests.conftest import FOCAL_CO, VAULT
from tests.integration.conftest import cli
from workflows.domain.ports import Services
from workflows.services import cases
from workflows.services.snapshots import take_snapshot
from workflows.store import tables
from workflows.store.audit import GENESIS, chain_hash
from workflows.store.audit_verify import check_chain
from workflows.store.uow import SqlUnitOfWork

ADULT = {"jurisdiction": "CO-NAR", "minor": False, "nationality": "VE"}
E, HEAD = tables.events, tables.audit_head


@pytest.fixture
def home(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The `ruta` command on the test database, its RUTA_HOME a fresh directory."""
    monkeypatch.setenv("RUTA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RUTA_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.delenv("RUTA_AUDIT_ANCHORS", raising=False)
    bootstrap.settings.cache_clear()
    yield tmp_path / "home"
    bootstrap.settings.cache_clear()


def some_events(svc: Services, test_protocol: Any, engine: Engine, n: int = 1) -> list[int]:
    """Cases opened and consented to; the ids of every event in the log."""
    for _ in range(n):
        ref = cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)
        cases.record_consent(svc, ref, "assistance", True, FOCAL_CO)
    with engine.connect() as conn:
        return list(conn.execute(select(E.c.id).order_by(E.c.id)).scalars())


def forced(engine: Engine, write: Callable[[Connection], object]) -> None:
    """What the database's owner can always do: lift the audit triggers, write, restore them."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            write(conn)
            return
        found = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name IN ('events', 'audit_head')"
            )
        ).all()
        for name, _ in found:
            conn.execute(text(f'DROP TRIGGER "{name}"'))
        write(conn)
        for _, sql in found:
            conn.exec_driver_sql(sql)


def rehash(conn: Connection, victim: int, change: dict[str, Any]) -> None:
    """Forge one event and re-hash the chain after it (the hash has no key), head included."""
    prev = GENESIS
    for row in [dict(r) for r in conn.execute(select(E).order_by(E.c.id)).mappings()]:
        if row["id"] == victim:
            row |= change
        row["hash"] = chain_hash(row, prev)
        values = {k: row[k] for k in change} | {"prev_hash": prev, "hash": row["hash"]}
        conn.execute(update(E).where(E.c.id == row["id"]).values(**values))
        prev, last = row["hash"], row["id"]
    conn.execute(update(HEAD).values(event_id=last, hash=prev))


def rewrite_snapshots(conn: Connection) -> None:
    s = tables.compliance_snapshots
    event_id, digest = conn.execute(select(HEAD.c.event_id, HEAD.c.hash)).one()
    for snapshot_id, figures in conn.execute(select(s.c.id, s.c.figures)).all():
        figures["audit_head"] |= {"event_id": event_id, "hash": digest}
        conn.execute(update(s).where(s.c.id == snapshot_id).values(figures=figures))


def cut_after(conn: Connection, keep: int) -> None:
    """Delete the events after `keep` and move the head back to it (0: the empty log)."""
    conn.execute(delete(E).where(E.c.id > keep))
    digest = conn.execute(select(E.c.hash).where(E.c.id == keep)).scalar() if keep else GENESIS
    conn.execute(update(HEAD).values(event_id=keep, hash=digest))


def test_an_event_whose_data_is_no_longer_json_is_named_as_altered(
    svc, test_protocol, engine, home
):
    victim = some_events(svc, test_protocol, engine)[1]
    broken = f"UPDATE events SET data = '{{\"fields\": [' WHERE id = {victim}"
    if engine.dialect.name == "postgresql":  # a json column refuses what is not JSON
        with pytest.raises(DBAPIError, match="json"):
            forced(engine, lambda conn: conn.execute(text(broken)))
        broken = f"UPDATE events SET data = '{{\"forged\": true}}' WHERE id = {victim}"
    forced(engine, lambda conn: conn.execute(text(broken)))
    code, out = cli("audit", "verify")
    assert code == 1, out
    assert f"Event {victim} was altered" in out
    assert "Traceback" not in out
    assert "1 events intact before the first altered one" in out


def test_an_event_whose_time_is_no_longer_a_time_is_named_as_altered(svc, test_protocol, engine):
    victim = some_events(svc, test_protocol, engine)[2]
    broken = f"UPDATE events SET at = '2026-02-30 25:00:00' WHERE id = {victim}"
    if engine.dialect.name == "postgresql":  # a timestamp column refuses what is not a time
        with pytest.raises(DBAPIError, match="out of range"):
            forced(engine, lambda conn: conn.execute(text(broken)))
        return
    forced(engine, lambda conn: conn.execute(text(broken)))
    with engine.connect() as conn:
        result = check_chain(conn)
    assert result.problems == [f"Event {victim} was altered: its content can no longer be read."]
    assert result.intact == 2


def test_events_past_a_head_moved_back_are_named(svc, test_protocol, engine):
    ids = some_events(svc, test_protocol, engine)

    def move_back(conn: Connection) -> None:
        digest = conn.execute(select(E.c.hash).where(E.c.id == ids[1])).scalar_one()
        conn.execute(update(HEAD).values(event_id=ids[1], hash=digest))

    forced(engine, move_back)
    with engine.connect() as conn:
        assert check_chain(conn).problems == [
            f"Events {ids[1] + 1} to {ids[-1]} lie past the chain head (event {ids[1]}): "
            "written around the chain, or the head was moved back."
        ]


@pytest.mark.postgres
def test_truncating_the_log_or_its_head_is_refused_on_postgresql(database):
    engine = database("postgres")
    upgrade(engine)
    for statement in ("TRUNCATE events", "TRUNCATE audit_head", "TRUNCATE cases CASCADE"):
        with pytest.raises(DBAPIError, match="append-only: TRUNCATE refused"), engine.begin() as c:
            c.execute(text(statement))
    with engine.connect() as conn:
        assert conn.execute(select(HEAD.c.hash)).scalar_one() == GENESIS


def test_the_chain_head_cannot_be_deleted(engine):
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(delete(HEAD))
    with engine.connect() as conn:
        assert check_chain(conn).ok


def test_an_emptied_log_fails_against_the_head_it_kept(svc, test_protocol, engine, home):
    ids = some_events(svc, test_protocol, engine)
    forced(engine, lambda conn: conn.execute(delete(E)))
    with engine.connect() as conn:
        result = check_chain(conn)
    assert result.problems == [
        f"Events 1 to {ids[-1]} are missing: the chain head names event {ids[-1]}, but the log "
        "is empty (the log was emptied or its tail cut)."
    ]
    code, out = cli("audit", "verify")
    assert code == 1, out
    assert "intact: 0 events" not in out
    forced(engine, lambda conn: conn.execute(delete(HEAD)))  # and its head with it
    with engine.connect() as conn:
        assert check_chain(conn).problems == [
            "The chain head is missing (its row was deleted); the log is empty."
        ]


def test_a_cut_tail_with_its_head_rewound_fails_against_an_earlier_anchor(
    svc, test_protocol, engine, home
):
    ids = some_events(svc, test_protocol, engine, n=2)
    assert cli("audit", "anchor")[0] == 0
    keep = ids[2]
    forced(engine, partial(cut_after, keep=keep))
    with engine.connect() as conn:
        assert check_chain(conn).ok  # the chain alone cannot tell
    code, out = cli("audit", "verify")
    assert code == 1, out
    assert f"Event {ids[-1]} is missing since the anchor {home / 'audit-anchors.jsonl'}:1" in out
    assert f"the log now ends at event {keep} (3 events)" in out


def test_an_emptied_log_with_its_head_rewound_fails_against_an_earlier_anchor(
    svc, test_protocol, engine, home
):
    ids = some_events(svc, test_protocol, engine)
    assert cli("audit", "anchor")[0] == 0
    forced(engine, partial(cut_after, keep=0))
    with engine.connect() as conn:
        assert check_chain(conn).ok  # an empty log agrees with a genesis head
    code, out = cli("audit", "verify")
    assert code == 1, out
    assert f"Event {ids[-1]} is missing since the anchor" in out
    assert "the log is now empty" in out


def test_a_rehashed_forged_chain_fails_against_every_anchor_taken_before(
    svc, test_protocol, engine, home
):
    ids = some_events(svc, test_protocol, engine, n=2)
    assert cli("audit", "anchor")[0] == 0  # the file outside the database
    assert take_snapshot(svc) == 1  # and a compliance snapshot inside it
    forced(engine, lambda conn: rehash(conn, ids[1], {"actor": "someone-else"}))
    with engine.connect() as conn:  # no anchor file given: the snapshot alone catches it
        (problem,) = check_chain(conn).problems
    assert problem.startswith(f"Event {ids[-1]} was changed since the anchor compliance snapshot")
    code, out = cli("audit", "verify")
    assert code == 1, out
    assert out.count(f"Event {ids[-1]} was changed since the anchor") == 2  # file and snapshot
    assert "held to 2 anchor(s), 1 of them from" in out
    forced(engine, rewrite_snapshots)  # the snapshot lives in the database: it can be forged
    with engine.connect() as conn:
        assert check_chain(conn).ok
    code, out = cli("audit", "verify")  # the file outside it cannot
    assert code == 1, out
    assert f"Event {ids[-1]} was changed since the anchor {home / 'audit-anchors.jsonl'}:1" in out
    assert cli("audit", "anchor", "--path", str(home / "later.jsonl"))[0] == 0
    code, out = cli("audit", "verify", "--anchors", str(home / "later.jsonl"))
    assert code == 0, out  # an anchor taken after the forgery vouches for it: keep them all


def test_the_anchor_file_is_private_appended_and_printed(
    svc, test_protocol, engine, home, tmp_path
):
    some_events(svc, test_protocol, engine)
    path = tmp_path / "other-disk" / "ruta" / "anchors.jsonl"
    code, first = cli("audit", "anchor", "--path", str(path))
    assert code == 0, first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    some_events(svc, test_protocol, engine)
    code, second = cli("audit", "anchor", "--path", str(path))
    assert code == 0, second
    lines = path.read_text().splitlines()
    assert [lines[0], lines[1]] == [first.splitlines()[0], second.splitlines()[0]]
    anchor = json.loads(lines[1])
    assert set(anchor) == {"event_id", "hash", "at", "count"}
    with engine.connect() as conn:
        head = conn.execute(select(HEAD.c.event_id, HEAD.c.hash)).one()
        count = conn.execute(select(E.c.id)).all()
    assert (anchor["event_id"], anchor["hash"], anchor["count"]) == (*head, len(count))
    code, out = cli("audit", "verify", "--anchors", str(path))
    assert code == 0, out
    assert f"Audit chain intact: {len(count)} events, held to 2 anchor(s), 2 of them from" in out


def test_verify_exits_2_on_an_anchor_file_it_cannot_read(engine, home, tmp_path):
    code, out = cli("audit", "verify")  # no anchor file yet: the chain is still checked
    assert code == 0, out
    assert "No anchor file at" in out
    missing = tmp_path / "nowhere.jsonl"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"event_id": 3, "hash": "abc", "at": "2026-12-05T02:00:00Z", "count": 3}\n')
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\xff\xfe{}\n")
    cases = {
        missing: f"Cannot read the anchor file {missing}: No such file or directory.",
        tmp_path: f"Cannot read the anchor file {tmp_path}: Is a directory.",
        bad: f"{bad}:1 is not an anchor (hash: String should match pattern",
        binary: f"The anchor file {binary} is not UTF-8 text.",
    }
    for path, message in cases.items():
        code, out = cli("audit", "verify", "--anchors", str(path))
        assert code == 2, out
        assert out.startswith(message)
        assert len(out.strip().splitlines()) == 1


def test_an_anchor_of_an_empty_log_holds_what_comes_after(svc, test_protocol, engine, home):
    assert cli("audit", "anchor")[0] == 0
    some_events(svc, test_protocol, engine)
    code, out = cli("audit", "verify")
    assert code == 0, out


def test_verify_while_cases_are_written_never_reports_a_break(svc, test_protocol, engine):
    cases.open_case(svc, test_protocol, ADULT, FOCAL_CO)  # the protocol version is stored once
    errors = list[BaseException]()

    def write() -> None:
        own = Services(lambda: SqlUnitOfWork(engine, VAULT), svc.clock, svc.catalog)
        try:
            for _ in range(15):
                cases.open_case(own, test_protocol, ADULT, FOCAL_CO)
        except BaseException as exc:  # reported below
            errors.append(exc)

    writers = [threading.Thread(target=write) for _ in range(2)]
    for t in writers:
        t.start()
    results = []
    while any(t.is_alive() for t in writers):
        with engine.connect() as conn:
            results.append(check_chain(conn, batch=7))
    for t in writers:
        t.join()
    assert not errors
    assert [r.problems for r in results] == [[]] * len(results)
    assert len({r.events for r in results}) > 1  # the writers did write meanwhile

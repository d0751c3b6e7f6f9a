"""Personal data at rest, on SQLite and PostgreSQL: sealed rows, key rotation with no
downtime, rows bound to their place, retention purge, document lookup by blind index, and the
upgrade that seals data written before encryption."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select, update

from institutions.seeds import load_seeds
from institutions.store import SqlDirectory
from protocols.registry import Registry
from ruta.db import alembic_config, upgrade
from tests.conftest import VAULT
from workflows.domain.access import Actor
from workflows.domain.clocks import SimulatedClock
from workflows.domain.errors import InvalidInput
from workflows.domain.ports import Services
from workflows.services import cases, privacy, retention, tasks
from workflows.store import tables
from workflows.store.audit_verify import check_chain
from workflows.store.rotation import key_usage, reseal
from workflows.store.uow import SqlUnitOfWork
from workflows.store.vault import Vault, VaultError, new_key

SYSTEM = Actor.system("test")
FP_CO = Actor("fp.co", "focal_point", "co-mininterior-coat", frozenset({"CO"}))
PERSON = {
    "given_name": "Zorbalina",
    "family_name": "Sintética Prueba",
    "document_type": "passport",
    "document_number": "SYN-000-111",
    "narrative": "Relato sintético",
}
NOTE = "Zorbalina pidió que no la llamen al número anterior"
K1, K2 = new_key(), new_key()


def vault(*keys: str) -> Vault:
    return Vault.from_text(list(keys), "test")


def services_on(engine: Engine, clock: SimulatedClock, sealing: Vault) -> Services:
    return Services(
        uow=lambda: SqlUnitOfWork(engine, sealing), clock=clock, catalog=Registry.scan()
    )


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    with engine.begin() as conn:
        SqlDirectory(conn).upsert(load_seeds())
    return engine


def open_case(svc: Services, person: dict[str, str] = PERSON) -> str:
    loaded = svc.catalog.latest("CO", "trafficking")
    assert loaded is not None
    attrs = {"jurisdiction": "CO-NAR-52356", "minor": False, "nationality": "VE"}
    ref = cases.open_case(svc, loaded, attrs, SYSTEM, person=person)
    # a task note is free text: protected like the person record
    tasks.move(svc, SYSTEM, ref, "register_case", "hold", reason="other", note=NOTE)
    return ref


def raw(engine: Engine) -> str:
    with engine.connect() as conn:
        rows = [*conn.execute(select(tables.persons)), *conn.execute(select(tables.tasks))]
    return " ".join(str(list(r)) for r in rows)


def test_rows_are_sealed_and_read_back_whole(seeded, clock):
    svc = services_on(seeded, clock, vault(K1))
    ref = open_case(svc)
    stored = raw(seeded)
    for secret in ("Zorbalina", "SYN-000-111", "SYN000111", "Relato"):
        assert secret not in stored
    with svc.uow() as uow:
        case = uow.cases.get(ref)
        assert uow.cases.person(case) == PERSON
        assert [t.note for t in case.tasks if t.key == "register_case"] == [NOTE]


def test_key_rotation_reseals_everything_and_the_old_key_can_then_be_retired(seeded, clock):
    first = services_on(seeded, clock, vault(K1))
    refs = [open_case(first), open_case(first, {**PERSON, "document_number": "SYN-000-222"})]
    with seeded.connect() as conn:
        assert key_usage(conn) == {vault(K1).primary_id: 4}  # two records, two notes
    ring = vault(K2, K1)
    during = services_on(seeded, clock, ring)
    # mid-rotation: both keys open, lookups find rows indexed under either key
    assert privacy.find_by_document(during, FP_CO, "syn000111", "verification") == [refs[0]]
    third = open_case(during, {**PERSON, "document_number": "SYN-000-333"})  # sealed by K2
    assert reseal(lambda: SqlUnitOfWork(seeded, ring), batch=1) == 4
    assert reseal(lambda: SqlUnitOfWork(seeded, ring)) == 0  # nothing left: idempotent
    with seeded.connect() as conn:
        assert key_usage(conn) == {ring.primary_id: 6}
    retired = services_on(seeded, clock, vault(K2))  # key 1 is gone
    for ref, number in zip(
        [*refs, third], ("SYN-000-111", "SYN-000-222", "SYN-000-333"), strict=True
    ):
        with retired.uow() as uow:
            case = uow.cases.get(ref)
            assert uow.cases.person(case)["document_number"] == number
            assert [t.note for t in case.tasks if t.key == "register_case"] == [NOTE]
        assert privacy.find_by_document(retired, FP_CO, number, "verification") == [ref]
    stale = services_on(seeded, clock, vault(K1))  # a copy that still holds only key 1
    expected = f"sealed under key {ring.primary_id}, which this installation no longer has"
    with pytest.raises(VaultError, match=expected), stale.uow() as uow:
        uow.cases.get(refs[0])


def test_a_sealed_record_moved_to_another_case_does_not_open(seeded, clock):
    svc = services_on(seeded, clock, vault(K1))
    a, b = open_case(svc), open_case(svc, {**PERSON, "given_name": "Otra"})
    p = tables.persons
    with seeded.begin() as conn:
        ids = {r.ref: r.id for r in conn.execute(select(tables.cases.c.ref, tables.cases.c.id))}
        payload_a = conn.execute(select(p.c.payload).where(p.c.case_id == ids[a])).scalar_one()
        conn.execute(update(p).where(p.c.case_id == ids[b]).values(payload=payload_a))
    with svc.uow() as uow, pytest.raises(VaultError, match=f"persons:{ids[b]}: .* altered"):
        uow.cases.person(uow.cases.get(b))


def test_the_purge_removes_personal_data_once_retention_has_run_and_says_so(seeded, clock):
    svc = services_on(seeded, clock, vault(K1))
    kept, closed = open_case(svc), open_case(svc)
    cases.fire(svc, closed, "care", "withdraw", SYSTEM)  # closes the case
    clock.advance(timedelta(days=1770))  # under CO's 60 months (1826 days)
    assert retention.due(svc) == []
    clock.advance(timedelta(days=60))
    (item,) = retention.due(svc)
    assert (item.ref, item.retention, item.basis) == (closed, "60 months", "proposed")
    assert [p.ref for p in retention.purge(svc)] == [closed]
    assert retention.purge(svc) == []  # done once
    with svc.uow() as uow:
        gone, still = uow.cases.get(closed), uow.cases.get(kept)
        assert uow.cases.person(gone) == {}
        assert all(t.note is None for t in gone.tasks)
        assert uow.cases.person(still) == PERSON  # an open case keeps its data
    with seeded.connect() as conn:
        (event,) = conn.execute(
            select(tables.events.c.data).where(tables.events.c.kind == "personal_data_purged")
        ).scalars()
        assert event["fields"] == sorted(PERSON)
        assert event["notes"] == 1
        assert event["retention"] == "60 months"
        assert check_chain(conn).ok
    assert privacy.find_by_document(svc, FP_CO, "SYN-000-111", "verification") == [kept]


def test_finding_by_document_number_needs_a_reason_and_leaves_an_event(seeded, clock):
    svc = services_on(seeded, clock, vault(K1))
    ref = open_case(svc)
    with pytest.raises(InvalidInput, match="reasons: case_work"):
        privacy.find_by_document(svc, FP_CO, "SYN-000-111", "curiosity")
    with pytest.raises(InvalidInput, match="at least 4 letters or digits"):
        privacy.find_by_document(svc, FP_CO, "1-1", "verification")
    assert privacy.find_by_document(svc, FP_CO, "SYN-000-999", "verification") == []
    assert privacy.find_by_document(svc, FP_CO, " syn 000.111 ", "verification") == [ref]
    with seeded.connect() as conn:
        events = conn.execute(
            select(tables.events.c.actor, tables.events.c.data).where(
                tables.events.c.kind == "personal_data_searched"
            )
        ).all()
    assert [(e.actor, e.data) for e in events] == [("fp.co", {"reason": "verification"})]


def test_the_upgrade_seals_personal_data_written_before_encryption(bare_engine):
    command.upgrade(alembic_config(bare_engine), "0006")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    with bare_engine.begin() as conn:
        conn.execute(
            insert(tables.protocol_versions).values(
                content_hash="h" * 64,
                protocol_id="CO-TRATA",
                version="old",
                definition={},
                stored_at=now,
            )
        )
        case_id = conn.execute(
            insert(tables.cases).values(
                ref="CO-2026-000001",
                protocol_id="CO-TRATA",
                protocol_version="old",
                protocol_hash="h" * 64,
                country="CO",
                jurisdiction="CO",
                attributes={},
                opened_at=now,
                version=1,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(tables.persons).values(
                case_id=case_id, payload=json.dumps(PERSON), updated_at=now
            )
        )
        conn.execute(
            insert(tables.tasks).values(
                case_id=case_id,
                track="care",
                state="s",
                task_key="t",
                role="r",
                institution="i",
                status="on-hold",
                due_at=now,
                created_at=now,
                updated_at=now,
                extensions=0,
                outcome={},
                note=NOTE,
            )
        )
    with pytest.raises(RuntimeError, match="no encryption key was given; run `ruta init`"):
        upgrade(bare_engine)
    upgrade(bare_engine, VAULT)
    assert "Zorbalina" not in raw(bare_engine)
    svc = services_on(bare_engine, SimulatedClock(now), VAULT)
    with svc.uow() as uow:
        case = uow.cases.get("CO-2026-000001")
        assert uow.cases.person(case) == PERSON
        assert [t.note for t in case.tasks] == [NOTE]
    assert privacy.find_by_document(svc, FP_CO, "SYN000111", "verification") == ["CO-2026-000001"]

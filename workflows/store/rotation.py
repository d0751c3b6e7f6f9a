"""Key rotation: re-seal personal data under the vault's sealing key, in small transactions.

Readers and writers keep working meanwhile: every key in the ring still opens what it sealed,
and each batch commits on its own. A row is re-sealed only if nobody changed it since it was
read (compare-and-set on its sealed value), so a concurrent edit is never overwritten.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

from sqlalchemy import Connection, func, select, update

from workflows.store import tables
from workflows.store.persons import sealed_person
from workflows.store.uow import SqlUnitOfWork

BATCH = 200


def key_usage(conn: Connection) -> Counter[str]:
    """How many sealed values each key id holds (person records and task notes)."""
    p, t = tables.persons, tables.tasks
    usage: Counter[str] = Counter()
    for kid, n in conn.execute(select(p.c.key_id, func.count()).group_by(p.c.key_id)):
        usage[kid] += n
    note_kid = func.substr(t.c.note, 4, 8)  # v1.<key id>.<data>
    query = select(note_kid, func.count()).where(t.c.note.is_not(None)).group_by(note_kid)
    for kid, n in conn.execute(query):
        usage[kid] += n
    return usage


def reseal(uow_factory: Callable[[], SqlUnitOfWork], batch: int = BATCH) -> int:
    """Re-seal every value not under the sealing key; return how many were re-sealed."""
    done = 0
    while True:
        with uow_factory() as uow:
            moved = _reseal_persons(uow, batch) + _reseal_notes(uow, batch)
            uow.commit()
        done += moved
        if moved == 0:
            return done


def _reseal_persons(uow: SqlUnitOfWork, batch: int) -> int:
    conn, vault, p = uow.connection, uow.vault, tables.persons
    vault.refresh()
    rows = conn.execute(
        select(p.c.case_id, p.c.payload).where(p.c.key_id != vault.primary_id).limit(batch)
    ).all()
    for row in rows:
        person = json.loads(vault.open(row.payload, f"persons:{row.case_id}"))
        conn.execute(
            update(p)
            .where(p.c.case_id == row.case_id, p.c.payload == row.payload)
            .values(**sealed_person(vault, row.case_id, person))
        )
    return len(rows)


def _reseal_notes(uow: SqlUnitOfWork, batch: int) -> int:
    conn, vault, t = uow.connection, uow.vault, tables.tasks
    prefix = f"v1.{vault.primary_id}.%"
    rows = conn.execute(
        select(t.c.id, t.c.case_id, t.c.note)
        .where(t.c.note.is_not(None), t.c.note.not_like(prefix))
        .limit(batch)
    ).all()
    for row in rows:
        context = f"tasks.note:{row.case_id}"
        fresh = vault.seal(vault.open(row.note, context), context)
        conn.execute(update(t).where(t.c.id == row.id, t.c.note == row.note).values(note=fresh))
    return len(rows)

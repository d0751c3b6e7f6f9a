"""Put a dataset back as it was after a benchmark changed some of its cases.

A `Snapshot` keeps every row of the given cases (tasks, tracks, deadlines ... each table with
a `case_id`), the case rows themselves, the audit-chain head and the highest id of the
append-only tables. `restore()` deletes what came after and writes the kept rows back, in one
transaction. The event log is append-only by trigger; the restore lifts the triggers for its
own transaction only (PostgreSQL: DISABLE TRIGGER; SQLite: drop and re-create them), and
those that keep the chain head, and works on benchmark data only.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, delete, func, insert, select, text
from sqlalchemy import update as sql_update

from workflows.store import tables

APPEND_ONLY = (tables.events, tables.outbox)  # rows past the kept maximum id are deleted
GUARDED = ("events", "audit_head")  # their triggers refuse what a restore does


def _per_case() -> list[Table]:
    return [
        t
        for t in tables.metadata.sorted_tables
        if "case_id" in t.c and t not in APPEND_ONLY and t is not tables.cases
    ]


def due_cases(engine: Engine, now: datetime) -> set[int]:
    """Cases with a task or a state deadline due at `now`."""
    t, d = tables.tasks, tables.deadlines
    with engine.connect() as conn:
        tasks = conn.execute(select(t.c.case_id).where(t.c.next_action_at <= now)).scalars()
        ends = conn.execute(select(d.c.case_id).where(d.c.next_action_at <= now)).scalars()
        return set(tasks) | set(ends)


class Snapshot:
    def __init__(self, engine: Engine, case_ids: Collection[int]) -> None:
        self.case_ids = sorted(case_ids)
        with engine.connect() as conn:
            self.rows = {
                t.name: [dict(r) for r in self._select(conn, t).mappings()] for t in _per_case()
            }
            self.cases = [
                dict(r)
                for r in conn.execute(
                    select(tables.cases).where(tables.cases.c.id.in_(self.case_ids))
                ).mappings()
            ]
            self.max_ids = {
                t.name: conn.execute(select(func.coalesce(func.max(t.c.id), 0))).scalar_one()
                for t in (*APPEND_ONLY, tables.tasks, tables.deadlines)
            }
            self.head = [dict(r) for r in conn.execute(select(tables.audit_head)).mappings()]

    def _select(self, conn: Connection, table: Table) -> Any:
        return conn.execute(select(table).where(table.c.case_id.in_(self.case_ids)))

    def restore(self, engine: Engine) -> None:
        with engine.begin() as conn:
            triggers = _lift_triggers(conn)
            for t in APPEND_ONLY:
                conn.execute(delete(t).where(t.c.id > self.max_ids[t.name]))
            for t in reversed(_per_case()):
                conn.execute(delete(t).where(t.c.case_id.in_(self.case_ids)))
                if t.name in self.max_ids:  # rows the run added to other cases, if any
                    conn.execute(delete(t).where(t.c.id > self.max_ids[t.name]))
            for t in _per_case():
                if self.rows[t.name]:
                    conn.execute(insert(t), self.rows[t.name])
            c = tables.cases
            columns = [k for k in self.cases[0] if k != "id"] if self.cases else []
            if columns:
                conn.execute(
                    sql_update(c)
                    .where(c.c.id == bindparam("_id"))
                    .values({k: bindparam(k) for k in columns}),
                    [{"_id": r["id"], **{k: r[k] for k in columns}} for r in self.cases],
                )
            conn.execute(delete(tables.audit_head))
            if self.head:
                conn.execute(insert(tables.audit_head), self.head)
            _put_back_triggers(conn, triggers)
        if engine.dialect.name == "postgresql":  # clear the dead rows the runs left
            with engine.connect() as conn:
                conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                names = ", ".join(t.name for t in (*APPEND_ONLY, *_per_case(), tables.cases))
                conn.execute(text(f"VACUUM (ANALYZE) {names}"))


def _lift_triggers(conn: Connection) -> list[str]:
    if conn.dialect.name == "postgresql":
        for table in GUARDED:
            conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        return []
    found = conn.execute(
        text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name IN ('events', 'audit_head')"
        )
    ).all()
    for name, _ in found:
        conn.execute(text(f'DROP TRIGGER "{name}"'))
    return [sql for _, sql in found]


def _put_back_triggers(conn: Connection, triggers: list[str]) -> None:
    if conn.dialect.name == "postgresql":
        for table in GUARDED:
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    for sql in triggers:
        conn.exec_driver_sql(sql)  # as stored: no bind parameters parsed out of it

"""audit chain guards: no TRUNCATE of the event log, no deleting its head

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05

0006 refused UPDATE and DELETE on `events` row by row. PostgreSQL's TRUNCATE fires no row
trigger, so an emptied log needed no bypass: a statement trigger now refuses it, on `events`
and on the chain head `audit_head` (a TRUNCATE ... CASCADE from `cases` fires it too). The
head row itself may no longer be deleted on either database: `check_chain` compares the log
against it, so a log emptied with its head kept fails (workflows/store/audit_verify.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ruta_audit_guard() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit chain is append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""
PG_TRIGGERS = [  # (name, table, when)
    ("events_no_truncate", "events", "BEFORE TRUNCATE ON events FOR EACH STATEMENT"),
    ("audit_head_no_truncate", "audit_head", "BEFORE TRUNCATE ON audit_head FOR EACH STATEMENT"),
    ("audit_head_no_delete", "audit_head", "BEFORE DELETE ON audit_head FOR EACH ROW"),
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for name, _, when in PG_TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION ruta_audit_guard()")
    else:  # SQLite has no TRUNCATE; DELETE FROM events is refused since 0006
        op.execute(
            "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
            "BEGIN SELECT RAISE(ABORT, 'the audit chain is append-only: DELETE refused on audit_head'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, table, _ in PG_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ruta_audit_guard()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_head_no_delete")

"""compliance read model: completed tasks and care states reached, pre-joined

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

The manager's figures read these narrow rows through covering indexes instead of every task
and care event ever written (workflows/store/facts.py). Existing data is rebuilt into them here, in
SQL of this revision's own (the application's `facts.rebuild` may follow later schemas);
from then on the repository adds rows in the same transaction as each change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# The expressions that differ: the month (UTC) and hours between two instants, a JSON field.
SQLITE = {
    "month": "strftime('%Y-%m', t.updated_at)",
    "hours": "(julianday(t.updated_at) - julianday(t.created_at)) * 24.0",
    "target": "json_extract(e.data, '$.target')",
    "state": "json_extract(e.data, '$.state')",
}
POSTGRESQL = {
    "month": "to_char(timezone('UTC', t.updated_at), 'YYYY-MM')",
    "hours": "CAST(EXTRACT(EPOCH FROM t.updated_at) - EXTRACT(EPOCH FROM t.created_at) AS FLOAT) / 3600.0",
    "target": "e.data ->> 'target'",
    "state": "e.data ->> 'state'",
}
COMPLETIONS = """
INSERT INTO task_completions
    (task_id, protocol_id, task_key, institution, country, created_at, completed_at, month,
     on_time, hours)
SELECT t.id, c.protocol_id, t.task_key, t.institution, c.country, t.created_at, t.updated_at,
       {month}, CASE WHEN t.updated_at <= t.due_at THEN 1 ELSE 0 END, {hours}
FROM tasks t JOIN cases c ON c.id = t.case_id
WHERE t.status = 'completed'
"""
CARE_STATES = """
INSERT INTO care_states_reached (case_id, state, protocol_id, country, opened_at)
SELECT r.case_id, r.state, c.protocol_id, c.country, c.opened_at
FROM (
    SELECT case_id, state FROM tracks WHERE track = 'care'
    UNION SELECT e.case_id, {target} FROM events e WHERE e.kind = 'transition' AND e.track = 'care'
    UNION SELECT e.case_id, {state} FROM events e WHERE e.kind = 'track_opened' AND e.track = 'care'
) r JOIN cases c ON c.id = r.case_id
WHERE r.state IS NOT NULL
"""


def upgrade() -> None:
    op.create_table(
        "task_completions",
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.String(length=32), nullable=False),
        sa.Column("task_key", sa.String(length=64), nullable=False),
        sa.Column("institution", sa.String(length=96), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_task_completions_task_id_tasks")
        ),
        sa.PrimaryKeyConstraint("task_id", name=op.f("pk_task_completions")),
    )
    op.create_table(
        "care_states_reached",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("protocol_id", sa.String(length=32), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_care_states_reached_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", "state", name=op.f("pk_care_states_reached")),
    )
    # filled before the indexes are built: one sorted build instead of a row at a time
    conn = op.get_bind()
    sql = POSTGRESQL if conn.dialect.name == "postgresql" else SQLITE
    conn.execute(sa.text(COMPLETIONS.format(**sql)))
    conn.execute(sa.text(CARE_STATES.format(**sql)))
    op.create_index(
        "ix_task_completions_rates",
        "task_completions",
        ["protocol_id", "task_key", "institution", "country", "month", "on_time", "created_at"],
    )
    op.create_index(
        "ix_task_completions_hours",
        "task_completions",
        ["protocol_id", "task_key", "hours", "country", "institution", "created_at"],
    )
    op.create_index(
        "ix_care_states_reached_funnel",
        "care_states_reached",
        ["protocol_id", "state", "country", "opened_at"],
    )


def downgrade() -> None:
    op.drop_table("care_states_reached")
    op.drop_table("task_completions")

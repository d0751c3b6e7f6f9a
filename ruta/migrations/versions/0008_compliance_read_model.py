"""compliance read model: completed tasks and care states reached, pre-joined

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28

The manager's figures read these narrow rows through covering indexes instead of every task
and care event ever written (workflows/facts.py). Existing data is rebuilt into them here;
from then on the repository adds rows in the same transaction as each change.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from workflows import facts

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


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
    facts.rebuild(op.get_bind())
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

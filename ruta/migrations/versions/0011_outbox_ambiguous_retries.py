"""outbox ambiguous retries: how often a message was retried after a timeout SendGrid may
have accepted

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-05

SendGrid has no idempotency key: a request that timed out after SendGrid accepted it is sent
again on retry. Each such retry is counted on the row, so a possible duplicate is known.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("ambiguous_retries", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("ambiguous_retries")

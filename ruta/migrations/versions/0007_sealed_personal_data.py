"""sealed personal data: persons and task notes encrypted at rest, blind document index

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

Rows written before this revision are sealed here, under the key `ruta init` hands over
(`upgrade(engine, vault)`); without a key the upgrade stops before changing anything.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

from workflows.store.vault import Vault

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

persons = sa.table(
    "persons",
    sa.column("case_id", sa.Integer),
    sa.column("payload", sa.Text),
    sa.column("key_id", sa.String),
    sa.column("doc_index", sa.String),
)
tasks = sa.table(
    "tasks", sa.column("id", sa.Integer), sa.column("case_id", sa.Integer), sa.column("note", sa.Text)
)


def upgrade() -> None:
    conn = op.get_bind()
    people = conn.execute(sa.select(persons.c.case_id, persons.c.payload)).all()
    notes = conn.execute(
        sa.select(tasks.c.id, tasks.c.case_id, tasks.c.note).where(tasks.c.note.is_not(None))
    ).all()
    vault: Vault | None = context.config.attributes.get("vault")
    if (people or notes) and vault is None:
        raise RuntimeError(
            "Personal data must be sealed by this upgrade but no encryption key was given; "
            "run `ruta init` (it reads RUTA_SECRET_KEY or RUTA_HOME/secret.key)."
        )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("key_id", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("doc_index", sa.String(length=64), nullable=True))
    for row in people:
        person = json.loads(row.payload)
        number = str(person.get("document_number", "")).strip()
        conn.execute(
            sa.update(persons)
            .where(persons.c.case_id == row.case_id)
            .values(
                payload=vault.seal(row.payload, f"persons:{row.case_id}"),
                key_id=vault.primary_id,
                doc_index=vault.index(number, "document_number") if number else None,
            )
        )
    for row in notes:
        conn.execute(
            sa.update(tasks)
            .where(tasks.c.id == row.id)
            .values(note=vault.seal(row.note, f"tasks.note:{row.case_id}"))
        )
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.alter_column("key_id", existing_type=sa.String(length=8), nullable=False)
        batch_op.create_index("ix_persons_doc_index", ["doc_index"], unique=False)
        batch_op.create_index("ix_persons_key_id", ["key_id"], unique=False)


def downgrade() -> None:
    # sealed values stay sealed: a downgrade must not write personal data in the clear
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index("ix_persons_key_id")
        batch_op.drop_index("ix_persons_doc_index")
        batch_op.drop_column("doc_index")
        batch_op.drop_column("key_id")

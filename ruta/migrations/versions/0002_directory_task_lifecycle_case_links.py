"""directory, task lifecycle, case links

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('institutions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.Column('jurisdiction', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('emails', sa.JSON(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_institutions'))
    )
    op.create_table('institution_roles',
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_institution_roles_institution_id_institutions')),
    sa.PrimaryKeyConstraint('institution_id', 'role', name=op.f('pk_institution_roles'))
    )
    with op.batch_alter_table('institution_roles', schema=None) as batch_op:
        batch_op.create_index('ix_institution_roles_role', ['role'], unique=False)

    op.create_table('users',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('institution_id', sa.String(length=64), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('countries', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['institution_id'], ['institutions.id'], name=op.f('fk_users_institution_id_institutions')),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_users'))
    )
    op.create_table('case_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('linked_ref', sa.String(length=32), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_links_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_links'))
    )
    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.create_index('ix_case_links_case', ['case_id'], unique=False)

    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('routing', sa.String(length=16), server_default='directory', nullable=False))
        batch_op.add_column(sa.Column('handoff', sa.JSON(), nullable=True))
        batch_op.create_index('ix_tasks_routing', ['routing'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index('ix_tasks_routing')
        batch_op.drop_column('handoff')
        batch_op.drop_column('routing')
        batch_op.drop_column('note')
        batch_op.drop_column('reason')
        batch_op.drop_column('owner')

    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.drop_index('ix_case_links_case')

    op.drop_table('case_links')
    op.drop_table('users')
    with op.batch_alter_table('institution_roles', schema=None) as batch_op:
        batch_op.drop_index('ix_institution_roles_role')

    op.drop_table('institution_roles')
    op.drop_table('institutions')

"""master patient index: links, pair verdicts, golden records, manual decisions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mpi_links',
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('golden_id', sa.String(length=64), nullable=False),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('decided_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('source_id')
    )
    with op.batch_alter_table('mpi_links', schema=None) as batch_op:
        batch_op.create_index('ix_mpi_links_golden', ['golden_id'], unique=False)

    op.create_table('mpi_pairs',
    sa.Column('low_id', sa.String(length=64), nullable=False),
    sa.Column('high_id', sa.String(length=64), nullable=False),
    sa.Column('verdict', sa.String(length=16), nullable=False),
    sa.Column('origin', sa.String(length=8), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('task_id', sa.String(length=64), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('decided_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('low_id', 'high_id')
    )
    with op.batch_alter_table('mpi_pairs', schema=None) as batch_op:
        batch_op.create_index('ix_mpi_pairs_high', ['high_id'], unique=False)

    op.create_table('mpi_goldens',
    sa.Column('golden_id', sa.String(length=64), nullable=False),
    sa.Column('replaced_by', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('golden_id')
    )
    op.create_table('mpi_decisions',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('operation', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('decided_at', sa.BigInteger(), nullable=False),
    sa.Column('before', sa.Text(), nullable=False),
    sa.Column('undone', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )


def downgrade() -> None:
    op.drop_table('mpi_decisions')
    op.drop_table('mpi_goldens')
    with op.batch_alter_table('mpi_pairs', schema=None) as batch_op:
        batch_op.drop_index('ix_mpi_pairs_high')
    op.drop_table('mpi_pairs')
    with op.batch_alter_table('mpi_links', schema=None) as batch_op:
        batch_op.drop_index('ix_mpi_links_golden')
    op.drop_table('mpi_links')

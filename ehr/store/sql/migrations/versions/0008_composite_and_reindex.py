"""search: composite index rows per element instance, and the progress of ``ehr reindex`` runs

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_KEY = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('idx_composite',
    sa.Column('pk', _KEY, nullable=False),
    sa.Column('res_type', sa.String(length=64), nullable=False),
    sa.Column('param', sa.String(length=64), nullable=False),
    sa.Column('combo', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('system', sa.Text(), nullable=True),
    sa.Column('code', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('norm', sa.Text(), nullable=True),
    sa.Column('exact', sa.Text(), nullable=True),
    sa.Column('target_type', sa.String(length=64), nullable=True),
    sa.Column('target_id', sa.String(length=64), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('uri', sa.Text(), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('low', sa.Float(), nullable=True),
    sa.Column('high', sa.Float(), nullable=True),
    sa.Column('canonical_code', sa.Text(), nullable=True),
    sa.Column('canonical_value', sa.Float(), nullable=True),
    sa.Column('canonical_low', sa.Float(), nullable=True),
    sa.Column('canonical_high', sa.Float(), nullable=True),
    sa.Column('date_low', sa.BigInteger(), nullable=True),
    sa.Column('date_high', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['pk'], ['resources.pk'], ondelete='CASCADE')
    )
    with op.batch_alter_table('idx_composite', schema=None) as batch_op:
        batch_op.create_index('ix_idx_composite_pk', ['pk'], unique=False)
        batch_op.create_index('ix_idx_composite_combo', ['pk', 'param', 'combo', 'slot'], unique=False)
        batch_op.create_index('ix_idx_composite_slot_code_system', ['res_type', 'param', 'slot', 'code', 'system'],
                              unique=False)
        batch_op.create_index('ix_idx_composite_slot_low', ['res_type', 'param', 'slot', 'low'], unique=False)
        batch_op.create_index('ix_idx_composite_slot_date_low', ['res_type', 'param', 'slot', 'date_low'],
                              unique=False)
    op.create_table('reindex_progress',
    sa.Column('run', sa.String(length=64), nullable=False),
    sa.Column('last_pk', sa.BigInteger(), nullable=False),
    sa.Column('started', sa.BigInteger(), nullable=False),
    sa.Column('updated', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('run')
    )


def downgrade() -> None:
    op.drop_table('reindex_progress')
    with op.batch_alter_table('idx_composite', schema=None) as batch_op:
        for index in ('ix_idx_composite_slot_date_low', 'ix_idx_composite_slot_low',
                      'ix_idx_composite_slot_code_system', 'ix_idx_composite_combo', 'ix_idx_composite_pk'):
            batch_op.drop_index(index)
    op.drop_table('idx_composite')

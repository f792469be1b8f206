"""master patient index: records' match fields and their blocking keys (ehr/mpi/tables.py)

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-01 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0003'
branch_labels = None
depends_on = None

def upgrade() -> None:
    op.create_table('mpi_records',
    sa.Column('record_key', sa.String(length=128), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('record_key')
    )
    op.create_table('mpi_block_keys',
    sa.Column('block_key', sa.String(length=255), nullable=False),
    sa.Column('record_key', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('block_key', 'record_key')
    )
    with op.batch_alter_table('mpi_block_keys', schema=None) as batch_op:
        batch_op.create_index('ix_mpi_block_keys_record', ['record_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('mpi_block_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_mpi_block_keys_record')
    op.drop_table('mpi_block_keys')
    op.drop_table('mpi_records')

"""the tamper-evident audit log and its signed checkpoints

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('seq', Key, autoincrement=False, nullable=False),
    sa.Column('recorded', sa.BigInteger(), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=256), nullable=False),
    sa.Column('interaction', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=1), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=2), nullable=False),
    sa.Column('patient', sa.String(length=128), nullable=True),
    sa.Column('patient_tenant', sa.String(length=64), nullable=True),
    sa.Column('resources', sa.Text(), nullable=False),
    sa.Column('purpose', sa.String(length=64), nullable=True),
    sa.Column('roles', sa.Text(), nullable=False),
    sa.Column('break_glass', sa.Boolean(), nullable=False),
    sa.Column('denied', sa.Boolean(), nullable=False),
    sa.Column('entry', sa.LargeBinary(), nullable=False),
    sa.Column('chain', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_patient', ['patient', 'seq'], unique=False)
        batch_op.create_index('ix_audit_log_agent', ['agent', 'seq'], unique=False)
        batch_op.create_index('ix_audit_log_recorded', ['recorded'], unique=False)

    op.create_table('audit_checkpoints',
    sa.Column('size', Key, autoincrement=False, nullable=False),
    sa.Column('head', sa.LargeBinary(), nullable=False),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('size')
    )


def downgrade() -> None:
    op.drop_table('audit_checkpoints')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_recorded')
        batch_op.drop_index('ix_audit_log_agent')
        batch_op.drop_index('ix_audit_log_patient')

    op.drop_table('audit_log')

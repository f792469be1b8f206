"""envelope encryption: data_keys, and the patient / erased columns of resources and versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_keys',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=True),
    sa.Column('kek_version', sa.Integer(), nullable=False),
    sa.Column('wrapped', sa.LargeBinary(), nullable=True),
    sa.Column('created', sa.BigInteger(), nullable=False),
    sa.Column('erased', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('key_id'),
    sa.UniqueConstraint('tenant', 'owner', name='uq_data_keys_tenant_owner')
    )
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.create_index('ix_data_keys_tenant_version', ['tenant', 'kek_version'], unique=False)
    for table, index in (('resources', 'ix_resources_tenant_patient'),
                         ('resource_versions', 'ix_versions_tenant_patient')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('patient', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('erased', sa.Boolean(), server_default=sa.false(), nullable=False))
            batch_op.create_index(index, ['tenant', 'patient'], unique=False)


def downgrade() -> None:
    for table, index in (('resource_versions', 'ix_versions_tenant_patient'),
                         ('resources', 'ix_resources_tenant_patient')):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
            batch_op.drop_column('erased')
            batch_op.drop_column('patient')
    with op.batch_alter_table('data_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_data_keys_tenant_version')
    op.drop_table('data_keys')

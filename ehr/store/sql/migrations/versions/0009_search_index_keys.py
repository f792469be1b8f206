"""search: the token and reference lookup indexes end with the resource key, so that a search's matches
come out of the index in key order (a page is read straight from the index, and an IN list of keys is
built from the index alone); measured in BENCHMARKS.md, "Search (issue 3)"

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 23:20:00
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_CHANGES = (
    ('idx_token', 'ix_idx_token_code_system', ['res_type', 'param', 'code', 'system']),
    ('idx_reference', 'ix_idx_reference_target_id_target_type', ['res_type', 'param', 'target_id', 'target_type']),
)


def upgrade() -> None:
    for table, old, columns in _CHANGES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(old)
            batch_op.create_index(f'{old}_pk', [*columns, 'pk'], unique=False)


def downgrade() -> None:
    for table, old, columns in _CHANGES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f'{old}_pk')
            batch_op.create_index(old, columns, unique=False)

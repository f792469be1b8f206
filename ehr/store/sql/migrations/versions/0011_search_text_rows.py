"""search: ``:text`` searches string rows (``code:text``: CodeableConcept.text and every Coding.display,
Identifier.type.text; ``subject:display``: Reference.display) in ``idx_string``, so the token tables lose
their ``text`` column; on PostgreSQL ``idx_string.norm`` is collated "C" (code point order, as SQLite's
BINARY), so that a starts-with search is a range of ``ix_idx_string_norm``.

The rows of resources written before this migration are rebuilt by ``ehr reindex`` (README, "Upgrading"):
until it has run, ``:text`` finds only resources written since.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_TABLES = ('idx_token', 'idx_composite')


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('text')
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('idx_string', 'norm', type_=sa.Text(collation='C'), existing_type=sa.Text(),
                        existing_nullable=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('idx_string', 'norm', type_=sa.Text(), existing_type=sa.Text(collation='C'),
                        existing_nullable=False)
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))

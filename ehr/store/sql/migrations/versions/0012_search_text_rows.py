"""search: ``:text`` searches string rows (``code:text``: CodeableConcept.text and every Coding.display,
Identifier.type.text; ``subject:display``: Reference.display) in ``idx_string``, so the token tables lose
their ``text`` column; on PostgreSQL ``idx_string.norm`` is collated "C" (code point order, as SQLite's
BINARY), so that a starts-with search is a range of ``ix_idx_string_norm``.

Extraction version 3 writes those rows: a database that holds resources keeps its recorded (older)
version, so ``ehr serve`` rebuilds its rows at start (README, "Upgrading"); an empty one is recorded as 3.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
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
    resources = sa.table('resources', sa.column('pk'))
    if op.get_bind().execute(sa.select(resources.c.pk).limit(1)).first() is None:
        op.execute(sa.table('search_index_version', sa.column('extraction')).update().values(extraction=3))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.alter_column('idx_string', 'norm', type_=sa.Text(), existing_type=sa.Text(collation='C'),
                        existing_nullable=False)
    for table in _TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('text', sa.Text(), nullable=True))

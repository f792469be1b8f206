"""search: record which extraction built the stored index rows (``search_index_version``). Extraction
version 2 indexes a number or quantity as its value instead of the range of its precision
(https://hl7.org/fhir/R4/search.html#number), so the rows of a database that holds resources were built
by version 1 and are rebuilt from the resources' bodies (which only the application can open) by
``ehr reindex``, which ``ehr serve`` runs at start while the recorded version is older; an empty
database has nothing to rebuild

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table('search_index_version',
    sa.Column('extraction', sa.Integer(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('extraction')
    )
    resources = sa.table('resources', sa.column('pk'))
    indexed = op.get_bind().execute(sa.select(resources.c.pk).limit(1)).first() is not None
    op.bulk_insert(table, [{'extraction': 1 if indexed else 2}])


def downgrade() -> None:
    op.drop_table('search_index_version')

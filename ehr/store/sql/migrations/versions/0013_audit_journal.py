"""audit: ``audit_journal`` records how far each audit journal file (``ehr.audit.journal``) is drained
into ``audit_log``, in the transaction that appends its entries, so that no entry is lost or appended
twice across a crash

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_journal',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('drained', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )


def downgrade() -> None:
    op.drop_table('audit_journal')

"""built-in SMART authorization server: clients, users, one-time codes, rotating refresh tokens, EHR
launch contexts, issued access tokens and seen client-assertion ids (``ehr.auth.server.tables``)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 12:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_TABLES = ('auth_users', 'auth_tokens', 'auth_refresh', 'auth_launches', 'auth_codes', 'auth_clients',
           'auth_assertion_jtis')


def upgrade() -> None:
    op.create_table('auth_assertion_jtis',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('jti', sa.String(length=255), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('client_id', 'jti')
    )
    op.create_table('auth_clients',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('jwks', sa.Text(), nullable=True),
    sa.Column('jwks_uri', sa.String(length=2000), nullable=True),
    sa.Column('redirect_uris', sa.Text(), nullable=False),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.create_table('auth_codes',
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('redirect_uri', sa.String(length=2000), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('code_hash')
    )
    op.create_table('auth_launches',
    sa.Column('launch_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('launch_hash')
    )
    op.create_table('auth_refresh',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('patient', sa.String(length=64), nullable=True),
    sa.Column('encounter', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('rotated', sa.Boolean(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('token_hash')
    )
    with op.batch_alter_table('auth_refresh', schema=None) as batch_op:
        batch_op.create_index('ix_auth_refresh_family', ['family'], unique=False)

    op.create_table('auth_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('family', sa.String(length=64), nullable=True),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('auth_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_auth_tokens_family', ['family'], unique=False)

    op.create_table('auth_users',
    sa.Column('username', sa.String(length=128), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=400), nullable=False),
    sa.Column('roles', sa.String(length=1000), nullable=False),
    sa.Column('fhir_user', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('username')
    )


def downgrade() -> None:
    for table in _TABLES:  # dropping a table drops its indexes
        op.drop_table(table)

"""The built-in authorization server's tables (SQLAlchemy Core, on the store's ``metadata``; created
by migration ``0010``). No secret is stored in clear: passwords are scrypt hashes, authorization codes,
refresh tokens and launch ids are SHA-256 hashes; clients authenticate with their own key pairs, so
only their public JWKS is kept.

- ``auth_clients``: registered applications of one hospital: ``confidential`` (private_key_jwt with an
  inline JWKS or a ``jwks_uri``) or ``public`` (PKCE only); the most it may be granted (``scopes``).
- ``auth_users``: people who log in at ``/auth/authorize``: their hospital, roles and ``fhirUser``.
- ``auth_codes``: one-time authorization codes (60 s) bound to client, redirect URI, PKCE challenge.
- ``auth_refresh``: rotating refresh tokens; a family is every token descended from one grant, and
  reuse of a rotated token revokes the whole family (OAuth 2.0 Security BCP §4.14).
- ``auth_launches``: EHR launch contexts (``ehr launch``): opaque launch id → patient, encounter.
- ``auth_tokens``: issued access tokens (jti), for introspection and revocation.
- ``auth_assertion_jtis``: client assertion ids seen, until they expire (replay protection).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, String, Table, Text

from ehr.store.sql.schema import metadata

auth_clients = Table(
    "auth_clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    #: "confidential" (asymmetric keys: private_key_jwt) or "public" (PKCE only)
    Column("kind", String(16), nullable=False),
    #: the client's public JWK Set (JSON), or None when it publishes one at ``jwks_uri``
    Column("jwks", Text, nullable=True),
    Column("jwks_uri", String(2000), nullable=True),
    #: JSON list of exact redirect URIs
    Column("redirect_uris", Text, nullable=False),
    #: space-separated scopes: the most this client may be granted
    Column("scopes", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
)

auth_users = Table(
    "auth_users",
    metadata,
    Column("username", String(128), primary_key=True),
    Column("tenant", String(64), nullable=False),
    #: ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``
    Column("password_hash", String(400), nullable=False),
    #: comma-separated roles
    Column("roles", String(1000), nullable=False),
    Column("fhir_user", String(200), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled", Boolean, nullable=False),
)

auth_codes = Table(
    "auth_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("redirect_uri", String(2000), nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("scope", Text, nullable=False),
    Column("username", String(128), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("patient", String(64), nullable=True),
    Column("encounter", String(64), nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    #: the token family the code was redeemed into (None: not redeemed yet); a second redemption
    #: revokes that family (RFC 6749 §4.1.2)
    Column("family", String(64), nullable=True),
)

auth_refresh = Table(
    "auth_refresh",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("family", String(64), nullable=False),
    Column("client_id", String(64), nullable=False),
    Column("username", String(128), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("scope", Text, nullable=False),
    Column("patient", String(64), nullable=True),
    Column("encounter", String(64), nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    #: replaced by a newer token of the family; presenting it again revokes the family
    Column("rotated", Boolean, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Index("ix_auth_refresh_family", "family"),
)

auth_launches = Table(
    "auth_launches",
    metadata,
    Column("launch_hash", String(64), primary_key=True),
    #: the only client that may use it; None: any client of the tenant
    Column("client_id", String(64), nullable=True),
    Column("tenant", String(64), nullable=False),
    Column("patient", String(64), nullable=True),
    Column("encounter", String(64), nullable=True),
    Column("expires_at", BigInteger, nullable=False),
)

auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("client_id", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("family", String(64), nullable=True),
    Column("expires_at", BigInteger, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Index("ix_auth_tokens_family", "family"),
)

auth_assertion_jtis = Table(
    "auth_assertion_jtis",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", BigInteger, nullable=False),
)

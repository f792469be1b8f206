"""Registered clients and users (``auth_clients``, ``auth_users``), read and written inside a unit of
work of the SQL store. Administrators register them with ``ehr clients`` and ``ehr users``.

Clients: https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html (confidential,
private_key_jwt) and https://hl7.org/fhir/smart-app-launch/client-public.html (public, PKCE only).
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, select, update

from ehr.auth.server.hashing import hash_password, verify_password
from ehr.auth.server.tables import auth_clients, auth_users
from ehr.errors import ServiceUnavailable
from ehr.store.protocol import Tx

ClientKind = Literal["confidential", "public"]


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    tenant: str
    name: str
    kind: ClientKind
    #: the public JWK Set (confidential clients registered with an inline JWKS)
    jwks: dict[str, Any] | None
    jwks_uri: str | None
    redirect_uris: tuple[str, ...]
    #: the most this client may be granted
    scopes: tuple[str, ...]
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class User:
    username: str
    tenant: str
    roles: tuple[str, ...]
    fhir_user: str | None
    disabled: bool = False


def connection(tx: Tx) -> Connection:
    """The database connection of ``tx`` (the authorization server keeps its tables in the SQL store)."""
    conn = getattr(tx, "conn", None)
    if not isinstance(conn, Connection):
        raise ServiceUnavailable("The built-in authorization server keeps its registry in the SQL store; "
                                 "run the server on SQLite or PostgreSQL to use it.")
    return conn


def register_client(conn: Connection, *, tenant: str, name: str, kind: ClientKind, scopes: tuple[str, ...],
                    redirect_uris: tuple[str, ...] = (), jwks: dict[str, Any] | None = None,
                    jwks_uri: str | None = None) -> Client:
    """Register a client and return it with its new ``client_id``."""
    if kind == "confidential" and (jwks is None) == (jwks_uri is None):
        raise ValueError("a confidential client needs exactly one of a JWKS (--jwks FILE) or a JWKS URL "
                         "(--jwks-url)")
    if kind == "public" and not redirect_uris:
        raise ValueError("a public client needs at least one --redirect-uri")
    client = Client(secrets.token_urlsafe(16), tenant, name, kind, jwks, jwks_uri, redirect_uris, scopes)
    conn.execute(auth_clients.insert().values(
        client_id=client.client_id, tenant=tenant, name=name, kind=kind,
        jwks=orjson.dumps(jwks).decode() if jwks is not None else None, jwks_uri=jwks_uri,
        redirect_uris=orjson.dumps(list(redirect_uris)).decode(), scopes=" ".join(scopes),
        created_at=int(time.time()), disabled=False))
    return client


def find_client(conn: Connection, client_id: str) -> Client | None:
    row = conn.execute(select(auth_clients).where(auth_clients.c.client_id == client_id)).first()
    return None if row is None else _client(row._asdict())


def list_clients(conn: Connection) -> list[Client]:
    rows = conn.execute(select(auth_clients).order_by(auth_clients.c.tenant, auth_clients.c.name)).all()
    return [_client(r._asdict()) for r in rows]


def disable_client(conn: Connection, client_id: str) -> bool:
    """Disable a client (its tokens stop being introspected as active); False when unknown."""
    done = conn.execute(update(auth_clients).where(auth_clients.c.client_id == client_id).values(disabled=True))
    return bool(done.rowcount)


def _client(row: dict[str, Any]) -> Client:
    return Client(row["client_id"], row["tenant"], row["name"], row["kind"],
                  orjson.loads(row["jwks"]) if row["jwks"] else None, row["jwks_uri"],
                  tuple(orjson.loads(row["redirect_uris"])), tuple(row["scopes"].split()), bool(row["disabled"]))


def add_user(conn: Connection, *, username: str, tenant: str, password: str, roles: tuple[str, ...],
             fhir_user: str | None = None) -> User:
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    conn.execute(auth_users.insert().values(
        username=username, tenant=tenant, password_hash=hash_password(password), roles=",".join(roles),
        fhir_user=fhir_user, created_at=int(time.time()), disabled=False))
    return User(username, tenant, roles, fhir_user)


def find_user(conn: Connection, username: str) -> User | None:
    row = conn.execute(select(auth_users).where(auth_users.c.username == username)).first()
    if row is None:
        return None
    return User(row.username, row.tenant, tuple(filter(None, row.roles.split(","))), row.fhir_user,
                bool(row.disabled))


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authenticate(conn: Connection, username: str, password: str) -> User | None:
    """The enabled user with this password, else None (the same answer for every failure)."""
    row = conn.execute(select(auth_users.c.password_hash).where(auth_users.c.username == username)).first()
    if row is None:
        verify_password(password, _dummy_hash())  # as slow whether the user exists or not
        return None
    user = find_user(conn, username)
    if user is None or user.disabled or not verify_password(password, row.password_hash):
        return None
    return user

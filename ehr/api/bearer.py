"""Who is calling: the one place a request becomes a :class:`~ehr.auth.validator.Grant`.

``Settings.auth == "smart"`` (the default): every request must carry ``Authorization: Bearer <JWT>``
(RFC 6750 §2.1), validated by ``ehr.auth.validator``; a missing token is a 401 whose
``WWW-Authenticate: Bearer realm="ehr"`` carries no error code, an invalid one a 401 with
``error="invalid_token"`` and a description (RFC 6750 §3). Every 401 is audited (denied, no PHI, never
the token). The token's issuer must be ``Settings.auth_issuer`` (default ``<origin>/auth``, the
built-in server) and its audience ``Settings.auth_audience`` (default the FHIR base URL). A request may
still declare its purpose of use per request with ``X-Purpose-Of-Use``; break-glass only comes from the
token (``break_glass`` claim), never from a header.

``Settings.auth == "dev"`` (``ehr serve --dev``): the development headers ``X-Tenant``, ``X-User``,
``X-Roles: a,b``, ``X-Purpose-Of-Use`` and ``X-Break-Glass`` describe the caller, with unrestricted
scopes. Local exploration only.
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from fastapi import Request

from ehr.api import negotiation as neg
from ehr.api.request_audit import audit_refusal
from ehr.audit.receipts import attach
from ehr.auth.boundary import Principal
from ehr.auth.signing import SigningKeys
from ehr.auth.validator import Grant, InvalidToken, KeySource, RemoteJwks, StaticKeys, TokenValidator
from ehr.errors import BadRequest, Unauthorized
from ehr.settings import Settings

REALM = "ehr"
#: where the request's grant is kept once computed (in the ASGI scope: no attribute lookups that fail)
_SCOPE_KEY = "ehr.grant"
_CODE = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


def open_signing_keys(settings: Settings) -> SigningKeys | None:
    """The built-in authorization server's keys (made on first start); None in development mode or
    with an external identity provider."""
    if settings.auth not in ("smart", "dev"):
        raise ValueError(f"unknown authorization mode {settings.auth!r}; set EHR_AUTH to smart or dev")
    if settings.auth == "dev" or settings.auth_jwks_url:
        return None
    return SigningKeys.load_or_create(settings.keys_dir)


def open_token_validator(settings: Settings, signing_keys: SigningKeys | None) -> TokenValidator | None:
    """The validator for ``settings``: None in development mode; else checking signatures against the
    external identity provider's JWKS (``auth_jwks_url``) or the service's own signing keys."""
    if settings.auth == "dev":
        return None
    keys: KeySource
    if settings.auth_jwks_url:
        keys = RemoteJwks(settings.auth_jwks_url)
    else:
        assert signing_keys is not None, "open_signing_keys gives the keys when no external IdP is set"
        keys = StaticKeys(signing_keys.public_jwks())
    return TokenValidator(keys)


def authenticate(request: Request) -> Grant:
    """The caller of ``request`` (computed once per request); raises ``Unauthorized`` (audited)."""
    cached: Grant | None = request.scope.get(_SCOPE_KEY)
    if cached is not None:
        return cached
    settings: Settings = request.app.state.settings
    grant = _from_headers(request, settings) if settings.auth == "dev" else _from_token(request, settings)
    request.scope[_SCOPE_KEY] = grant
    return grant


def expected_issuer(request: Request, settings: Settings) -> str:
    """The issuer tokens must name: configured, or the built-in server at ``<origin>/auth``."""
    return settings.auth_issuer or f"{origin(request)}/auth"


def origin(request: Request) -> str:
    """``scheme://host[:port]`` of the public base URL (configured, or the request's)."""
    return _origin_of(neg.fhir_base(request))


@functools.lru_cache(maxsize=64)
def _origin_of(base: str) -> str:
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}"


def code(value: str | None, header: str) -> str | None:
    """A header holding a code or identifier (never free text, which the audit log must not store)."""
    if not value:
        return None
    if not _CODE.fullmatch(value):
        raise BadRequest(f"{header} must be a code (letters, digits and . _ : @ -, at most 128), not free text.")
    return value


def _from_headers(request: Request, settings: Settings) -> Grant:
    headers = request.headers
    roles = tuple(filter(None, (code(r.strip(), "X-Roles") for r in headers.get("x-roles", "").split(","))))
    principal = Principal(tenant=code(headers.get("x-tenant"), "X-Tenant") or settings.default_tenant,
                          subject=code(headers.get("x-user"), "X-User") or "anonymous", roles=roles)
    return Grant(principal, code(headers.get("x-purpose-of-use"), "X-Purpose-Of-Use"),
                 bool(headers.get("x-break-glass", "").strip()))


def _from_token(request: Request, settings: Settings) -> Grant:
    scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refuse(request, None, "This server requires a SMART on FHIR access token: send "
                      "Authorization: Bearer <token> (get one from the authorization server, or `ehr token` locally).")
    validator: TokenValidator = request.app.state.token_validator
    try:
        grant = validator.validate(token.strip(), issuer=expected_issuer(request, settings),
                                   audience=settings.auth_audience or neg.fhir_base(request))
    except InvalidToken as exc:
        raise _refuse(request, "invalid_token", f"The access token was refused: {exc}.") from None
    purpose = code(request.headers.get("x-purpose-of-use"), "X-Purpose-Of-Use")
    return Grant(grant.principal, purpose or grant.purpose_of_use, grant.break_glass)


def _refuse(request: Request, error: str | None, message: str) -> Unauthorized:
    """A 401 with its WWW-Authenticate challenge (RFC 6750 §3), its denial already being audited."""
    challenge = f'Bearer realm="{REALM}"'
    if error is not None:
        description = message.replace('"', "'").replace("\\", "/")
        challenge += f', error="{error}", error_description="{description}"'
    exc = Unauthorized(message, headers={"WWW-Authenticate": challenge})
    attach(exc, audit_refusal(request, 401))
    return exc

"""Bearer access tokens (JWT) → :class:`Grant`: who calls, for which hospital, with which scopes.

Validation (RFC 7519 §7.2, RFC 8725 §3.1, SMART App Launch 2.x §Access token):

* the header's ``alg`` must be one of :data:`ALGORITHMS` — asymmetric signatures only, so ``alg: none``
  and HMAC tokens (``HS256`` "signed" with the public key as a shared secret) are refused before any
  key is touched;
* the signature must verify with the key of the header's ``kid`` in the trusted JWK Set: the service's
  own keys (``ehr.auth.signing``), or an external identity provider's ``jwks_uri`` (:class:`RemoteJwks`,
  fetched with httpx, cached, refetched when an unknown ``kid`` appears, at most once per
  :attr:`RemoteJwks.min_refresh_s`);
* ``iss`` must equal the expected issuer, ``aud`` (string or list) must hold the expected audience,
  ``exp`` is required and ``nbf``/``exp`` are checked with :data:`LEEWAY_S` seconds of clock skew;
* the claims the service needs must be present: ``tenant`` (the hospital), ``sub`` (or ``client_id``),
  and a ``scope`` that follows the SMART grammar (``ehr.auth.tokens``).

Every failure is one :class:`InvalidToken` whose message says what was wrong, never the token itself.

A signature that verified is remembered (:class:`TokenValidator` keeps the claims of up to
:data:`VERIFIED_CACHE` recent tokens, keyed by the whole token, whose signature covers every claim), so
a client that reuses its token pays the signature check once, and the grant its claims describe is
remembered with them unless it holds a break-glass grant (whose own expiry is checked per request);
issuer, audience and expiry are still checked on every request.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from ehr.auth.boundary import Principal
from ehr.auth.tokens import ScopeError, parse_scopes

#: accepted signature algorithms (RFC 7518 §3.1): RSA PKCS#1, RSA-PSS, ECDSA and EdDSA; never none or HS*
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
LEEWAY_S = 30
#: how many verified tokens' claims the validator remembers
VERIFIED_CACHE = 4096
_CODE = re.compile(r"[A-Za-z0-9._:@|-]{1,128}")


class InvalidToken(ValueError):
    """The bearer token is not acceptable; the message says why (never quoting the token)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token grants: the principal, its declared purpose of use (a v3 ActReason code) and
    whether a break-glass grant is active now."""

    principal: Principal
    purpose_of_use: str | None = None
    break_glass: bool = False


class KeySource(Protocol):
    def key_for(self, kid: str | None) -> Any:
        """The verification key of ``kid``; raises :class:`InvalidToken` when there is none."""
        ...

    def close(self) -> None: ...


class StaticKeys:
    """A fixed JWK Set (the service's own public keys)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self.keys = KeySet.import_key_set(dict(jwks))  # type: ignore[arg-type]

    def key_for(self, kid: str | None) -> Any:
        return _pick(self.keys, kid)

    def close(self) -> None:
        return None


class RemoteJwks:
    """An identity provider's JWK Set at ``url``: fetched on first use, kept for ``max_age_s``,
    refetched early when a token names an unknown ``kid`` (key rotation), but not more often than
    every ``min_refresh_s`` (so forged ``kid`` values cannot make the service hammer the provider)."""

    def __init__(self, url: str, *, max_age_s: float = 3600, min_refresh_s: float = 30,
                 client: httpx.Client | None = None) -> None:
        self.url, self.max_age_s, self.min_refresh_s = url, max_age_s, min_refresh_s
        self._client = client or httpx.Client(timeout=5, follow_redirects=False)
        self._keys: KeySet | None = None
        self._fetched = float("-inf")
        self._lock = threading.Lock()

    def key_for(self, kid: str | None) -> Any:
        with self._lock:
            now = time.monotonic()
            stale = self._keys is None or now - self._fetched > self.max_age_s
            rotated = self._keys is not None and not _has(self._keys, kid) \
                and now - self._fetched > self.min_refresh_s
            if stale or rotated:
                self._refresh(now)
            assert self._keys is not None
            return _pick(self._keys, kid)

    def _refresh(self, now: float) -> None:
        self._fetched = now
        try:
            response = self._client.get(self.url, headers={"Accept": "application/json"})
            response.raise_for_status()
            self._keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            if self._keys is None:
                raise InvalidToken(f"the identity provider's keys could not be fetched ({type(exc).__name__}); "
                                   "check EHR_AUTH_JWKS_URL and retry") from None

    def close(self) -> None:
        self._client.close()


def _has(keys: KeySet, kid: str | None) -> bool:
    return (kid is None and len(keys.keys) == 1) or any(k.kid == kid for k in keys.keys)


def _pick(keys: KeySet, kid: str | None) -> Any:
    if not _has(keys, kid):
        raise InvalidToken("the token's signing key (kid) is not among the trusted keys; get a new token")
    return keys.keys[0] if kid is None else next(k for k in keys.keys if k.kid == kid)


class TokenValidator:
    """Checks bearer tokens against ``keys``; the expected issuer and audience are given per call (by
    default they derive from the request's origin)."""

    def __init__(self, keys: KeySource) -> None:
        self.keys = keys
        self._verified: OrderedDict[str, tuple[dict[str, Any], Grant | None]] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        self.keys.close()

    def validate(self, token: str, *, issuer: str, audience: str) -> Grant:
        claims, grant = self._remembered(token)
        now = int(time.time())
        _check_registered(claims, issuer, audience, now)
        return grant if grant is not None else grant_of(claims, now)

    def _remembered(self, token: str) -> tuple[dict[str, Any], Grant | None]:
        """The claims of ``token`` once its signature verified, and the grant they describe when it
        does not depend on the time (remembered, most recent first)."""
        with self._lock:
            found = self._verified.get(token)
            if found is not None:
                self._verified.move_to_end(token)
                return found
        claims = self._verified_claims(token)
        grant = None
        if "break_glass" not in claims:
            with contextlib.suppress(InvalidToken):  # raised again by grant_of on every use
                grant = grant_of(claims, 0)
        with self._lock:
            self._verified[token] = (claims, grant)
            while len(self._verified) > VERIFIED_CACHE:
                self._verified.popitem(last=False)
        return claims, grant

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError):
            raise InvalidToken("the bearer token is not a signed JWT (header.payload.signature)") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise InvalidToken(f"tokens signed with alg {str(alg)[:16]!r} are refused; the issuer must sign "
                               f"with one of {', '.join(ALGORITHMS)}")
        kid = header.get("kid")
        key = self.keys.key_for(kid if isinstance(kid, str) else None)
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except JoseError:
            raise InvalidToken("the token's signature does not verify; get a new token from the issuer") from None
        return dict(decoded.claims)


def _check_registered(claims: Mapping[str, Any], issuer: str, audience: str, now: int) -> None:
    """``iss``, ``aud``, ``exp`` and ``nbf`` (RFC 7519 §4.1)."""
    if claims.get("iss") != issuer:
        raise InvalidToken(f"the token was issued by another issuer; this server accepts tokens of {issuer}")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise InvalidToken(f"the token is not meant for this server; ask for one with audience {audience}")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise InvalidToken("the token has no expiry (exp); the issuer must set one")
    if now > exp + LEEWAY_S:
        raise InvalidToken("the token has expired; get a new one (or use the refresh token)")
    if nbf is not None and (not isinstance(nbf, int | float) or now + LEEWAY_S < nbf):
        raise InvalidToken("the token is not valid yet (nbf); check the clocks and retry later")


def grant_of(claims: Mapping[str, Any], now: int) -> Grant:
    """The principal and context the claims describe (SMART App Launch 2.x §Launch context)."""
    tenant = _claim(claims, "tenant")
    client_id = _claim(claims, "client_id") or _claim(claims, "azp")
    subject = _claim(claims, "sub") or client_id
    if tenant is None or subject is None:
        raise InvalidToken("the token names no hospital (tenant claim) or no subject (sub); "
                           "the issuer must add both")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidToken("the token's scope claim must be a space-separated string")
    try:
        scopes = parse_scopes(scope)
    except ScopeError as exc:
        raise InvalidToken(str(exc)) from None
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) and _CODE.fullmatch(r) for r in roles):
        raise InvalidToken("the token's roles claim must be a list of codes")
    principal = Principal(tenant=tenant, subject=subject, roles=tuple(roles), client_id=client_id, scopes=scopes,
                          patient=_claim(claims, "patient"),
                          encounter=_claim(claims, "encounter"),
                          fhir_user=_reference(claims.get("fhirUser")))
    return Grant(principal, _claim(claims, "purpose_of_use"), _break_glass(claims, now))


def _claim(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise InvalidToken(f"the token's {name} claim must be an identifier or code (at most 128 characters)")
    return value


def _reference(value: object) -> str | None:
    """``fhirUser``: a relative or absolute URL of a Practitioner/Patient/...; kept as the relative part."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 512:
        raise InvalidToken("the token's fhirUser claim must be the URL of a FHIR resource")
    parts = value.rstrip("/").split("/")
    if len(parts) < 2 or not _CODE.fullmatch(parts[-1]) or not parts[-2][:1].isupper():
        raise InvalidToken("the token's fhirUser claim must be the URL of a FHIR resource (Practitioner/123)")
    return f"{parts[-2]}/{parts[-1]}"


def _break_glass(claims: Mapping[str, Any], now: int) -> bool:
    """An emergency-access grant ``{"reason": code, "exp": ts}`` is active only until its own expiry."""
    grant = claims.get("break_glass")
    if grant is None:
        return False
    if not isinstance(grant, dict) or not isinstance(grant.get("reason"), str) \
            or not isinstance(grant.get("exp"), int | float):
        raise InvalidToken("the token's break_glass claim must be {\"reason\": code, \"exp\": time}")
    return bool(now < grant["exp"])

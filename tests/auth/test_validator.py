"""Bearer JWT validation (RFC 7519 §7.2, RFC 8725 §3.1): every kind of bad token is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from joserfc import jwt

from ehr.auth.signing import SigningKeys
from ehr.auth.validator import InvalidToken, RemoteJwks, StaticKeys, TokenValidator

ISS, AUD = "http://ehr.test/auth", "http://ehr.test/fhir"
CLAIMS = {"iss": ISS, "aud": AUD, "sub": "dr-who", "tenant": "hospital-a", "client_id": "app",
          "scope": "openid fhirUser launch/patient patient/Observation.rs?category=laboratory user/*.read",
          "patient": "p1", "fhirUser": "http://ehr.test/fhir/Practitioner/9", "roles": ["clinician"]}


@pytest.fixture(scope="module")
def keys() -> SigningKeys:
    return SigningKeys.generate()


def validate(keys: SigningKeys, token: str) -> Any:
    return TokenValidator(StaticKeys(keys.public_jwks())).validate(token, issuer=ISS, audience=AUD)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_a_valid_token_describes_the_principal(keys: SigningKeys) -> None:
    grant = validate(keys, keys.mint(CLAIMS))
    p = grant.principal
    assert (p.tenant, p.subject, p.client_id, p.patient, p.fhir_user, p.roles) == \
        ("hospital-a", "dr-who", "app", "p1", "Practitioner/9", ("clinician",))
    assert p.scopes is not None
    assert [s.resource_type for s in p.scopes] == ["Observation", "*"]
    assert not grant.break_glass


def test_break_glass_is_active_only_until_its_expiry(keys: SigningKeys) -> None:
    now = int(time.time())
    active = {**CLAIMS, "break_glass": {"reason": "PATEMERGE", "exp": now + 60}, "purpose_of_use": "ETREAT"}
    assert validate(keys, keys.mint(active)).break_glass
    assert validate(keys, keys.mint(active)).purpose_of_use == "ETREAT"
    assert not validate(keys, keys.mint({**active, "break_glass": {"reason": "X", "exp": now - 1}})).break_glass


def _header_swap(token: str, header: dict[str, Any], key: bytes | None) -> str:
    payload = token.split(".")[1]
    head = _b64(orjson.dumps(header))
    if key is None:
        return f"{head}.{payload}."
    return f"{head}.{payload}.{_b64(hmac.new(key, f'{head}.{payload}'.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize("case", ["expired", "not-yet-valid", "no-exp", "wrong-aud", "wrong-iss", "no-tenant",
                                  "bad-scope", "alg-none", "hs256-public-key", "unknown-kid", "forged",
                                  "garbage"])
def test_bad_tokens_are_refused(keys: SigningKeys, case: str) -> None:
    now = int(time.time())
    other = SigningKeys.generate()
    tokens: dict[str, Callable[[], str]] = {
        "expired": lambda: keys.mint({**CLAIMS, "exp": now - 120}),
        "not-yet-valid": lambda: keys.mint({**CLAIMS, "nbf": now + 600}),
        "no-exp": lambda: jwt.encode({"alg": "ES384", "kid": keys.current.kid}, CLAIMS, keys.current,
                                     algorithms=["ES384"]),
        "wrong-aud": lambda: keys.mint({**CLAIMS, "aud": "http://elsewhere/fhir"}),
        "wrong-iss": lambda: keys.mint({**CLAIMS, "iss": "http://elsewhere/auth"}),
        "no-tenant": lambda: keys.mint({k: v for k, v in CLAIMS.items() if k != "tenant"}),
        "bad-scope": lambda: keys.mint({**CLAIMS, "scope": "patient/Observation.sr"}),
        "alg-none": lambda: _header_swap(keys.mint(CLAIMS), {"alg": "none"}, None),
        "hs256-public-key": lambda: _header_swap(keys.mint(CLAIMS), {"alg": "HS256", "kid": keys.current.kid},
                                                 orjson.dumps(keys.public_jwks())),
        "unknown-kid": lambda: other.mint(CLAIMS),
        "forged": lambda: jwt.encode({"alg": "ES384", "kid": keys.current.kid}, {**CLAIMS, "exp": now + 60},
                                     other.current, algorithms=["ES384"]),
        "garbage": lambda: "not.a-token",
    }
    with pytest.raises(InvalidToken):
        validate(keys, tokens[case]())


def test_audience_may_be_a_list(keys: SigningKeys) -> None:
    assert validate(keys, keys.mint({**CLAIMS, "aud": ["other", AUD]})).principal.tenant == "hospital-a"


def test_remote_keys_are_refetched_for_a_new_kid_but_not_hammered() -> None:
    first, rotated = SigningKeys.generate(), SigningKeys.generate()
    served = [first]
    fetches: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        fetches.append(1)
        return httpx.Response(200, json=served[-1].public_jwks())

    source = RemoteJwks("https://idp.test/jwks", min_refresh_s=0,
                        client=httpx.Client(transport=httpx.MockTransport(handler)))
    validator = TokenValidator(source)
    assert validator.validate(first.mint(CLAIMS), issuer=ISS, audience=AUD).principal.subject == "dr-who"
    served.append(rotated)
    assert validator.validate(rotated.mint(CLAIMS), issuer=ISS, audience=AUD).principal.subject == "dr-who"
    assert len(fetches) == 2
    slow = RemoteJwks("https://idp.test/jwks", min_refresh_s=3600,
                      client=httpx.Client(transport=httpx.MockTransport(handler)))
    for _ in range(3):
        with pytest.raises(InvalidToken):
            TokenValidator(slow).validate(SigningKeys.generate().mint(CLAIMS), issuer=ISS, audience=AUD)
    assert len(fetches) == 3  # one fetch for the first use, none for the unknown kids


def test_a_remembered_signature_still_has_its_claims_checked(keys: SigningKeys,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    validator = TokenValidator(StaticKeys(keys.public_jwks()))
    token = keys.mint(CLAIMS, lifetime_s=60)
    assert validator.validate(token, issuer=ISS, audience=AUD).principal.subject == "dr-who"
    with pytest.raises(InvalidToken, match="another issuer"):
        validator.validate(token, issuer="http://other.test/auth", audience=AUD)
    with pytest.raises(InvalidToken, match="not meant for this server"):
        validator.validate(token, issuer=ISS, audience="http://other.test/fhir")
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(InvalidToken, match="expired"):
        validator.validate(token, issuer=ISS, audience=AUD)


def test_a_forged_token_is_refused_even_beside_a_remembered_one(keys: SigningKeys) -> None:
    validator = TokenValidator(StaticKeys(keys.public_jwks()))
    token = keys.mint(CLAIMS)
    validator.validate(token, issuer=ISS, audience=AUD)
    head, _payload, signature = token.split(".")
    forged_payload = _b64(orjson.dumps({**CLAIMS, "exp": int(time.time()) + 60, "tenant": "hospital-b"}))
    with pytest.raises(InvalidToken, match="signature"):
        validator.validate(f"{head}.{forged_payload}.{signature}", issuer=ISS, audience=AUD)


def test_a_remembered_grant_is_reused_but_a_break_glass_grant_still_expires(
        keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    validator = TokenValidator(StaticKeys(keys.public_jwks()))
    token = keys.mint(CLAIMS, lifetime_s=600)
    first = validator.validate(token, issuer=ISS, audience=AUD)
    assert validator.validate(token, issuer=ISS, audience=AUD) is first  # built once per token
    now = int(time.time())
    glass = keys.mint({**CLAIMS, "break_glass": {"reason": "PATEMERGE", "exp": now + 60}}, lifetime_s=600)
    assert validator.validate(glass, issuer=ISS, audience=AUD).break_glass
    monkeypatch.setattr(time, "time", lambda: now + 120)  # the grant's own expiry passed; the token's has not
    assert not validator.validate(glass, issuer=ISS, audience=AUD).break_glass
    bad_scope = keys.mint({**CLAIMS, "scope": 7}, lifetime_s=600)
    for _ in range(2):  # refused on every use, not only the first
        with pytest.raises(InvalidToken, match="scope"):
            validator.validate(bad_scope, issuer=ISS, audience=AUD)

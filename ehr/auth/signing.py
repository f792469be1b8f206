"""The service's own token-signing keys (the built-in authorization server and ``ehr token``).

One ES384 key pair (https://hl7.org/fhir/smart-app-launch/backend-services.html recommends ES384 and
RS384), kept as a private JWK Set in ``<data-dir>/keys/auth-signing.jwks.json``: generated on first
start with mode 0600, refused when others can read it (``ehr.crypto.keyfiles``). The public half is
served at ``/auth/jwks`` so that anyone can verify the tokens.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from ehr.crypto.keyfiles import check_private, write_private

ALGORITHM = "ES384"
KEY_FILE = "auth-signing.jwks.json"


class SigningKeys:
    """Signs access tokens with the current key; its JWK Set verifies them."""

    def __init__(self, keys: KeySet) -> None:
        if not keys.keys:
            raise ValueError("the token-signing key set is empty")
        self.keys = keys
        self.current: ECKey = keys.keys[-1]  # type: ignore[assignment]

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> SigningKeys:
        """The key set in ``keys_dir``; a new one is generated (0600) on first start."""
        path = keys_dir / KEY_FILE
        if not path.exists():
            key = ECKey.generate_key("P-384", parameters={"use": "sig", "alg": ALGORITHM}, auto_kid=True)
            with contextlib.suppress(FileExistsError):  # another worker made it first: use theirs
                write_private(path, orjson.dumps(KeySet([key]).as_dict(private=True)))
        check_private(path)
        return cls(KeySet.import_key_set(orjson.loads(path.read_bytes())))

    @classmethod
    def generate(cls) -> SigningKeys:
        """A throw-away key set (tests, fake identity providers)."""
        return cls(KeySet([ECKey.generate_key("P-384", parameters={"use": "sig", "alg": ALGORITHM},
                                              auto_kid=True)]))

    def mint(self, claims: Mapping[str, Any], *, lifetime_s: int = 300) -> str:
        """A signed JWT holding ``claims`` plus ``iat``, ``exp`` (now + ``lifetime_s``) and a random
        ``jti`` unless ``claims`` sets them."""
        now = int(time.time())
        body = {"iat": now, "exp": now + lifetime_s, "jti": secrets.token_urlsafe(16), **claims}
        header = {"alg": ALGORITHM, "kid": self.current.kid, "typ": "JWT"}
        return jwt.encode(header, body, self.current, algorithms=[ALGORITHM])

    def public_jwks(self) -> dict[str, Any]:
        """The public JWK Set (served at ``/auth/jwks``)."""
        return dict(self.keys.as_dict(private=False))

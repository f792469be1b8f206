"""Secrets at rest: passwords as scrypt hashes with a per-user salt (RFC 7914; parameters of OWASP's
password storage cheat sheet), one-time codes, refresh tokens and launch ids as SHA-256 digests (they are
random, 256 bits, so a fast hash is enough), and PKCE's S256 transform (RFC 7636 §4.2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024
#: RFC 7636 §4.1: 43 to 128 unreserved characters
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$<salt hex>$<hash hex>``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, maxmem=_MAXMEM)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                  maxmem=_MAXMEM)
    except ValueError:
        return False
    return hmac.compare_digest(computed.hex(), digest)


def new_secret() -> str:
    """A random, URL-safe, 256-bit value (codes, refresh tokens, launch ids)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """The SHA-256 hex digest under which a random secret is stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def pkce_matches(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6 with S256: BASE64URL(SHA256(verifier)) == challenge."""
    if not _VERIFIER.fullmatch(verifier):
        return False
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(computed, challenge)

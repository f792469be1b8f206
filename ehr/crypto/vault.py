"""KEKs in HashiCorp Vault's transit secrets engine: the key never leaves Vault; data keys are sent to be
wrapped (``encrypt``), unwrapped (``decrypt``) and moved to the newest key version (``rewrap``).

One transit key per tenant, named ``<prefix>-<tenant as hex>``; Vault creates it on the first
``encrypt`` (upsert). Vault's ciphertext (``vault:v3:...``) names its key version, which is the
version this source reports. Talks HTTP with ``httpx`` (typed, and already the project's HTTP client;
``hvac`` would add ``requests`` and is untyped) and sends the token in ``X-Vault-Token``.

Spec: https://developer.hashicorp.com/vault/api-docs/secret/transit
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from ehr.crypto.envelope import DecryptionError
from ehr.crypto.kek import KekUnavailable, tenant_folder


class VaultTransitSource:
    def __init__(self, address: str, token: str, *, mount: str = "transit", prefix: str = "ehr",
                 timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None) -> None:
        self._mount = mount.strip("/")
        self._prefix = prefix
        self._http = httpx.Client(base_url=address.rstrip("/"), headers={"X-Vault-Token": token},
                                  timeout=timeout_s, transport=transport)

    def wrap(self, tenant: str, data_key: bytes) -> tuple[int, bytes]:
        data = self._post(f"encrypt/{self._name(tenant)}", {"plaintext": base64.b64encode(data_key).decode()})
        return _ciphertext(data)

    def unwrap(self, tenant: str, version: int, wrapped: bytes) -> bytes:
        if _version_of(wrapped) != version:
            raise DecryptionError
        data = self._post(f"decrypt/{self._name(tenant)}", {"ciphertext": wrapped.decode()}, refusal=DecryptionError)
        try:
            return base64.b64decode(str(data["plaintext"]), validate=True)
        except (KeyError, ValueError):
            raise DecryptionError from None

    def rotate(self, tenant: str) -> int:
        name = self._name(tenant)
        self._post(f"keys/{name}", {})  # create when missing; a no-op for an existing key
        self._post(f"keys/{name}/rotate", {})
        info = self._request("GET", f"keys/{name}", None, KekUnavailable)
        return int(info["latest_version"])

    def rewrap(self, tenant: str, version: int, wrapped: bytes) -> tuple[int, bytes]:
        if _version_of(wrapped) != version:
            raise DecryptionError
        data = self._post(f"rewrap/{self._name(tenant)}", {"ciphertext": wrapped.decode()}, refusal=DecryptionError)
        return _ciphertext(data)

    def newest(self, tenant: str) -> int:
        name = self._name(tenant)
        self._post(f"keys/{name}", {})  # create when missing
        return int(self._request("GET", f"keys/{name}", None, KekUnavailable)["latest_version"])

    def retire(self, tenant: str, below: int) -> list[int]:
        """Raise the key's ``min_decryption_version`` to ``below``, then ``trim`` the older versions:
        Vault deletes them for good (https://developer.hashicorp.com/vault/api-docs/secret/transit#trim-key)."""
        name = self._name(tenant)
        info = self._request("GET", f"keys/{name}", None, KekUnavailable)
        below = min(below, int(info["latest_version"]))
        oldest = int(info.get("min_available_version") or 1) or 1
        if below <= oldest:
            return []
        self._post(f"keys/{name}/config", {"min_decryption_version": below, "min_encryption_version": 0})
        self._post(f"keys/{name}/trim", {"min_available_version": below})
        return list(range(oldest, below))

    def close(self) -> None:
        self._http.close()

    def _name(self, tenant: str) -> str:
        return f"{self._prefix}-{tenant_folder(tenant)}"

    def _post(self, path: str, body: dict[str, Any], refusal: type[Exception] = KekUnavailable) -> dict[str, Any]:
        return self._request("POST", path, body, refusal)

    def _request(self, method: str, path: str, body: dict[str, Any] | None,
                 refusal: type[Exception]) -> dict[str, Any]:
        """``data`` of Vault's answer. A 400 (bad ciphertext) raises ``refusal``; no answer, a 5xx or a
        refused token raise :class:`KekUnavailable`."""
        try:
            response = self._http.request(method, f"/v1/{self._mount}/{path}", json=body)
        except httpx.HTTPError as exc:
            raise KekUnavailable(f"Vault did not answer ({type(exc).__name__}); check EHR_VAULT_ADDR.") from None
        if response.status_code == 400 and refusal is not KekUnavailable:
            raise refusal
        if response.status_code in (401, 403):
            raise KekUnavailable("Vault refused the token; check EHR_VAULT_TOKEN and its transit policy.")
        if response.status_code >= 300:
            raise KekUnavailable(f"Vault answered {response.status_code} to {method} {path}; see Vault's log.")
        if response.status_code == 204 or not response.content:
            return {}
        data = response.json().get("data")
        return data if isinstance(data, dict) else {}


def _version_of(wrapped: bytes) -> int:
    parts = wrapped.split(b":", 2)
    if len(parts) != 3 or parts[0] != b"vault" or not parts[1].startswith(b"v") or not parts[1][1:].isdigit():
        raise DecryptionError
    return int(parts[1][1:])


def _ciphertext(data: dict[str, Any]) -> tuple[int, bytes]:
    text = data.get("ciphertext")
    if not isinstance(text, str):
        raise KekUnavailable("Vault's answer holds no ciphertext; check the transit mount path.")
    wrapped = text.encode()
    return _version_of(wrapped), wrapped

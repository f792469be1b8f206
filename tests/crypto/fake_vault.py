"""A fake HashiCorp Vault for the tests: a real HTTP server on 127.0.0.1 implementing the transit
endpoints the service calls (create key, encrypt, decrypt, rewrap, rotate, read key) with real
AES-256-GCM and versioned keys, checking the ``X-Vault-Token`` header on every request.

Spec: https://developer.hashicorp.com/vault/api-docs/secret/transit
"""

from __future__ import annotations

import base64
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class FakeVault:
    def __init__(self, token: str, mount: str = "transit") -> None:
        self.token = token
        self.mount = mount
        self.keys: dict[str, list[AESGCM | None]] = {}
        #: per key: versions below this were trimmed (deleted for good)
        self.min_available: dict[str, int] = {}
        self.calls: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeVault:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def handle(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        prefix = f"/v1/{self.mount}/"
        if not path.startswith(prefix):
            return 404, {"errors": ["no handler for route"]}
        parts = path[len(prefix):].split("/")
        with self._lock:
            self.calls.append(f"{method} {'/'.join(parts[:1] + parts[2:])}")
            return self._route(method, parts, body)

    def _route(self, method: str, parts: list[str], body: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        match (method, parts):
            case ("POST", ["keys", name]):
                self.keys.setdefault(name, [AESGCM(os.urandom(32))])
                return 204, None
            case ("POST", ["keys", name, "rotate"]) if name in self.keys:
                self.keys[name].append(AESGCM(os.urandom(32)))
                return 200, {"data": {"latest_version": len(self.keys[name])}}
            case ("GET", ["keys", name]) if name in self.keys:
                return 200, {"data": {"name": name, "latest_version": len(self.keys[name]), "type": "aes256-gcm96",
                                      "min_available_version": self.min_available.get(name, 1)}}
            case ("POST", ["keys", name, "config"]) if name in self.keys:
                return 204, None
            case ("POST", ["keys", name, "trim"]) if name in self.keys:
                below = int(body["min_available_version"])
                if below > len(self.keys[name]):
                    return 400, {"errors": ["cannot trim the latest version"]}
                self.keys[name][:below - 1] = [None] * (below - 1)
                self.min_available[name] = below
                return 204, None
            case ("POST", ["encrypt", name]):
                versions = self.keys.setdefault(name, [AESGCM(os.urandom(32))])
                return self._encrypt(versions, base64.b64decode(body["plaintext"]))
            case ("POST", ["decrypt", name]) if name in self.keys:
                plain = self._decrypt(self.keys[name], str(body.get("ciphertext", "")))
                if plain is None:
                    return 400, {"errors": ["cipher: message authentication failed"]}
                return 200, {"data": {"plaintext": base64.b64encode(plain).decode()}}
            case ("POST", ["rewrap", name]) if name in self.keys:
                plain = self._decrypt(self.keys[name], str(body.get("ciphertext", "")))
                if plain is None:
                    return 400, {"errors": ["cipher: message authentication failed"]}
                return self._encrypt(self.keys[name], plain)
        return 400, {"errors": [f"unsupported {method} {'/'.join(parts)}"]}

    @staticmethod
    def _encrypt(versions: list[AESGCM | None], plain: bytes) -> tuple[int, dict[str, Any]]:
        nonce = os.urandom(12)
        newest = versions[-1]
        assert newest is not None
        sealed = newest.encrypt(nonce, plain, None)
        text = f"vault:v{len(versions)}:" + base64.b64encode(nonce + sealed).decode()
        return 200, {"data": {"ciphertext": text, "key_version": len(versions)}}

    @staticmethod
    def _decrypt(versions: list[AESGCM | None], text: str) -> bytes | None:
        try:
            _, tag, payload = text.split(":", 2)
            version = int(tag.removeprefix("v"))
            raw = base64.b64decode(payload)
            key = versions[version - 1] if 1 <= version <= len(versions) else None
            return None if key is None else key.decrypt(raw[:12], raw[12:], None)
        except (ValueError, InvalidTag):
            return None


def _handler(vault: FakeVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.headers.get("X-Vault-Token") != vault.token:
                self._answer(403, {"errors": ["permission denied"]})
                return
            body = json.loads(raw) if raw else {}
            self._answer(*vault.handle(method, self.path, body))

        def _answer(self, status: int, payload: dict[str, Any] | None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler

"""Vault's transit engine as the KEK source (ehr.crypto.vault), against the fake Vault server; and the
whole service over HTTP with its keys in Vault, rotated online with ``ehr keys rotate``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ehr.cli.main import app
from ehr.crypto.envelope import DecryptionError
from ehr.crypto.kek import KekUnavailable
from ehr.crypto.vault import VaultTransitSource
from ehr.settings import Settings
from tests.conftest import LiveServer
from tests.crypto.fake_vault import FakeVault

TOKEN = "s.test-token"
DEK = bytes(range(32))


@pytest.fixture
def vault() -> Iterator[FakeVault]:
    with FakeVault(TOKEN) as fake:
        yield fake


def test_wrap_unwrap_rotate_rewrap(vault: FakeVault) -> None:
    source = VaultTransitSource(vault.address, TOKEN)
    version, wrapped = source.wrap("hospital-a", DEK)
    assert version == 1
    assert wrapped.startswith(b"vault:v1:")
    assert source.unwrap("hospital-a", 1, wrapped) == DEK
    assert source.rotate("hospital-a") == 2
    assert source.unwrap("hospital-a", 1, wrapped) == DEK  # old versions stay decrypt-only
    moved_version, moved = source.rewrap("hospital-a", 1, wrapped)
    assert (moved_version, moved[:9]) == (2, b"vault:v2:")
    assert source.unwrap("hospital-a", 2, moved) == DEK
    assert {"POST encrypt", "POST decrypt", "POST rewrap", "POST keys", "GET keys"} <= set(vault.calls)


def test_tampered_or_misattributed_ciphertext_fails_opaquely(vault: FakeVault) -> None:
    source = VaultTransitSource(vault.address, TOKEN)
    _, wrapped = source.wrap("a", DEK)
    source.wrap("b", DEK)
    with pytest.raises(DecryptionError):
        source.unwrap("b", 1, wrapped)  # another tenant's key
    with pytest.raises(DecryptionError):
        source.unwrap("a", 2, wrapped)  # a version the ciphertext does not name
    with pytest.raises(DecryptionError):
        source.unwrap("a", 1, wrapped[:-4] + b"AAA=")


def test_a_wrong_token_or_no_vault_is_unavailable(vault: FakeVault) -> None:
    with pytest.raises(KekUnavailable, match="refused the token"):
        VaultTransitSource(vault.address, "wrong").wrap("a", DEK)
    with pytest.raises(KekUnavailable, match="did not answer"):
        VaultTransitSource("http://127.0.0.1:9", TOKEN, timeout_s=2).wrap("a", DEK)


def test_the_service_keeps_its_keks_in_vault(vault: FakeVault, db_url: str, tmp_path: Path) -> None:
    # no key cache: every read after the rotation unwraps its re-wrapped key through Vault
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, vault_addr=vault.address, vault_token=TOKEN,
                        key_cache_ttl_s=0)
    headers = {"Content-Type": "application/fhir+json", "X-Tenant": "hospital-v"}
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=headers, timeout=30) as http:
        created = [http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": f"V{i}"}]}).json()
                   for i in range(3)]
        assert "POST encrypt" in vault.calls
        assert not (tmp_path / "keys" / "kek").exists()  # no local KEK when Vault holds them
        result = CliRunner().invoke(app, ["keys", "rotate", "--db", db_url, "--data-dir", str(tmp_path),
                                          "--vault-addr", vault.address], env={"EHR_VAULT_TOKEN": TOKEN})
        assert result.exit_code == 0, result.output
        assert "tenant hospital-v: KEK version 2, 3 data keys re-wrapped" in result.output
        assert "POST rewrap" in vault.calls
        vault.calls.clear()
        for patient in created:
            assert http.get(f"/Patient/{patient['id']}").json()["name"] == patient["name"]
        assert vault.calls.count("POST decrypt") == 3

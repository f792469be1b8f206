"""``ehr clients``, ``ehr users`` and ``ehr launch``: registering what the authorization server knows."""

from __future__ import annotations

from pathlib import Path

import orjson
from joserfc.jwk import ECKey, KeySet
from typer.testing import CliRunner

from ehr.api.app import open_store
from ehr.auth.server.registry import authenticate, connection, find_client
from ehr.cli.main import app
from ehr.settings import Settings


def _ehr(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--data-dir", str(tmp_path)], input=stdin)
    return result.exit_code, result.output


def test_register_list_disable_a_backend_client(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-384", auto_kid=True)
    jwks = tmp_path / "client.jwks.json"
    jwks.write_bytes(orjson.dumps(KeySet([key]).as_dict(private=False)))
    code, out = _ehr(tmp_path, "clients", "register", "--tenant", "h1", "--name", "Lab sync", "--jwks", str(jwks),
                     "--scope", "system/*.rs system/Observation.c")
    assert code == 0, out
    client_id = out.strip()
    code, out = _ehr(tmp_path, "clients", "list")
    assert f"{client_id}\th1\tconfidential\tenabled\tLab sync\tsystem/*.rs system/Observation.c" in out
    assert _ehr(tmp_path, "clients", "disable", client_id)[0] == 0
    assert "\tdisabled\t" in _ehr(tmp_path, "clients", "list")[1]
    assert _ehr(tmp_path, "clients", "disable", "nobody")[0] == 1


def test_private_keys_and_missing_kinds_are_refused(tmp_path: Path) -> None:
    private = tmp_path / "private.jwks.json"
    private.write_bytes(orjson.dumps(KeySet([ECKey.generate_key("P-384")]).as_dict(private=True)))
    code, out = _ehr(tmp_path, "clients", "register", "--tenant", "h1", "--name", "x", "--jwks", str(private),
                     "--scope", "system/*.rs")
    assert code == 2
    assert "public half" in out
    code, out = _ehr(tmp_path, "clients", "register", "--tenant", "h1", "--name", "x", "--scope", "user/*.rs")
    assert code == 2
    code, out = _ehr(tmp_path, "clients", "register", "--tenant", "h1", "--name", "x", "--public",
                     "--scope", "user/*.rs")
    assert (code, "--redirect-uri" in out) == (2, True)


def test_users_and_launches(tmp_path: Path) -> None:
    code, out = _ehr(tmp_path, "clients", "register", "--tenant", "h1", "--name", "Viewer", "--public",
                     "--redirect-uri", "http://app/cb", "--scope", "launch patient/*.rs")
    client_id = out.strip()
    code, out = _ehr(tmp_path, "users", "add", "--tenant", "h1", "--username", "bob", "--roles", "clinician,nurse",
                     "--fhir-user", "Practitioner/7", "--password-stdin", stdin="a long password\n")
    assert code == 0, out
    assert "a long password" not in out
    assert _ehr(tmp_path, "users", "add", "--tenant", "h1", "--username", "bob", "--password-stdin",
                stdin="another password\n")[0] == 2  # taken
    code, out = _ehr(tmp_path, "launch", "--tenant", "h1", "--patient", "Patient/p1", "--client", client_id)
    assert code == 0
    assert len(out.strip()) >= 40
    store = open_store(Settings(data_dir=tmp_path))
    try:
        with store.unit_of_work(write=True) as tx:
            user = authenticate(connection(tx), "bob", "a long password")
            assert user is not None
            assert (user.tenant, user.roles, user.fhir_user) == ("h1", ("clinician", "nurse"), "Practitioner/7")
            assert authenticate(connection(tx), "bob", "wrong password") is None
            client = find_client(connection(tx), client_id)
            assert client is not None
            assert client.redirect_uris == ("http://app/cb",)
    finally:
        store.close()

"""KServe v2 ``infer`` calls are in the access log (the issue's "later ... inference calls"): one
``operation:infer`` entry per call with the caller, the model's name and the status — success, a bad
request, an unknown model — and never the input values."""

from __future__ import annotations

from pathlib import Path

import httpx

from ehr.settings import Settings
from tests.audit.support import Tail, opened_log
from tests.conftest import LiveServer


def test_every_infer_call_is_audited(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, inference=True, mpi=False)
    headers = {"X-Tenant": "hospital-i", "X-User": "dr-infer", "X-Purpose-Of-Use": "TREAT"}
    with LiveServer(settings) as live, opened_log(db_url, tmp_path) as log:
        base_url = live.base.removesuffix("/fhir")
        tail = Tail(log)
        tail.new()
        with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
            good = {"inputs": [{"name": "features", "shape": [1, 7], "datatype": "FP32",
                                "data": [18.0, 97.0, 120.0, 80.0, 37.1, 0.0, 15.0]}]}
            bad = {"inputs": [{"name": "features", "shape": [1, 3], "datatype": "FP32", "data": [777.25, 2, 3]}]}
            answers = [http.post("/v2/models/news2/infer", json=good).status_code,
                       http.post("/v2/models/news2/infer", json=bad).status_code,
                       http.post("/v2/models/no-such-model/infer", json=good).status_code,
                       http.get("/v2/models/news2").status_code]  # metadata: no patient data, not audited
        assert answers == [200, 400, 404, 200]
        entries = tail.new()
    assert [(r.interaction, r.status, r.agent, r.tenant, r.purpose) for r, _ in entries] == [
        ("operation:infer", 200, "dr-infer", "hospital-i", "TREAT"),
        ("operation:infer", 400, "dr-infer", "hospital-i", "TREAT"),
        ("operation:infer", 404, "dr-infer", "hospital-i", "TREAT")]
    subtypes = [[c["code"] for c in event["subtype"]] for _, event in entries]
    assert subtypes == [["operation", "$infer"]] * 3
    details = [d["valueString"] for e in entries[0][1].get("entity", []) for d in e.get("detail", [])]
    assert details == ["news2"]
    assert b"777.25" not in b"".join(entry for _, entry, _ in log.chain_rows())

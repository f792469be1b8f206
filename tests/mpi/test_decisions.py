"""Steward decisions below HTTP: each is audited once through the runner with the steward's name, and
any sequence of link, unlink, merge and undo keeps the index and its FHIR form consistent; undoing
every decision, latest first, gives back the automatic linkage."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ehr.api.app import build_services, open_store
from ehr.audit.boundary import AuditRecord
from ehr.audit.receipts import DONE, Receipt
from ehr.auth.boundary import Action, Principal
from ehr.errors import FhirError
from ehr.fhir.interactions import create
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.runner import execute
from ehr.mpi import decisions
from ehr.mpi.golden import is_golden
from ehr.mpi.link_tables import mpi_decisions
from ehr.mpi.links import link_store
from ehr.settings import Settings
from ehr.store.protocol import Tx

from ..conftest import LiveServer
from .fake import FakeMatcher
from .helpers import parameters, person


class Recorder:
    def __init__(self) -> None:
        self.events: list[AuditRecord] = []

    def record(self, event: AuditRecord, tx: Tx | None) -> Receipt:
        self.events.append(event)
        return DONE


def test_steward_operations_are_audited_once_each(db_url: str, tmp_path: Path) -> None:
    auditor = Recorder()
    services = replace(build_services(open_store(Settings(db_url=db_url)), matcher=FakeMatcher()), auditor=auditor)
    try:
        with LiveServer(Settings(auth="dev", db_url=db_url, data_dir=tmp_path), services=services) as live, \
                httpx.Client(base_url=live.base, timeout=60) as http:
            ids = [http.post("/Patient", json=person("Smith"), headers={"X-Tenant": h}).json()["id"]
                   for h in ("hospital-a", "hospital-b")]
            before = len(auditor.events)
            ok = http.post("/Patient/$mdm-unlink", json=parameters(source=f"Patient/{ids[1]}"),
                           headers={"X-Tenant": "hospital-b"})
            assert ok.status_code == 200
            refused = http.post("/Patient/$mdm-unlink", json=parameters(source=f"Patient/{ids[1]}"))
            assert refused.status_code == 400
            events = auditor.events[before:]
            assert [(e.interaction, e.status, e.tenant) for e in events] == [
                ("operation:mdm-unlink", 200, "hospital-b"), ("operation:mdm-unlink", 400, "default")]
        with services.store.unit_of_work(write=False) as tx:
            rows = link_store(tx).conn.execute(mpi_decisions.select()).all()
        assert [(r.operation, r.actor) for r in rows] == [("unlink", "hospital-b/anonymous")]
    finally:
        services.store.close()


Step = tuple[str, int, int]
STEPS = st.lists(st.tuples(st.sampled_from(["link", "unlink", "merge", "undo"]), st.integers(0, 4),
                           st.integers(0, 4)), min_size=1, max_size=8)
PEOPLE = [person("Smith"), person("Smith"), person("Smith", given="Eve"), person("Smith", given="Eve"),
          person("Brown", given="Tom", birth="1950-01-01")]


def _run(services: Services, ctx: Context, fn: Callable[[Tx], Any]) -> Any:
    out: list[Any] = []

    def work(tx: Tx) -> Result:
        out.append(fn(tx))
        return Result(200)

    execute(services, ctx, Action("operation:test", "Patient"), work, write=True)
    return out[0]


def _persons(services: Services, ids: list[str]) -> frozenset[frozenset[str]]:
    """The partition of ``ids`` into persons, checked against its FHIR form on the way."""
    with services.store.unit_of_work(write=False) as tx:
        links = link_store(tx)
        groups: dict[str, set[str]] = {}
        for source_id in ids:
            link = links.link(source_id)
            assert link is not None
            groups.setdefault(link.golden_id, set()).add(source_id)
            body = _body(tx, source_id)
            assert [x["other"]["reference"] for x in body["link"]] == [f"Patient/{link.golden_id}"]
        for golden_id, members in groups.items():
            golden = _body(tx, golden_id)
            assert is_golden(golden)
            assert golden["active"] is True
            assert {x["other"]["reference"][8:] for x in golden["link"] if x["type"] == "seealso"} == members
    return frozenset(frozenset(g) for g in groups.values())


def _body(tx: Tx, patient_id: str) -> dict[str, Any]:
    record = tx.current("Patient", patient_id)
    assert record is not None
    assert record.body is not None
    body: dict[str, Any] = orjson.loads(record.body)
    return body


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_any_decisions_keep_the_index_consistent_and_undo_all_restores(steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        services = build_services(open_store(Settings(db_url=f"sqlite:///{folder}/ehr.db")), matcher=FakeMatcher())
        ctx = Context(base_url="urn:test", principal=Principal("hospital-a", "steward"))
        try:
            ids = [_run(services, ctx, partial(create.create, ctx, services, resource_type="Patient",
                                               resource=dict(p))).record.id for p in PEOPLE]
            automatic = _persons(services, ids)
            assert len(automatic) == 3
            done: list[int] = []
            for name, i, j in steps:
                try:
                    outcome = _run(services, ctx, partial(_apply, ctx, services, name=name, a=ids[i], b=ids[j],
                                                          done=done))
                except FhirError:
                    continue
                if name == "undo":
                    done.pop()
                else:
                    done.append(outcome.decision)
                _persons(services, ids)
            for seq in reversed(done):
                _run(services, ctx, partial(decisions.undo, ctx, services, seq=seq))
            assert _persons(services, ids) == automatic
        finally:
            services.store.close()


def _apply(ctx: Context, services: Services, tx: Tx, name: str, a: str, b: str, done: list[int]) -> Any:
    if name == "link":
        return decisions.link(ctx, services, tx, a, b)
    if name == "unlink":
        return decisions.unlink(ctx, services, tx, a)
    if name == "merge":
        return decisions.merge(ctx, services, tx, a, b)
    if not done:
        raise FhirError("nothing to undo")
    return decisions.undo(ctx, services, tx, done[-1])

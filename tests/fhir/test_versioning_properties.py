"""Version rules as properties (hypothesis) over the in-memory store, calling the interactions directly:
for any sequence of create, update, delete and read — with current, stale or no ``If-Match`` — versions
rise by exactly one per successful write, ETag equals the version, a stale If-Match fails with 412 and
changes nothing, a deleted resource reads as Gone, and history holds one entry per successful write
(https://hl7.org/fhir/R4/http.html#versioning, #concurrency)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.api.app import build_services
from ehr.auth.boundary import Action, Principal
from ehr.errors import FhirError
from ehr.fhir.bundles import http_headers
from ehr.fhir.interactions import create, delete, history, read, update
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.runner import execute
from ehr.store.memory import MemoryStore
from ehr.store.protocol import HistoryQuery, Tx

IfMatch = Literal["none", "current", "stale"]
CTX = Context(base_url="http://test/fhir", principal=Principal(tenant="t"))
IDS = ("a", "b")


@dataclass
class Model:
    """What the store must hold for one id: its versions (True = a deletion) in order."""

    versions: list[bool] = field(default_factory=list)

    @property
    def version(self) -> int:
        return len(self.versions)

    @property
    def deleted(self) -> bool:
        return bool(self.versions) and self.versions[-1]


#: few ids and mostly matching If-Match, so that sequences build long version chains
operations = st.lists(
    st.one_of(
        st.tuples(st.just("post"), st.just(0), st.just("none")),
        st.tuples(st.sampled_from(["put", "put", "delete", "read"]), st.integers(0, 2),
                  st.sampled_from(["none", "current", "current", "stale"])),
    ),
    min_size=5,
    max_size=30,
)


def _run(services: Services, fn: Callable[[Tx], Result], write: bool) -> Result:
    return execute(services, CTX, Action("test", "Patient"), fn, write=write)


def _if_match(model: Model, mode: IfMatch) -> int | None:
    if mode == "none":
        return None
    if mode == "current":
        return model.version or 1
    return model.version - 1 if model.version > 1 else model.version + 1


def _expected(op: str, model: Model, if_match: int | None) -> int:
    """The status the spec requires for ``op`` on a resource in the state ``model``."""
    mismatch = if_match is not None and if_match != (model.version or None)
    if op == "read":
        return 404 if not model.versions else 410 if model.deleted else 200
    if op == "delete":
        return 404 if not model.versions else 412 if mismatch else 204
    return 412 if mismatch else 201 if not model.versions or model.deleted else 200


def _check_etag(result: Result, expected: int) -> None:
    assert result.record is not None
    assert result.record.version == expected
    assert http_headers(result.record)["ETag"] == f'W/"{expected}"'


def _snapshot(services: Services, resource_id: str) -> tuple[int | None, bool | None, int]:
    with services.store.unit_of_work(write=False) as tx:
        current = tx.current("Patient", resource_id)
        count = len(tx.history(HistoryQuery(resource_type="Patient", id=resource_id, count=1000)))
    return (None, None, count) if current is None else (current.version, current.deleted, count)


def _call(services: Services, op: str, rid: str, if_match: int | None, body: dict[str, Any]) -> Result:
    """The interaction's result; a raised FhirError becomes a Result with its status and headers."""
    try:
        return _interaction(services, op, rid, if_match, body)
    except FhirError as exc:
        return Result(exc.status, exc.outcome(), headers=exc.headers)


def _interaction(services: Services, op: str, rid: str, if_match: int | None, body: dict[str, Any]) -> Result:
    if op == "post":
        return _run(services, lambda tx: create.create(CTX, services, tx, "Patient", body), True)
    if op == "put":
        return _run(services, lambda tx: update.update(CTX, services, tx, "Patient", rid, body,
                                                       if_match=if_match), True)
    if op == "delete":
        return _run(services, lambda tx: delete.delete(CTX, tx, "Patient", rid, if_match=if_match), True)
    return _run(services, lambda tx: read.read(tx, "Patient", rid), False)


def _apply(services: Services, models: dict[str, Model], op: str, target: int, mode: IfMatch) -> None:
    ids = [*IDS, *(k for k in models if k not in IDS)]
    rid = ids[target % len(ids)]
    model = models.setdefault(rid, Model())
    if_match = _if_match(model, mode)
    expected = 201 if op == "post" else _expected(op, model, if_match)
    before = _snapshot(services, rid)
    body = {"resourceType": "Patient", "id": rid, "name": [{"family": f"{op}-{model.version}"}]}
    result = _call(services, op, rid, if_match, body)
    assert result.status == expected, f"{op} {rid} If-Match {if_match}: {result.status}, expected {expected}"
    if result.status >= 400:
        if op != "read":
            assert _snapshot(services, rid) == before, "a failed write changed the store"
        if result.status == 410:
            assert result.headers["ETag"] == f'W/"{model.version}"'
        return
    if op == "post":
        assert result.record is not None
        models[result.record.id] = model = Model()
    elif op == "read" or (op == "delete" and model.deleted):
        _check_etag(result, model.version)
        return
    model.versions.append(op == "delete")
    _check_etag(result, model.version)


def _check_store(services: Services, models: dict[str, Model]) -> None:
    for rid, model in models.items():
        version, deleted, count = _snapshot(services, rid)
        assert count == model.version
        if not model.versions:
            assert version is None
            continue
        assert (version, deleted) == (model.version, model.deleted)
        with services.store.unit_of_work(write=False) as tx:
            _check_history(tx, rid, model)


def _check_history(tx: Tx, rid: str, model: Model) -> None:
    result = history.history(CTX, tx, "Patient", rid, [("_count", "1000")])
    assert isinstance(result.body, dict)
    etags = [e["response"]["etag"] for e in result.body.get("entry", [])]
    assert etags == [f'W/"{v}"' for v in range(model.version, 0, -1)]
    for number, was_deleted in enumerate(model.versions, 1):
        stored = tx.version("Patient", rid, number)
        assert stored is not None
        assert stored.deleted == was_deleted


@settings(max_examples=60, deadline=None)
@given(ops=operations)
def test_version_rules_hold_for_any_sequence(ops: list[tuple[str, int, IfMatch]]) -> None:
    services = build_services(MemoryStore())
    models: dict[str, Model] = {}
    for op, target, mode in ops:
        _apply(services, models, op, target, mode)
    _check_store(services, models)

"""Runs the matrix's requests at the interaction level, as the HTTP routes do (``execute`` with the
interaction's Action), on one store: the in-memory store, SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from ehr.api.app import build_services
from ehr.auth.boundary import Action
from ehr.errors import FhirError
from ehr.fhir.interactions import create, delete, history, read, search, transaction, update
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.runner import execute
from ehr.fhir.operations import everything
from ehr.mpi.link_tables import mpi_links
from ehr.store.memory import MemoryStore
from ehr.store.protocol import Store, Tx
from ehr.store.records import now_us
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.store import SqlStore
from tests.auth.matrix import LINKS, Case, Item, body, world

BASE = "http://test/fhir"


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None

    def ids(self, mode: str | None = "match") -> set[str]:
        """``Type/id`` of the Bundle's entries (of one search mode; every one when None)."""
        assert self.body is not None
        return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in self.body.get("entry", [])
                if "resource" in e and (mode is None or e.get("search", {}).get("mode", "match") == mode)}


class Driver:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.services: Services = build_services(store)

    def context(self, case: Case) -> Context:
        return Context(BASE, case.principal(), default_count=500, purpose_of_use=case.purpose,
                       break_glass=case.break_glass)

    def call(self, case: Case, interaction: str, resource_type: str | None, id: str | None,
             fn: Callable[[Context, Tx], Result], *, write: bool = False) -> Answer:
        ctx = self.context(case)
        try:
            result = execute(self.services, ctx, Action(interaction, resource_type, id), lambda tx: fn(ctx, tx),
                             write=write)
        except FhirError as exc:
            return Answer(exc.status)
        raw = result.body
        parsed = orjson.loads(raw if isinstance(raw, bytes) else orjson.dumps(raw)) if raw is not None else None
        return Answer(result.status, parsed)

    # the requests, as the routes issue them

    def read(self, case: Case, item: Item) -> Answer:
        return self.call(case, "read", item.resource_type, item.id,
                         lambda _c, tx: read.read(tx, item.resource_type, item.id))

    def vread(self, case: Case, item: Item, version: int = 1) -> Answer:
        return self.call(case, "vread", item.resource_type, item.id,
                         lambda _c, tx: read.vread(tx, item.resource_type, item.id, version))

    def search(self, case: Case, resource_type: str | None, params: Sequence[tuple[str, str]] = ()) -> Answer:
        interaction = "search-system" if resource_type is None else "search-type"
        pairs = [*params, ("_count", "500")]
        return self.call(case, interaction, resource_type, None,
                         lambda c, tx: search.search(c, self.services, tx, resource_type, pairs))

    def compartment(self, case: Case, patient_id: str) -> Answer:
        """``GET Patient/[id]/*``."""
        return self.call(case, "search-compartment", "Patient", patient_id, lambda c, tx: search.compartment_search(
            c, self.services, tx, patient_id, None, [("_count", "500")]))

    def history(self, case: Case, resource_type: str | None, id: str | None) -> Answer:
        interaction = "history-system" if resource_type is None else "history-type" if id is None \
            else "history-instance"
        return self.call(case, interaction, resource_type, id,
                         lambda c, tx: history.history(c, tx, resource_type, id, [("_count", "1000")]))

    def everything(self, case: Case, patient_id: str) -> Answer:
        return self.call(case, "operation:everything", "Patient", patient_id,
                         lambda c, tx: everything.everything(c, self.services, tx, patient_id, [("_count", "500")]))

    def put(self, case: Case, resource: dict[str, Any]) -> Answer:
        resource_type, id = resource["resourceType"], resource["id"]
        return self.call(case, "update", resource_type, id,
                         lambda c, tx: update.update(c, self.services, tx, resource_type, id, dict(resource)),
                         write=True)

    def create(self, case: Case, resource: dict[str, Any]) -> Answer:
        resource_type = resource["resourceType"]
        return self.call(case, "create", resource_type, None,
                         lambda c, tx: create.create(c, self.services, tx, resource_type, dict(resource)),
                         write=True)

    def delete(self, case: Case, item: Item) -> Answer:
        return self.call(case, "delete", item.resource_type, item.id,
                         lambda c, tx: delete.delete(c, tx, item.resource_type, item.id), write=True)

    def bundle(self, case: Case, kind: str, entries: list[dict[str, Any]]) -> Answer:
        ctx = self.context(case)

        def run(fn: Callable[[Tx], Result], write: bool) -> Result:
            return execute(self.services, ctx, Action(kind, "Bundle"), fn, write=write)

        try:
            result = transaction.process_bundle(ctx, self.services, {"resourceType": "Bundle", "type": kind,
                                                                     "entry": entries}, run)
        except FhirError as exc:
            return Answer(exc.status)
        assert isinstance(result.body, dict)
        return Answer(result.status, orjson.loads(orjson.dumps(result.body)))


def load_world(driver: Driver, store_links: Callable[[dict[str, str]], None]) -> list[Item]:
    """Store the matrix's world: every resource as its hospital's development-mode caller writes it
    (PUT with the fixture's id), obs-lab-* twice, and the master patient index's links."""
    items = world()
    for item in items:
        case = Case(f"loader-{item.tenant}", item.tenant, None)
        for version in range(1, item.versions + 1):
            answer = driver.put(case, body(item, version))
            assert answer.status in (200, 201), (item.key, answer)
        if item.deleted:
            assert driver.delete(case, item).status == 204
    store_links(LINKS)
    return items


@contextmanager
def open_driver(kind: str, url: str | None) -> Iterator[tuple[Driver, list[Item]]]:
    """A driver over a fresh store of ``kind`` (``memory``, or SQL at ``url``) holding the world."""
    if kind == "memory":
        memory = MemoryStore()
        driver = Driver(memory)
        yield driver, load_world(driver, memory.mpi_links.update)
        return
    assert url is not None
    engine = make_engine(url)
    migrate(engine)
    sql = SqlStore(engine)

    def store_links(links: dict[str, str]) -> None:
        with engine.begin() as conn:
            conn.execute(mpi_links.insert(), [
                {"source_id": s, "golden_id": g, "origin": "manual", "score": None, "actor": "matrix",
                 "decided_at": now_us()} for s, g in links.items()])

    driver = Driver(sql)
    try:
        yield driver, load_world(driver, store_links)
    finally:
        sql.close()


def dev_read(driver: Driver, tenant: str, resource_type: str, id: str) -> int:
    return driver.read(Case("dev", tenant, None), Item(resource_type, id, tenant, None)).status

"""The in-memory engine loaded with a transaction's entries, for tests that check it gives the same
answers as the SQL engines over HTTP."""

from __future__ import annotations

from typing import Any

from ehr.api.app import build_services
from ehr.auth.boundary import Action, Principal
from ehr.fhir.interactions.context import Context, Services
from ehr.fhir.interactions.runner import execute
from ehr.fhir.interactions.transaction import process_bundle
from ehr.store.memory import MemoryStore


def load_memory(*transactions: list[dict[str, Any]]) -> tuple[Services, Context]:
    """Services over a fresh in-memory store holding what transactions of these entries write, in order."""
    services = build_services(MemoryStore())
    ctx = Context(base_url="http://test/fhir", principal=Principal(tenant="t"))

    def run(fn: Any, write: bool) -> Any:
        return execute(services, ctx, Action("transaction", None), fn, write=write)

    for entries in transactions:
        process_bundle(ctx, services, {"resourceType": "Bundle", "type": "transaction", "entry": entries}, run)
    return services, ctx

"""Conditional create, update, delete and patch share one step: find what the criteria match.

Written once on top of search (https://hl7.org/fhir/R4/http.html#ccreate, #cond-update, #cdelete).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from ehr.auth.access import own_hospital
from ehr.errors import BadRequest, PreconditionFailed
from ehr.fhir.interactions.context import Context, Services
from ehr.fhir.terminology import StoredTerminology
from ehr.search.query_parse import ParseOptions, parse_search
from ehr.store.protocol import Tx
from ehr.store.records import VersionRecord


def find_matches(ctx: Context, services: Services, tx: Tx, resource_type: str,
                 criteria: str, limit: int = 2) -> list[VersionRecord]:
    """Up to ``limit`` current resources of ``resource_type`` matching the query string ``criteria``."""
    pairs = parse_qsl(criteria.lstrip("?"), keep_blank_values=True)
    if not pairs:
        raise BadRequest("Conditional criteria are empty; give search parameters such as "
                         "identifier=http://hospital.example/mrn|123.")
    query = parse_search(resource_type, pairs, services.registry,
                         ParseOptions(base_url=ctx.base_url, lenient=False, default_count=limit,
                                      blinder=services.blinder, terminology=StoredTerminology(tx)))
    return tx.search(query).records


def single_match(ctx: Context, services: Services, tx: Tx, resource_type: str,
                 criteria: str) -> VersionRecord | None:
    """The one match of ``criteria``, None for none, 412 when several match.

    Used by the conditional writes: concurrent writes with the same criteria are serialised first
    (``Tx.lock``), so two conditional creates can never both see "no match" and both create."""
    tx.lock(f"conditional:{resource_type}?{criteria}")
    found = find_matches(ctx, services, tx, resource_type, criteria)
    if len(found) > 1:
        raise PreconditionFailed(
            f"The criteria '{criteria}' match more than one {resource_type}; make them selective enough "
            "to match at most one (for example by identifier)."
        )
    if not found and tx.access is not None:
        hidden = find_matches(ctx, services, tx.with_access(own_hospital(tx.access)), resource_type, criteria)
        if hidden:
            raise PreconditionFailed(
                f"The criteria '{criteria}' match a {resource_type} of your hospital that the granted scopes do "
                "not cover; ask for a scope that covers it rather than creating a duplicate.")
    return found[0] if found else None

"""``Patient/$match`` (https://hl7.org/fhir/R4/patient-operation-match.html): the stored Patients most
like the one given, scored by the master patient index's engine.

Input: ``resource`` (a Patient), ``onlyCertainMatches`` (only ``certain`` matches, and none when more
than one record is certain: the match is then ambiguous), ``count`` (at most this many, 1–100,
default 10). Output: a searchset Bundle, best first, each entry with ``search.mode = match``,
``search.score`` (the match probability) and the ``match-grade`` extension
(http://hl7.org/fhir/StructureDefinition/match-grade), plus this service's
``match-explanation`` extensions (one per compared field: ``field``, ``level`` reached, ``weight``
as a log2 Bayes factor) and ``match-weight`` (their sum) for the data steward.
"""

from __future__ import annotations

from typing import Any

from ehr.errors import BadRequest, ServiceUnavailable
from ehr.fhir import validation
from ehr.fhir.bundles import bundle, full_url, resource_fragment
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.operations.parameters import Arguments
from ehr.mpi.golden import CANONICAL, MPI_TENANT, live
from ehr.mpi.protocol import Matcher, MatchLike
from ehr.store.protocol import Tx

MATCH_GRADE = "http://hl7.org/fhir/StructureDefinition/match-grade"
EXPLANATION = f"{CANONICAL}/StructureDefinition/match-explanation"
WEIGHT = f"{CANONICAL}/StructureDefinition/match-weight"


def require_matcher(services: Services) -> Matcher[Any]:
    if services.matcher is None:
        raise ServiceUnavailable("The master patient index is not running on this server; start it with a "
                                 "matching engine to use $match and the $mdm-* operations.")
    return services.matcher


def match(ctx: Context, services: Services, tx: Tx, body: dict[str, Any]) -> Result:
    matcher = require_matcher(services)
    resource, only_certain, count = _inputs(body)
    found = [m for m in matcher.match(tx, matcher.features(resource, ctx.tenant), count=max(count, 2))
             if m.key != resource.get("id")]
    if only_certain:
        found = [m for m in found if m.grade == "certain"]
        found = found if len(found) == 1 else []
    entries = []
    for m in found[:count]:
        record = live(tx, m.key)
        if record is None or record.tenant == MPI_TENANT:
            continue
        entries.append({"fullUrl": full_url(ctx.base_url, record), "resource": resource_fragment(record),
                        "search": _search(m)})
    return Result(200, bundle("searchset", entries, [], total=len(entries)))


def _inputs(body: dict[str, Any]) -> tuple[dict[str, Any], bool, int]:
    args = Arguments(body, "$match")
    resource = args.resource("resource")
    if resource is None or resource.get("resourceType") != "Patient":
        raise BadRequest("$match needs parameter 'resource' holding the Patient to look for.")
    validation.validate(resource)
    return resource, args.boolean("onlyCertainMatches", False), args.integer("count", 10, 1, 100)


def _search(m: MatchLike) -> dict[str, Any]:
    explanation = [{"url": EXPLANATION, "extension": [
        {"url": "field", "valueString": part.field},
        {"url": "level", "valueString": part.level},
        {"url": "weight", "valueDecimal": round(part.weight, 4)},
    ]} for part in m.explanation]
    return {
        "extension": [{"url": MATCH_GRADE, "valueCode": m.grade},
                      {"url": WEIGHT, "valueDecimal": round(m.weight, 4)}, *explanation],
        "mode": "match",
        "score": round(m.probability, 6),
    }

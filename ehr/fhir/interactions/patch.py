"""patch with JSON Patch (RFC 6902, via the ``jsonpatch`` library) or FHIRPath Patch
(https://hl7.org/fhir/R4/http.html#patch, https://hl7.org/fhir/R4/fhirpatch.html).

The patched resource is validated like any update and must keep its type and id.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import jsonpatch
import jsonpointer

from ehr.errors import BadRequest, Issue, NotFound, Unprocessable
from ehr.fhir.interactions.conditional import single_match
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.read import read
from ehr.fhir.interactions.update import update
from ehr.fhir.interactions.writes import body_dict
from ehr.fhir.operations.fhirpath_patch import apply_fhirpath_patch
from ehr.store.protocol import Tx

PatchKind = Literal["json-patch", "fhirpath-patch"]


def patch(ctx: Context, services: Services, tx: Tx, resource_type: str, resource_id: str,
          document: Any, kind: PatchKind, *, if_match: int | None = None) -> Result:
    current = read(tx, resource_type, resource_id).record
    assert current is not None
    original = body_dict(current)
    patched = _apply(copy.deepcopy(original), document, kind)
    if patched.get("resourceType") != resource_type or patched.get("id") != resource_id:
        raise Unprocessable("A patch may not change the resource's type or id.",
                            issues=[Issue("Patch changes resourceType or id", code="processing")])
    return update(ctx, services, tx, resource_type, resource_id, patched, if_match=if_match, method="PATCH")


def conditional_patch(ctx: Context, services: Services, tx: Tx, resource_type: str, criteria: str,
                      document: Any, kind: PatchKind, *, if_match: int | None = None) -> Result:
    match = single_match(ctx, services, tx, resource_type, criteria)
    if match is None:
        raise NotFound(f"No {resource_type} matches '{criteria}', so there is nothing to patch; check the "
                       "criteria, or create the resource first.")
    return patch(ctx, services, tx, resource_type, match.id, document, kind, if_match=if_match)


def _apply(resource: dict[str, Any], document: Any, kind: PatchKind) -> dict[str, Any]:
    if kind == "fhirpath-patch":
        return apply_fhirpath_patch(resource, document)
    if not isinstance(document, list):
        raise BadRequest("A JSON Patch document is a JSON array of operations (RFC 6902).")
    try:
        result = jsonpatch.apply_patch(resource, document)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise Unprocessable(f"JSON Patch test failed: {exc}",
                            issues=[Issue(f"JSON Patch test failed: {exc}", code="processing")]) from None
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise BadRequest(f"The JSON Patch cannot be applied: {exc}; check each operation's path.") from None
    if not isinstance(result, dict):
        raise Unprocessable("The patch did not produce a resource.")
    return result

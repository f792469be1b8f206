"""The data steward's operations on the master patient index (``ehr.mpi.decisions``), each answered
with a Parameters resource naming its ``decision`` (for ``$mdm-undo``) and the golden records it
rewrote. Every call passes the interaction runner, so it is authorized and audited like any write.

- ``POST Patient/$mdm-link``: ``source`` (a hospital's Patient) and ``target`` (a Patient or golden
  record): they are the same person.
- ``POST Patient/$mdm-unlink``: ``source``: not the person it is linked to.
- ``POST Patient/$mdm-merge``: ``from`` and ``to`` (golden records, or records of the two persons):
  one person; ``from``'s golden record is ``replaced-by`` ``to``'s.
- ``POST Patient/$mdm-undo``: ``decision``: put back what that decision replaced.
- ``POST Task/[id]/$mdm-resolve``: ``decision`` = ``match`` | ``no-match`` on a review Task.
"""

from __future__ import annotations

from typing import Any

from ehr.errors import BadRequest
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.operations.match import require_matcher
from ehr.fhir.operations.parameters import Arguments
from ehr.mpi import decisions
from ehr.mpi.decisions import Outcome
from ehr.mpi.linking import unwrap
from ehr.store.protocol import Tx


def mdm_link(ctx: Context, services: Services, tx: Tx, body: dict[str, Any]) -> Result:
    args = _args(services, body, "$mdm-link")
    source, target = args.reference("source", "Patient"), args.reference("target", "Patient")
    return _answer(decisions.link(ctx, services, unwrap(tx), source, target))


def mdm_unlink(ctx: Context, services: Services, tx: Tx, body: dict[str, Any]) -> Result:
    source = _args(services, body, "$mdm-unlink").reference("source", "Patient")
    return _answer(decisions.unlink(ctx, services, unwrap(tx), source))


def mdm_merge(ctx: Context, services: Services, tx: Tx, body: dict[str, Any]) -> Result:
    args = _args(services, body, "$mdm-merge")
    source, target = args.reference("from", "Patient"), args.reference("to", "Patient")
    return _answer(decisions.merge(ctx, services, unwrap(tx), source, target))


def mdm_undo(ctx: Context, services: Services, tx: Tx, body: dict[str, Any]) -> Result:
    args = _args(services, body, "$mdm-undo")
    if "decision" not in args.values:
        raise BadRequest("$mdm-undo needs parameter 'decision': the number an $mdm-* answer gave.")
    seq = args.integer("decision", 0, 1, 2**62)
    return _answer(decisions.undo(ctx, services, unwrap(tx), seq))


def mdm_resolve(ctx: Context, services: Services, tx: Tx, task_id: str, body: dict[str, Any]) -> Result:
    verdict = _args(services, body, "$mdm-resolve").code("decision", ("match", "no-match"))
    return _answer(decisions.resolve(ctx, services, unwrap(tx), task_id,
                                     "match" if verdict == "match" else "no-match"))


def _args(services: Services, body: dict[str, Any], operation: str) -> Arguments:
    require_matcher(services)
    return Arguments(body, operation)


def _answer(outcome: Outcome) -> Result:
    parameters: list[dict[str, Any]] = []
    if outcome.decision is not None:
        parameters.append({"name": "decision", "valueInteger": outcome.decision})
    parameters += [{"name": "golden", "valueReference": {"reference": f"Patient/{g}"}} for g in outcome.goldens]
    return Result(200, {"resourceType": "Parameters", "parameter": parameters})

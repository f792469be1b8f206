"""Review tasks for data stewards: a probable match becomes a FHIR Task
(https://hl7.org/fhir/R4/task.html) in the ``mpi`` tenant, found with
``GET /fhir/Task?code=mdm-review&status=requested``. Its ``focus`` is the record that was written,
its ``input`` names the candidate record, the score and the grade; ``owner`` is unset until a steward
takes it. Resolving it (``Task/[id]/$mdm-resolve``) completes it with the steward's decision as
``output`` and ``businessStatus``.
"""

from __future__ import annotations

from typing import Any

from ehr.fhir.interactions.context import Context, Services
from ehr.fhir.interactions.writes import body_dict, new_id, pending
from ehr.mpi.golden import CANONICAL, MPI_TENANT, as_tenant
from ehr.store.protocol import Tx
from ehr.store.records import now_us, to_instant

TASK_SYSTEM = f"{CANONICAL}/CodeSystem/mdm-task"
REVIEW_CODE = "mdm-review"


def review_task(source_id: str, candidate_id: str, probability: float) -> dict[str, Any]:
    return {
        "resourceType": "Task",
        "status": "requested",
        "intent": "proposal",
        "priority": "routine",
        "code": {"coding": [{"system": TASK_SYSTEM, "code": REVIEW_CODE,
                             "display": "Review a probable patient match"}]},
        "description": "Two patient records probably belong to the same person. Decide with "
                       "POST Task/[id]/$mdm-resolve (decision = match or no-match).",
        "focus": {"reference": f"Patient/{source_id}"},
        "authoredOn": to_instant(now_us()),
        "input": [
            {"type": {"text": "candidate"}, "valueReference": {"reference": f"Patient/{candidate_id}"}},
            {"type": {"text": "score"}, "valueDecimal": round(probability, 6)},
            {"type": {"text": "match-grade"}, "valueCode": "probable"},
        ],
    }


def open_review(ctx: Context, services: Services, tx: Tx, source_id: str, candidate_id: str,
                probability: float) -> str:
    """Write a review Task for the pair; returns its id."""
    task_id = new_id()
    body = review_task(source_id, candidate_id, probability)
    tx.write([pending(as_tenant(ctx, MPI_TENANT), services, body, task_id, "POST", None)])
    return task_id


def close_review(ctx: Context, services: Services, tx: Tx, task_id: str | None, decision: str) -> None:
    """Complete the review Task with ``decision`` (match, no-match); nothing when it is closed already."""
    if task_id is None:
        return
    previous = tx.current("Task", task_id, for_update=True)
    if previous is None or previous.deleted:
        return
    body = body_dict(previous)
    if body.get("status") == "completed":
        return
    body["status"] = "completed"
    body["businessStatus"] = {"text": decision}
    body["lastModified"] = to_instant(now_us())
    body["output"] = [{"type": {"text": "decision"}, "valueCode": decision}]
    tx.write([pending(as_tenant(ctx, MPI_TENANT), services, body, task_id, "PUT", previous)])


def reopen_review(ctx: Context, services: Services, tx: Tx, task_id: str | None) -> None:
    """Put a completed review Task back to ``requested`` (its decision was undone)."""
    if task_id is None:
        return
    previous = tx.current("Task", task_id, for_update=True)
    if previous is None or previous.deleted:
        return
    body = {k: v for k, v in body_dict(previous).items() if k not in ("businessStatus", "output")}
    if body.get("status") == "requested":
        return
    body["status"] = "requested"
    body["lastModified"] = to_instant(now_us())
    tx.write([pending(as_tenant(ctx, MPI_TENANT), services, body, task_id, "PUT", previous)])

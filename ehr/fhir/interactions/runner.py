"""The one place every interaction passes through: authorization first (the type-level check, then the
caller's rights compiled into every query of the unit of work, ``ehr.auth.access``), then the unit of work (whose
Patient writes the master patient index links, ``ehr.mpi.linking``), then exactly one audit record —
inside the same transaction for writes (so the entry commits with the data, or not at all), and after it
for reads and failures, whose receipt (on the result, or attached to the exception) the HTTP layer awaits
before the response leaves."""

from __future__ import annotations

from collections.abc import Callable

from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.receipts import attach
from ehr.auth.access import access_for
from ehr.auth.boundary import Action
from ehr.errors import FhirError
from ehr.fhir.compartment import patients_of
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.mpi.linking import run_linked
from ehr.store.protocol import Tx


def execute(services: Services, ctx: Context, action: Action, fn: Callable[[Tx], Result], *,
            write: bool) -> Result:
    try:
        services.authorizer.check(ctx.principal, action)
        access = access_for(ctx, services.registry, services.blinder)
        with services.store.unit_of_work(write=write, access=access) as tx:
            result = run_linked(services, ctx, tx, fn) if write else fn(tx)
            if write:
                result.receipt = services.auditor.record(_record(services, ctx, action, result.status, result), tx)
        if not write:
            result.receipt = services.auditor.record(_record(services, ctx, action, result.status, result), None)
        return result
    except FhirError as exc:
        attach(exc, services.auditor.record(_record(services, ctx, action, exc.status, None), None))
        raise
    except Exception as exc:
        attach(exc, services.auditor.record(_record(services, ctx, action, 500, None), None))
        raise


def _record(services: Services, ctx: Context, action: Action, status: int, result: Result | None) -> AuditRecord:
    record = result.record if result is not None else None
    return AuditRecord(
        interaction=action.interaction,
        tenant=ctx.tenant,
        subject=ctx.principal.subject,
        status=status,
        resource_type=action.resource_type,
        id=record.id if record is not None else action.id,
        touched=_touched(services, action, result),
        roles=ctx.principal.roles,
        purpose_of_use=ctx.purpose_of_use,
        break_glass=ctx.break_glass,
        client=ctx.client,
        parameters=ctx.parameters,
    )


def _touched(services: Services, action: Action, result: Result | None) -> tuple[Touched, ...]:
    """The resources the interaction read or wrote, with their patients; for a failure, the resource
    the request named."""
    if result is None:
        if action.resource_type is None or action.id is None:
            return ()
        reference = f"{action.resource_type}/{action.id}"
        return (Touched(reference, (reference,) if action.resource_type == "Patient" else ()),)
    return tuple(Touched(f"{r.resource_type}/{r.id}", patients_of(services.registry, r), r.tenant)
                 for r in result.touched_records())

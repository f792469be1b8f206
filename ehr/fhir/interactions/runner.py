"""The one place every interaction passes through: authorization first, then the unit of work (whose
Patient writes the master patient index links, ``ehr.mpi.linking``), then exactly one audit record —
inside the same transaction for writes (so the entry commits with the data, or not at all), and
before the response leaves for reads and failures."""

from __future__ import annotations

from collections.abc import Callable

from ehr.audit.boundary import AuditRecord
from ehr.auth.boundary import Action
from ehr.errors import FhirError
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.mpi.linking import run_linked
from ehr.store.protocol import Tx


def execute(services: Services, ctx: Context, action: Action, fn: Callable[[Tx], Result], *,
            write: bool) -> Result:
    try:
        services.authorizer.check(ctx.principal, action)
        with services.store.unit_of_work(write=write) as tx:
            result = run_linked(services, ctx, tx, fn) if write else fn(tx)
            services.auditor.record(_record(ctx, action, result.status, result), tx)
        return result
    except FhirError as exc:
        services.auditor.record(_record(ctx, action, exc.status, None), None)
        raise


def _record(ctx: Context, action: Action, status: int, result: Result | None) -> AuditRecord:
    record = result.record if result is not None else None
    return AuditRecord(
        interaction=action.interaction,
        tenant=ctx.tenant,
        subject=ctx.principal.subject,
        status=status,
        resource_type=action.resource_type,
        id=record.id if record is not None else action.id,
    )

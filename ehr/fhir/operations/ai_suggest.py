"""``Patient/[id]/$ai-suggest``: AI-assisted diagnostic suggestions for one patient, computed from the
stored record by the models of ``inference/`` (RiskAssessment + Provenance + Device per model, each with
its basis; an OperationOutcome entry says why a model computed nothing). The result is returned, not
stored. Only the Observations whose code (or component code) a model reads are fetched, and every
Condition. Operation definition: ``inference.fhir_out.operation_definition``."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from ehr.errors import ServiceUnavailable
from ehr.fhir.compartment import patient_resources
from ehr.fhir.interactions.context import Result, Services
from ehr.fhir.interactions.read import read
from ehr.search.query import Criterion, TokenValue
from ehr.store.protocol import Tx


def ai_suggest(services: Services, tx: Tx, patient_id: str, now: datetime | None = None) -> Result:
    if services.suggester is None:
        raise ServiceUnavailable("The AI models are not loaded on this server; start it with inference on "
                                 "(ehr serve loads them unless --no-inference is given).")
    found = read(tx, "Patient", patient_id)
    patient = orjson.loads(_body(found))
    codes = tuple(TokenValue(system, code) for system, code in sorted(services.suggester.observation_codes()))
    observations = patient_resources(services, tx, patient_id, ["Observation"],
                                     also=[Criterion("combo-code", "token", None, codes)])
    resources = observations + patient_resources(services, tx, patient_id, ["Condition"])
    bundle = services.suggester.suggest(patient, resources, now or datetime.now(UTC))
    return Result(200, bundle, touched=found.touched_records())


def _body(result: Result) -> bytes:
    if not isinstance(result.body, bytes):
        raise TypeError("read returns the stored JSON")
    return result.body

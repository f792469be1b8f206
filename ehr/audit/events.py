"""Building FHIR AuditEvents shaped by the IHE Basic Audit Log Patterns (BALP) from one
:class:`~ehr.audit.boundary.AuditRecord`: one event per patient touched (and one without a patient
when none was), each holding references only.

- ``type`` rest (http://terminology.hl7.org/CodeSystem/audit-event-type), ``subtype`` the RESTful
  interaction (http://hl7.org/fhir/restful-interaction) and, for an operation, its name;
- ``action`` C/R/U/D/E, ``recorded``, ``outcome`` 0/4/8 (from the HTTP status; never its diagnostics,
  which may quote search values);
- ``agent``: the user (``who.identifier`` the principal's subject, ``requestor`` true, its roles) and,
  when known, the client machine (its network address);
- ``source``: this server as observer, ``site`` the hospital (tenant);
- ``entity``: the patient (role 1) and the resources touched (role 4) as references; for a search,
  a query entity (role 24) that names its parameters, never their values;
- the purpose of use when declared (``purposeOfEvent``, and the user's ``purposeOfUse``); break-glass
  adds v3 ActReason ``BTG``.

Spec: https://hl7.org/fhir/R4/auditevent.html,
https://profiles.ihe.net/ITI/BALP/ (RESTful activities, Query, Read, Create/Update/Delete)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.canonical import canonical_built
from ehr.store.records import to_instant

EVENT_TYPE = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}
RESTFUL = "http://hl7.org/fhir/restful-interaction"
OPERATION_SYSTEM = "urn:ehr:operation"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ROLE_SYSTEM = "urn:ehr:role"
SUBJECT_SYSTEM = "urn:ehr:subject"
_USER_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                          "code": "IRCP"}]}  # information recipient
_CLIENT_TYPE = {"coding": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110153"}]}  # source
_SOURCE_TYPE = [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4"}]  # app server
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
#: audit-entity-type and object-role codes (displays left out: codes and systems say it, in less to hash)
PERSON, SYSTEM_OBJECT = "1", "2"
PATIENT, DOMAIN_RESOURCE, QUERY = "1", "4", "24"
_ACTIONS = {"create": "C", "read": "R", "vread": "R", "update": "U", "patch": "U", "delete": "D"}
OBSERVER = "ehr-service"


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """One AuditEvent, canonical and ready to append, with the columns that index it."""

    event: bytes
    recorded: int
    tenant: str
    agent: str
    interaction: str
    action: str
    status: int
    outcome: str
    patient: str | None
    patient_tenant: str | None
    resources: tuple[str, ...]
    purpose: str | None
    roles: tuple[str, ...]
    break_glass: bool
    denied: bool


def prepare_events(record: AuditRecord, recorded: int) -> list[PreparedEvent]:
    """The AuditEvents of ``record``: one per patient touched, plus one for resources that belong to
    no patient; exactly one (without a patient) when nothing was touched."""
    groups = group_by_patient(record.touched)
    action = action_of(record.interaction, record.status)
    outcome = outcome_of(record.status)
    out = []
    for patient, (patient_tenant, resources) in groups.items():
        event = audit_event(record, recorded, action, outcome, patient, resources)
        out.append(PreparedEvent(
            canonical_built(event), recorded, record.tenant, record.subject, record.interaction, action,
            record.status, outcome, patient, patient_tenant, resources, record.purpose_of_use,
            record.roles, record.break_glass, record.status in (401, 403)))
    return out


def group_by_patient(touched: tuple[Touched, ...]) -> dict[str | None, tuple[str | None, tuple[str, ...]]]:
    """Patient reference (None: no patient) -> (that patient's tenant, the references touched, each
    once, in the order first touched). Linear in what was touched: a transaction of a few thousand
    resources of one patient is one group."""
    groups: dict[str | None, tuple[str | None, dict[str, None]]] = {}
    for item in touched:
        for patient in item.patients or (None,):
            _, refs = groups.setdefault(patient, (item.tenant if patient else None, {}))
            refs[item.reference] = None
    if not groups:
        return {None: (None, ())}
    return {p: (t, tuple(refs)) for p, (t, refs) in groups.items()}


def action_of(interaction: str, status: int) -> str:
    """AuditEvent.action: C, R, U, D, or E for searches, history, batches and operations. An update
    that created the resource (201) is a create."""
    if interaction == "update" and status == 201:
        return "C"
    if interaction.startswith("history"):
        return "R"
    return _ACTIONS.get(interaction, "E")


def outcome_of(status: int) -> str:
    """AuditEvent.outcome: 0 success, 4 minor failure (4xx), 8 serious failure (5xx)."""
    if status < 400:
        return "0"
    return "4" if status < 500 else "8"


def audit_event(record: AuditRecord, recorded: int, action: str, outcome: str, patient: str | None,
                resources: tuple[str, ...]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": EVENT_TYPE,
        "subtype": subtypes(record.interaction),
        "action": action,
        "recorded": to_instant(recorded),
        "outcome": outcome,
        "agent": agents(record),
        "source": {"site": record.tenant, "observer": {"display": OBSERVER}, "type": _SOURCE_TYPE},
    }
    found = entities(record, patient, resources)
    if found:
        event["entity"] = found
    if outcome != "0":
        event["outcomeDesc"] = f"HTTP {record.status}"
    purposes = purposes_of(record)
    if purposes:
        event["purposeOfEvent"] = purposes
    return event


def subtypes(interaction: str) -> list[dict[str, str]]:
    if interaction.startswith("operation:"):
        name = "$" + interaction.removeprefix("operation:")
        return [{"system": RESTFUL, "code": "operation"}, {"system": OPERATION_SYSTEM, "code": name}]
    return [{"system": RESTFUL, "code": interaction}]


def agents(record: AuditRecord) -> list[dict[str, Any]]:
    user: dict[str, Any] = {
        "type": _USER_TYPE,
        "who": {"identifier": {"system": SUBJECT_SYSTEM, "value": record.subject}},
        "requestor": True,
    }
    if record.roles:
        user["role"] = [{"coding": [{"system": ROLE_SYSTEM, "code": role}]} for role in record.roles]
    purposes = purposes_of(record)
    if purposes:
        user["purposeOfUse"] = purposes
    out = [user]
    if record.client:
        out.append({"type": _CLIENT_TYPE, "requestor": False,
                    "network": {"address": record.client, "type": "2"}})
    return out


def entities(record: AuditRecord, patient: str | None, resources: tuple[str, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if patient is not None:
        out.append(_entity(patient, PERSON, PATIENT))
    out.extend(_entity(ref, SYSTEM_OBJECT, DOMAIN_RESOURCE) for ref in resources if ref != patient)
    if record.parameters:
        query = _entity(None, SYSTEM_OBJECT, QUERY)
        query["detail"] = [{"type": "parameters", "valueString": ",".join(record.parameters)}]
        out.append(query)
    return out


def _entity(reference: str | None, kind: str, role: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": {"system": _ENTITY_TYPE, "code": kind},
                           "role": {"system": _OBJECT_ROLE, "code": role}}
    if reference is not None:
        out["what"] = {"reference": reference}
    return out


def purposes_of(record: AuditRecord) -> list[dict[str, Any]]:
    out = []
    if record.purpose_of_use:
        out.append({"coding": [{"system": ACT_REASON, "code": record.purpose_of_use}]})
    if record.break_glass:
        out.append({"coding": [{"system": ACT_REASON, "code": "BTG"}]})  # break the glass
    return out

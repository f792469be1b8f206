"""Unit tests of the caller's rights: how scopes become an :class:`Access`, the type-level check of each
interaction, the restriction's place in the SQL (the WHERE clause, chain and ``_has`` subqueries), and
conditional writes that must not duplicate what the scopes hide."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.dialects import sqlite

from ehr.api.app import build_services
from ehr.audit.boundary import AuditRecord
from ehr.audit.receipts import DONE, Receipt
from ehr.auth.access import GOLDEN_TENANT, Access, Grant, access_for
from ehr.auth.boundary import Action, Principal
from ehr.auth.scope_authorizer import ScopeAuthorizer
from ehr.errors import FhirError, Forbidden
from ehr.fhir.interactions import create, read
from ehr.fhir.interactions.context import Context
from ehr.fhir.interactions.runner import execute
from ehr.mpi.golden import MPI_TENANT
from ehr.search.query import Chain, Criterion, Reverse, SearchQuery, StringValue, TokenValue
from ehr.search.registry import Registry
from ehr.search.sql import page_statement
from ehr.store.memory import MemoryStore
from ehr.store.protocol import Tx
from ehr.store.sql.access import guard
from tests.auth.matrix import CATEGORY, observation, scope

REGISTRY = Registry.load()


def _ctx(*scopes: str, patient: str | None = None, purpose: str | None = None, roles: tuple[str, ...] = (),
         tenant: str = "alpha") -> Context:
    principal = Principal(tenant, scopes=tuple(scope(s) for s in scopes), patient=patient, roles=roles)
    return Context("http://test/fhir", principal, purpose_of_use=purpose)


def test_development_mode_is_unrestricted() -> None:
    ctx = Context("http://test/fhir", Principal("alpha"))
    assert access_for(ctx, REGISTRY) is None


def test_scopes_become_grants_with_parsed_criteria() -> None:
    access = access_for(_ctx(f"user/Observation.rs?category={CATEGORY}|laboratory", "user/Patient.r"), REGISTRY)
    assert access is not None
    lab, patient = access.grants
    assert lab.resource_type == "Observation"
    assert lab.criteria[0].param == "category"
    assert lab.criteria[0].values == (TokenValue(CATEGORY, "laboratory"),)
    assert patient.criteria == ()
    assert "Observation" in access.compartment_types
    assert "Practitioner" not in access.compartment_types


def test_patient_scopes_need_a_launch_patient() -> None:
    with pytest.raises(Forbidden, match="launch patient"):
        access_for(_ctx("patient/*.rs"), REGISTRY)


@pytest.mark.parametrize("text", ["user/*.rs?category=laboratory", "user/Observation.rs?no-such-param=1"])
def test_criteria_the_server_cannot_apply_are_refused(text: str) -> None:
    with pytest.raises(Forbidden):
        access_for(_ctx(text), REGISTRY)


def test_break_glass_needs_a_purpose() -> None:
    ctx = Context("http://test/fhir", Principal("alpha", scopes=(scope("user/*.rs"),)), break_glass=True)
    access = access_for(ctx, REGISTRY)
    assert access is not None
    assert not access.break_glass


def test_the_golden_tenant_is_the_master_patient_index_s() -> None:
    assert GOLDEN_TENANT == MPI_TENANT


@pytest.mark.parametrize(("scopes", "action", "allowed"), [
    (["user/Patient.r"], Action("read", "Patient", "1"), True),
    (["user/Patient.r"], Action("search-type", "Patient"), False),
    (["user/Patient.s"], Action("read", "Patient", "1"), False),
    (["user/Observation.rs"], Action("search-system", None), True),
    (["user/Observation.r"], Action("history-system", None), False),
    (["user/*.rs"], Action("create", "Observation"), False),
    (["user/*.c"], Action("create", "Observation"), True),
    (["user/*.c"], Action("update", "Observation", "1"), False),
    (["user/*.cruds"], Action("patch", "Observation", "1"), True),
    (["user/*.cruds"], Action("delete", "Observation", "1"), True),
    (["user/*.r"], Action("transaction", "Bundle"), True),
    (["user/*.r"], Action("operation:everything", "Patient", "1"), True),
    (["user/Observation.r"], Action("operation:everything", "Patient", "1"), False),
    (["user/*.cruds"], Action("operation:mdm-link", "Patient"), False),
    (["user/*.cruds"], Action("operation:unheard-of", "Patient"), False),
])
def test_each_interaction_needs_its_letter(scopes: list[str], action: Action, allowed: bool) -> None:
    principal = Principal("alpha", scopes=tuple(scope(s) for s in scopes))
    try:
        ScopeAuthorizer().check(principal, action)
        outcome = True
    except Forbidden:
        outcome = False
    assert outcome is allowed


def test_stewards_may_run_the_index_operations() -> None:
    ScopeAuthorizer().check(Principal("alpha", roles=("data-steward",), scopes=(scope("user/*.rs"),)),
                            Action("operation:mdm-link", "Patient"))


def _sql(query: SearchQuery, access: Access) -> str:
    statement = page_statement(query, guard=guard(access, "rs"))
    return str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))


def test_the_restriction_is_in_the_where_clause_and_in_every_subquery() -> None:
    access = Access("alpha", (Grant("user", "Observation", frozenset("rs")),))
    chain = Criterion("subject", "reference", None, (), link=Chain(
        (("Patient", Criterion("name", "string", None, (StringValue("ames", "Ames"),))),)))
    has = Criterion("_has", "reference", None, (), link=Reverse(
        "Observation", "subject", Criterion("code", "token", None, (TokenValue(None, "x"),))))
    chained = _sql(SearchQuery("Observation", (chain,)), access)
    # the searched rows and the chain's target rows each carry the hospital condition
    assert chained.count("tenant = 'alpha'") >= 2
    reversed_ = _sql(SearchQuery("Patient", (has,)), access)
    assert reversed_.count("tenant = 'alpha'") >= 2
    # a user/ scope without a purpose of use never reaches into the master patient index's links
    assert "mpi_links" not in chained


def test_a_purpose_of_use_reaches_linked_patients_through_the_index() -> None:
    access = Access("alpha", (Grant("user", "*", frozenset("rs")),), purpose="TREAT")
    assert "mpi_links" in _sql(SearchQuery("Observation"), access)


def test_a_conditional_create_does_not_duplicate_what_the_scopes_hide() -> None:
    services = build_services(MemoryStore())
    dev = Context("http://test/fhir", Principal("alpha"))
    vital = observation("v1", "vital-signs", "p1", "alpha")
    vital["identifier"] = [{"system": "urn:test", "value": "v1"}]
    execute(services, dev, Action("create", "Observation"),
            lambda tx: create.create(dev, services, tx, "Observation", dict(vital)), write=True)
    lab_only = _ctx(f"user/Observation.cruds?category={CATEGORY}|laboratory")
    with pytest.raises(FhirError) as refused:
        execute(services, lab_only, Action("create", "Observation"), lambda tx: create.create(
            lab_only, services, tx, "Observation", observation("v2", "laboratory", "p1", "alpha"),
            if_none_exist="identifier=urn:test|v1"), write=True)
    assert refused.value.status == 412


class _Recorder:
    def __init__(self) -> None:
        self.events: list[AuditRecord] = []

    def record(self, event: AuditRecord, tx: Tx | None) -> Receipt:
        self.events.append(event)
        return DONE


def test_denials_and_break_glass_are_audited() -> None:
    recorder = _Recorder()
    services = replace(build_services(MemoryStore()), auditor=recorder)
    dev = Context("http://test/fhir", Principal("alpha"))
    execute(services, dev, Action("create", "Observation"), lambda tx: create.create(
        dev, services, tx, "Observation", observation("o1", "laboratory", "p1", "alpha")), write=True)
    created = recorder.events[-1].id
    assert created is not None
    patient_only = _ctx("patient/Patient.r", patient="p1")
    with pytest.raises(Forbidden):
        execute(services, patient_only, Action("read", "Observation", created),
                lambda tx: read.read(tx, "Observation", created), write=False)
    assert recorder.events[-1].status == 403
    glass = Context("http://test/fhir", Principal("beta", scopes=(scope("user/*.rs"),)), purpose_of_use="TREAT",
                    break_glass=True)
    answer = execute(services, glass, Action("read", "Observation", created),
                     lambda tx: read.read(tx, "Observation", created), write=False)
    assert answer.status == 200
    assert recorder.events[-1].break_glass
    assert recorder.events[-1].purpose_of_use == "TREAT"

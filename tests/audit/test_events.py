"""Every AuditEvent that ``prepare_events`` builds is canonical: its bytes pass ``canonical``'s walk
(ASCII keys; strings, booleans, lists and objects only) and equal the ``rfc8785`` reference
implementation's, for generated records — so the hot path may skip the walk (``canonical_built``)."""

from __future__ import annotations

import orjson
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.canonical import _check, canonical
from ehr.audit.events import audit_event, prepare_events

TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)
REFERENCE = st.builds(lambda t, i: f"{t}/{i}", st.sampled_from(["Patient", "Observation", "Encounter"]), TEXT)
TOUCHED = st.builds(Touched, REFERENCE, st.lists(REFERENCE, max_size=2).map(tuple), st.none() | TEXT)
RECORDS = st.builds(
    AuditRecord,
    interaction=st.sampled_from(["read", "vread", "search-type", "create", "update", "delete", "history-instance",
                                 "operation:validate", "transaction"]),
    tenant=TEXT, subject=TEXT, status=st.sampled_from([200, 201, 400, 401, 403, 404, 500]),
    resource_type=st.none() | TEXT, id=st.none() | TEXT, touched=st.lists(TOUCHED, max_size=4).map(tuple),
    roles=st.lists(TEXT, max_size=3).map(tuple), purpose_of_use=st.none() | TEXT, break_glass=st.booleans(),
    client=st.none() | TEXT, parameters=st.lists(TEXT, max_size=3).map(tuple))
# 2000-01-01 .. 2100-01-01 in microseconds
RECORDED = st.integers(946_684_800_000_000, 4_102_444_800_000_000)


@settings(max_examples=300)
@given(RECORDS, RECORDED)
def test_every_built_event_is_canonical(record: AuditRecord, recorded: int) -> None:
    for prepared in prepare_events(record, recorded):
        value = orjson.loads(prepared.event)
        _check(value)  # raises outside the proven subset
        assert prepared.event == rfc8785.dumps(value) == canonical(value)


@given(RECORDS, RECORDED)
def test_the_unchecked_bytes_are_the_checked_ones(record: AuditRecord, recorded: int) -> None:
    prepared = prepare_events(record, recorded)[0]
    event = audit_event(record, recorded, prepared.action, prepared.outcome, prepared.patient,
                        prepared.resources)
    assert prepared.event == canonical(event)

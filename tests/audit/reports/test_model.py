"""The patient access report and the user activity report."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from ehr.audit.reports.memory import MemoryAuditReader
from ehr.audit.reports.model import Period, patient_access, user_activity
from tests.audit.reports.support import at, row


def test_patient_access_lists_who_when_what_why_and_outcome_of_that_patient_only() -> None:
    rows = [
        row(at(0, 9), "clinician-a1", "Patient/a1", purpose="TREAT"),
        row(at(0, 10), "nurse-b1", "Patient/a1", tenant="hospital-b", roles=("nurse",), purpose="ETREAT",
            break_glass=True, interaction="break-glass"),
        row(at(0, 11), "clinician-a1", "Patient/a2"),
        row(at(1, 9), "clerk-a2", "Patient/a1", denied=True),
    ]
    report = patient_access(rows, "Patient/a1", Period(), UTC)
    assert [r.agent for r in report.entries] == ["clinician-a1", "nurse-b1", "clerk-a2"]
    assert report.entries[1].purpose == "ETREAT"
    assert report.entries[1].roles == ("nurse",)
    assert report.tenants == ("hospital-a", "hospital-b")
    assert report.per_day == ((date(2024, 5, 6), 2), (date(2024, 5, 7), 1))
    assert report.per_agent == (("clerk-a2", 1), ("clinician-a1", 1), ("nurse-b1", 1))


def test_patient_access_keeps_the_period_half_open() -> None:
    rows = [row(at(0, 8)), row(at(0, 9)), row(at(0, 10))]
    report = patient_access(rows, "Patient/a1", Period(at(0, 9), at(0, 10)), UTC)
    assert [r.recorded for r in report.entries] == [at(0, 9)]


def test_patient_access_of_an_unknown_patient_is_empty() -> None:
    report = patient_access([row(at(0, 9))], "Patient/zz", Period(), UTC)
    assert report.entries == ()
    assert report.per_day == ()
    assert report.per_agent == ()


def test_user_activity_counts_per_local_day_interaction_and_patient() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    rows = [
        row(at(0, 21, 30), "nurse-a3", "Patient/a1"),  # 23:30 in Berlin: 6 May
        row(at(0, 22, 30), "nurse-a3", "Patient/a2", interaction="search-type"),  # 00:30 in Berlin: 7 May
        row(at(1, 9), "nurse-a3", "Patient/a2"),
        row(at(1, 10), "nurse-a3", None, interaction="search-system"),
        row(at(1, 11), "clinician-a1", "Patient/a1"),
    ]
    report = user_activity(rows, "nurse-a3", Period(), berlin)
    assert len(report.entries) == 4
    assert report.per_day == ((date(2024, 5, 6), 1), (date(2024, 5, 7), 3))
    assert report.per_interaction == (("read", 2), ("search-system", 1), ("search-type", 1))
    assert report.per_patient == (("Patient/a2", 2), ("Patient/a1", 1))
    assert report.patients_per_day == ((date(2024, 5, 6), 1), (date(2024, 5, 7), 1))


def test_user_activity_of_someone_else_is_empty() -> None:
    report = user_activity([row(at(0, 9), "clinician-a1")], "clinician-a2", Period(), UTC)
    assert report.entries == ()
    assert report.per_patient == ()


def test_memory_reader_filters_like_the_log() -> None:
    rows = [row(at(0, 9), "a"), row(at(0, 10), "b", "Patient/a2", tenant="hospital-b"), row(at(1, 9), "a")]
    reader = MemoryAuditReader(reversed(rows))
    assert [r.seq for r in reader.rows()] == sorted(r.seq for r in rows)
    assert [r.agent for r in reader.rows(agent="a")] == ["a", "a"]
    assert [r.tenant for r in reader.rows(tenant="hospital-b")] == ["hospital-b"]
    assert [r.patient for r in reader.rows(patient="Patient/a2")] == ["Patient/a2"]
    assert len(list(reader.rows(since=at(0, 10), until=datetime(2024, 5, 7, 9, tzinfo=UTC)))) == 1

"""Each anomaly rule, with a case it must flag and one it must not."""

from __future__ import annotations

from datetime import UTC, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.audit.reports.anomalies import (
    AnomalyKind,
    NoCareLinks,
    after_hours,
    break_glass,
    denied_bursts,
    detect_anomalies,
    other_hospital,
    unusual_volume,
)
from ehr.audit.reports.model import Period
from ehr.audit.reports.rules import AnomalyRules, load_zone
from ehr.audit.reports.volume import robust_threshold
from ehr.audit.rows import AuditRow
from ehr.settings import Settings, parse_office_hours
from tests.audit.reports.support import DAY, at, row

RULES = AnomalyRules()


class Links:
    def __init__(self, *pairs: tuple[str, str]) -> None:
        self.pairs = set(pairs)

    def linked(self, tenant: str, patient: str) -> bool:
        return (tenant, patient) in self.pairs


def test_break_glass_is_flagged_once_per_entry_with_its_purpose() -> None:
    flagged = break_glass([row(at(0, 9), break_glass=True, purpose="ETREAT"), row(at(0, 10))])
    assert [a.kind for a in flagged] == [AnomalyKind.BREAK_GLASS]
    assert "ETREAT" in flagged[0].reason
    assert flagged[0].patient == "Patient/a1"


def test_ordinary_access_is_not_break_glass() -> None:
    assert break_glass([row(at(0, 9)), row(at(0, 10), purpose="ETREAT")]) == []


def test_after_hours_groups_an_agents_night_and_says_when() -> None:
    rows = [row(at(0, 22, 5)), row(at(0, 22, 40), patient="Patient/a2"), row(at(0, 6, 59), agent="nurse-a3")]
    flagged = after_hours(rows, RULES)
    assert {(a.agent, a.count) for a in flagged} == {("clinician-a1", 2), ("nurse-a3", 1)}
    night = next(a for a in flagged if a.agent == "clinician-a1")
    assert "22:05 and 22:40" in night.reason
    assert "2 patients" in night.reason
    assert "07:00–19:00" in night.reason


def test_office_hours_and_denied_attempts_are_not_after_hours() -> None:
    rows = [row(at(0, 7)), row(at(0, 18, 59)), row(at(0, 23), denied=True)]
    assert after_hours(rows, RULES) == []


def test_after_hours_uses_the_configured_zone_and_hours() -> None:
    rules = AnomalyRules.from_settings(Settings(auth="dev", audit_timezone="America/New_York",
                                                audit_office_hours=parse_office_hours("08:30-17:00")))
    # 13:00 UTC is 09:00 in New York (summer time): inside; 12:00 UTC is 08:00: outside
    assert after_hours([row(at(0, 13))], rules) == []
    assert len(after_hours([row(at(0, 12))], rules)) == 1
    assert "America/New_York" in after_hours([row(at(0, 12))], rules)[0].reason


@pytest.mark.parametrize("text", ["19:00-07:00", "7-19", "07:00", "07:00-25:00"])
def test_office_hours_must_be_a_forward_range(text: str) -> None:
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_office_hours(text)


def test_an_unknown_zone_is_refused_with_a_hint() -> None:
    with pytest.raises(ValueError, match="IANA"):
        load_zone("Mars/Olympus")


def _workdays(agent: str, per_day: list[int], tenant: str = "hospital-a") -> list[AuditRow]:
    """``per_day[i]`` distinct patients on day ``i``, during office hours."""
    return [row(at(day, 9, n % 60) + timedelta(hours=n // 60), agent, f"Patient/{agent}-{day}-{n}", tenant=tenant)
            for day, count in enumerate(per_day) for n in range(count)]


def test_unusual_volume_against_the_agents_own_baseline() -> None:
    rows = _workdays("clerk-a4", [6, 7, 5, 6, 8, 6, 7, 30])
    flagged = unusual_volume(rows, Period(at(7, 0)), RULES)
    assert [(a.agent, a.count) for a in flagged] == [("clerk-a4", 30)]
    assert "their own baseline of 7 days" in flagged[0].reason
    assert "median 6" in flagged[0].reason


def test_a_busy_but_usual_day_is_not_unusual_volume() -> None:
    rows = _workdays("clerk-a4", [20, 24, 18, 22, 25, 21, 19, 26])
    assert unusual_volume(rows, Period(at(7, 0)), RULES) == []


def test_unusual_volume_falls_back_to_the_hospitals_baseline_for_a_new_user() -> None:
    rows = [*_workdays("nurse-a1", [5, 6, 5, 7]), *_workdays("nurse-a2", [6, 5, 6, 5]),
            *_workdays("new-a9", [0, 0, 0, 40])]
    flagged = unusual_volume(rows, Period(at(3, 0)), RULES)
    assert [(a.agent, a.count) for a in flagged] == [("new-a9", 40)]
    assert "hospital-a's baseline of 8 days" in flagged[0].reason


def test_few_patients_are_never_unusual_volume_even_far_above_a_flat_baseline() -> None:
    rows = _workdays("clinician-a1", [1, 1, 1, 1, 1, 1, 9])
    assert unusual_volume(rows, Period(at(6, 0)), RULES) == []


def test_unusual_volume_needs_a_baseline() -> None:
    assert unusual_volume(_workdays("clerk-a4", [60]), Period(), RULES) == []


def test_robust_threshold_ignores_one_extreme_value() -> None:
    # median 6; absolute deviations 1 0 1 0 1 494 → MAD 1
    centre, threshold = robust_threshold([5, 6, 7, 6, 5, 500], 4.0)
    assert centre == 6.0
    assert threshold == pytest.approx(6.0 + 4 * 1.4826)
    # a flat baseline (MAD 0) still needs more than k above the median
    assert robust_threshold([6, 6, 6, 6, 6], 4.0) == (6.0, 10.0)


def test_another_hospitals_patient_without_a_care_link_is_flagged_per_patient() -> None:
    rows = [row(at(0, 9), "clinician-b2", "Patient/a3", tenant="hospital-b"),
            row(at(0, 10), "clinician-b2", "Patient/a3", tenant="hospital-b")]
    flagged = other_hospital(rows, NoCareLinks())
    assert [(a.agent, a.patient, a.count) for a in flagged] == [("clinician-b2", "Patient/a3", 2)]
    assert "hospital-b" in flagged[0].reason
    assert "of hospital-a" in flagged[0].reason


def test_a_care_link_own_patients_and_denied_attempts_are_not_flagged() -> None:
    rows = [row(at(0, 9), "clinician-b2", "Patient/a3", tenant="hospital-b"),
            row(at(0, 9), "clinician-b2", "Patient/a4", tenant="hospital-b", denied=True),
            row(at(0, 9), "clinician-a1", "Patient/a3"),
            row(at(0, 9), "clinician-a1", "Patient/x", patient_tenant=None)]
    assert other_hospital(rows, Links(("hospital-b", "Patient/a3"))) == []


def test_a_burst_of_denied_attempts_is_flagged_once() -> None:
    rows = [row(at(0, 14) + timedelta(seconds=50 * n), "clerk-a4", denied=True) for n in range(7)]
    flagged = denied_bursts(rows, RULES)
    assert [(a.agent, a.count) for a in flagged] == [("clerk-a4", 7)]
    assert "7 denied attempts within 10 minutes" in flagged[0].reason


def test_spread_out_denied_attempts_are_not_a_burst() -> None:
    rows = [row(at(0, 9) + timedelta(minutes=4 * n), "clerk-a4", denied=True) for n in range(8)]
    rows += [row(at(0, 15) + timedelta(seconds=n), "clerk-a5", denied=n % 2 == 0) for n in range(8)]
    assert denied_bursts(rows, RULES) == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60 * 24 * 3), st.booleans(), st.sampled_from(["u1", "u2"])), max_size=60))
def test_bursts_are_dense_and_disjoint_and_after_hours_covers_exactly_the_night(
        events: list[tuple[int, bool, str]]) -> None:
    rows = [row(DAY + timedelta(minutes=m), agent, denied=denied) for m, denied, agent in events]
    seen: set[int] = set()
    for burst in denied_bursts(rows, RULES):
        assert burst.count >= RULES.denied_burst
        assert burst.last - burst.first <= RULES.denied_window
        assert not seen & set(burst.seqs)
        seen |= set(burst.seqs)
    night = {r.seq for r in rows if not r.denied and not time(7) <= r.recorded.time() < time(19)}
    assert {s for a in after_hours(rows, RULES) for s in a.seqs} == night


def test_detect_reports_only_the_period_but_reads_the_baseline_before_it() -> None:
    rows = [*_workdays("clerk-a4", [6, 7, 5, 6, 8, 6, 7, 30]), row(at(0, 3), "clinician-a1", break_glass=True)]
    found = detect_anomalies(rows, Period(at(7, 0), at(8, 0)), RULES, NoCareLinks())
    assert [a.kind for a in found] == [AnomalyKind.UNUSUAL_VOLUME]


def test_detect_with_berlin_office_hours() -> None:
    rules = AnomalyRules(zone=ZoneInfo("Europe/Berlin"))
    found = detect_anomalies([row(at(0, 5, 30)), row(at(0, 4, 30))], Period(), rules, NoCareLinks())
    assert [(a.kind, a.count) for a in found] == [(AnomalyKind.AFTER_HOURS, 1)]
    assert found[0].first == at(0, 4, 30).astimezone(UTC)


def _oracle(rows: list[AuditRow], rules: AnomalyRules) -> set[tuple[str, int]]:
    """The volume rule written out plainly: every baseline recomputed for every day."""
    days: dict[tuple[str, str, object], set[str]] = {}
    for r in rows:
        if r.patient is not None and not r.denied:
            days.setdefault((r.tenant, r.agent, r.recorded.date()), set()).add(r.patient)
    found = set()
    for key, patients in days.items():
        own = [len(p) for k, p in days.items() if k[:2] == key[:2] and k != key]
        tenant = [len(p) for k, p in days.items() if k[0] == key[0] and k != key]
        baseline = own if len(own) >= rules.volume_min_baseline_days else tenant
        if len(patients) >= rules.volume_min_patients and len(baseline) >= rules.volume_min_baseline_days \
                and len(patients) > robust_threshold(baseline, rules.volume_k)[1]:
            found.add((key[1], len(patients)))
    return found


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.integers(0, 9), st.integers(0, 30)), max_size=40))
def test_unusual_volume_matches_a_plain_oracle(days: list[tuple[str, int, int]]) -> None:
    rules = AnomalyRules(volume_min_patients=3, volume_min_baseline_days=2)
    rows = [row(at(day, 9), agent, f"Patient/{agent}-{day}-{n}") for agent, day, count in days for n in range(count)]
    found = {(a.agent, a.count) for a in unusual_volume(rows, Period(), rules)}
    assert found == _oracle(rows, rules)


def test_the_server_reads_zone_and_office_hours_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EHR_AUDIT_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("EHR_AUDIT_OFFICE_HOURS", "06:30-20:00")
    rules = AnomalyRules.from_settings(Settings.from_env())
    assert str(rules.zone) == "Europe/Berlin"
    assert (rules.office_start, rules.office_end) == (time(6, 30), time(20))

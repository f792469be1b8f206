"""The arithmetic of bench_protection: which runs are compared with which, and how."""

from __future__ import annotations

import pytest

from bench.bench_protection import ingest_rate, paired_ratios, turns


def test_the_order_of_the_servers_is_reversed_every_other_turn() -> None:
    servers = ["off", "on", "sql"]
    assert [list(turns(servers, turn)) for turn in range(4)] == [
        ["off", "on", "sql"], ["sql", "on", "off"], ["off", "on", "sql"], ["sql", "on", "off"]]


def test_ratios_compare_the_runs_of_one_turn_only() -> None:
    # the machine slows down by half after the first turn: within a turn the ratio stays 0.8
    protected, unprotected = [800.0, 400.0, 400.0], [1000.0, 500.0, 500.0]
    assert paired_ratios(protected, unprotected) == pytest.approx([0.8, 0.8, 0.8])
    assert paired_ratios([3.0, 1.0], [4.0, 4.0]) == [0.25, 0.75]  # sorted, for the median and the range


def test_ratios_need_as_many_runs_on_both_sides() -> None:
    with pytest.raises(ValueError, match=r"shorter|longer"):
        paired_ratios([1.0, 2.0], [1.0])


def test_the_ingest_rate_is_all_resources_over_all_the_time_spent() -> None:
    assert ingest_rate([(100, 1.0), (300, 1.0)]) == 200.0
    assert ingest_rate([(100, 1.0), (100, 4.0)]) == 40.0  # the mean of 100/s and 25/s would say 62.5

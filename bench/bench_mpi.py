"""Matching benchmarks of the master patient index; prints figures for BENCHMARKS.md.

    python bench/bench_mpi.py febrl             # FEBRL 1-4: Splink vs recordlinkage ECM, same pairs
    python bench/bench_mpi.py synthea [--people 10000]
    python bench/bench_mpi.py latency [--records 100000] [--queries 1000]
    python bench/bench_mpi.py batch --records 100000 [--records 250000 ...]

FEBRL: each data set is trained on itself without labels (as ECM is), linked by Splink, and
judged at the ``certain`` threshold of the settings ("model"), and after the never-certain rules
("auto-links": what the service would link without a steward). Labels are read only to score.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.mpi_data import Labelled, Pair, febrl, pair
from bench.mpi_metrics import Quality, cluster_quality, clusters_of, pairwise
from bench.mpi_synthea import population
from ehr.mpi.columns import arrow_table, comparison_row
from ehr.mpi.engine import LinkResult, MatchEngine
from ehr.mpi.rules import load_settings
from ehr.mpi.training import train_model


def fmt(name: str, q: Quality) -> str:
    return (f"{name:<22} P={q.precision:.4f} R={q.recall:.4f} F1={q.f1:.4f} "
            f"(tp {q.true_positives}, fp {q.false_positives}, fn {q.false_negatives})")


def blocked_pairs(engine: MatchEngine, data: Labelled) -> set[Pair]:
    from splink import DuckDBAPI, Linker

    from ehr.mpi.splink_model import splink_settings

    db_api = DuckDBAPI()
    table = arrow_table(comparison_row(k, r) for k, r in data.records.items())
    linker = Linker(db_api.register(table), splink_settings(engine.settings, engine.model), log_level=None)
    pairs = linker.inference.predict().query_sql("select unique_id_l, unique_id_r from {this}").as_dict()
    return {pair(str(a), str(b)) for a, b in zip(pairs["unique_id_l"], pairs["unique_id_r"], strict=True)}


def report_linkage(engine: MatchEngine, data: Labelled, result: LinkResult, seconds: float) -> None:
    certain = engine.settings.grades.certain
    model_links = [(p.left, p.right) for p in result.pairs if p.probability >= certain]
    auto_links = [(p.left, p.right) for p in result.pairs if p.grade == "certain"]
    print(f"  linked in {seconds:.1f} s: {len(result.pairs)} pairs graded possible or better")
    print("  " + fmt("pairwise (model)", pairwise(model_links, data.true_pairs)))
    print("  " + fmt("cluster (model)", cluster_quality(clusters_of(data.records, model_links), data.records,
                                                        data.true_pairs)))
    auto = pairwise(auto_links, data.true_pairs)
    print("  " + fmt("pairwise (auto-links)", auto))
    print("  " + fmt("cluster (auto-links)", cluster_quality(result.clusters, data.records, data.true_pairs)))
    print(f"  auto-links: false links per 10,000 links {1e4 * auto.false_positives / max(len(auto_links), 1):.2f}")


def ecm(data: Labelled, candidates: set[Pair]) -> Quality:
    import pandas as pd
    import recordlinkage

    frame = pd.DataFrame.from_records(
        [{"key": k, "given": r.given, "family": r.family, "birth_date": r.birth_date, "ssn": r.ssn,
          "address_line": r.address_line, "postcode": r.postcode, "city": r.city} for k, r in data.records.items()],
        index="key")
    index = pd.MultiIndex.from_tuples(sorted(candidates))
    compare = recordlinkage.Compare()
    for column in ("given", "family", "address_line", "city"):
        compare.string(column, column, method="jarowinkler", threshold=0.85, label=column)
    for column in ("birth_date", "ssn", "postcode"):
        compare.exact(column, column, label=column)
    features = compare.compute(index, frame)
    links = recordlinkage.ECMClassifier(binarize=None).fit_predict(features)
    return pairwise([(str(a), str(b)) for a, b in links], data.true_pairs)


def bench_febrl() -> None:
    settings = load_settings("v1")
    for number in (1, 2, 3, 4):
        data = febrl(number)
        started = time.perf_counter()
        model = train_model([comparison_row(k, r) for k, r in data.records.items()], settings, trained_on=data.name)
        trained = time.perf_counter() - started
        engine = MatchEngine(settings, model)
        started = time.perf_counter()
        result = engine.link_all(data.records.items())
        linked = time.perf_counter() - started
        candidates = blocked_pairs(engine, data)
        reachable = len(candidates & data.true_pairs)
        print(f"{data.name}: {len(data.records)} records, {len(data.true_pairs)} true pairs; "
              f"blocking: {len(candidates)} candidate pairs, {reachable} true pairs reachable "
              f"({reachable / len(data.true_pairs):.4f}); trained in {trained:.1f} s")
        report_linkage(engine, data, result, linked)
        print("  " + fmt("recordlinkage ECM", ecm(data, candidates)) + " [same candidate pairs]")


def bench_synthea(people: int, seed: int) -> None:
    engine = MatchEngine.load("v1")
    data = population(people, seed)
    candidates = blocked_pairs(engine, data)
    reachable = len(candidates & data.true_pairs)
    print(f"{data.name}: {len(data.records)} records in 3 hospitals, {len(data.true_pairs)} true pairs; "
          f"blocking: {len(candidates)} candidate pairs, {reachable} reachable "
          f"({reachable / len(data.true_pairs):.4f}); committed model v1 (trained on another seed)")
    started = time.perf_counter()
    result = engine.link_all(data.records.items())
    report_linkage(engine, data, result, time.perf_counter() - started)
    auto_fp = sum(1 for p in result.pairs if p.grade == "certain" and pair(p.left, p.right) not in data.true_pairs)
    print(f"  auto-links: false links per 10,000 candidate pairs {1e4 * auto_fp / len(candidates):.3f}")
    print("  " + fmt("recordlinkage ECM", ecm(data, candidates)) + " [same candidate pairs]")


def bench_latency(records: int, queries: int) -> None:
    """``match`` p50/p95 against an SQLite index of ``records`` patients, and Splink's
    ``score_pairs`` on the same candidates for comparison."""
    from ehr.mpi.sql_index import SqlMatchIndex
    from ehr.store.sql.engine import make_engine, migrate

    engine = MatchEngine.load("v1")
    data = population(int(records / 1.7) + 1, seed=31)
    items = list(data.records.items())[:records]
    with tempfile.TemporaryDirectory() as folder:
        sql = make_engine(f"sqlite:///{folder}/mpi.db")
        migrate(sql)
        index = SqlMatchIndex(sql, engine.settings)
        started = time.perf_counter()
        for start in range(0, len(items), 5000):
            index.insert_many(items[start:start + 5000])
        print(f"SQLite index: {len(items)} patients loaded in {time.perf_counter() - started:.1f} s")
        step = max(len(items) // queries, 1)
        probes = [replace(items[i][1], tenant="probe") for i in range(0, len(items), step)]
        timings, sizes = time_matches(engine, index, probes[:queries])
        print(f"match(): {len(timings)} queries, candidates per query median {statistics.median(sizes):.0f} "
              f"max {max(sizes)}; p50 {percentile(timings, 50):.2f} ms, p95 {percentile(timings, 95):.2f} ms, "
              f"p99 {percentile(timings, 99):.2f} ms")
        splink_timings = time_splink_score_pairs(engine, index, probes[:min(queries, 100)])
        print(f"Splink score_pairs() on the same candidates ({len(splink_timings)} queries): "
              f"p50 {percentile(splink_timings, 50):.2f} ms, p95 {percentile(splink_timings, 95):.2f} ms")
        sql.dispose()


def time_matches(engine: MatchEngine, index: Any, probes: list[Any]) -> tuple[list[float], list[int]]:
    timings, sizes = [], []
    for record in probes:
        started = time.perf_counter()
        engine.match(record, index, count=10)
        timings.append(1000 * (time.perf_counter() - started))
        sizes.append(len(index.candidates(record)))
    return timings, sizes


def time_splink_score_pairs(engine: MatchEngine, index: Any, probes: list[Any]) -> list[float]:
    from splink import DuckDBAPI, Linker

    from ehr.mpi.splink_model import splink_settings

    db_api = DuckDBAPI()
    seed_table = arrow_table([comparison_row("seed", probes[0])])
    linker = Linker(db_api.register(seed_table), splink_settings(engine.settings, engine.model), log_level=None)
    timings = []
    for record in probes:
        started = time.perf_counter()
        candidates = [comparison_row(key, found) for key, found in index.candidates(record)]
        if candidates:
            linker.inference.score_pairs([comparison_row("probe", record)], candidates).as_record_list()
        timings.append(1000 * (time.perf_counter() - started))
    return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def bench_batch(sizes: list[int]) -> None:
    engine = MatchEngine.load("v1")
    for size in sizes:
        started = time.perf_counter()
        data = population(int(size / 1.7) + 1, seed=41)
        items = list(data.records.items())[:size]
        generated = time.perf_counter() - started
        started = time.perf_counter()
        result = engine.link_all(items)
        seconds = time.perf_counter() - started
        print(f"batch link_all: {len(items)} records in {seconds:.1f} s (data generated in {generated:.1f} s); "
              f"{len(result.pairs)} pairs >= possible, {sum(len(c) > 1 for c in result.clusters)} clusters of 2+")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["febrl", "synthea", "latency", "batch"])
    parser.add_argument("--people", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--records", type=int, action="append")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    if args.what == "febrl":
        bench_febrl()
    elif args.what == "synthea":
        bench_synthea(args.people, args.seed)
    elif args.what == "latency":
        bench_latency((args.records or [100000])[0], args.queries)
    else:
        bench_batch(args.records or [100000])


if __name__ == "__main__":
    main()

"""A small deterministic matcher for the tests of the FHIR side of the index (the real engine is
``ehr.mpi.engine``): same family, given name and birth date → certain; same given name and birth date
with a family name one or two edits apart (a typo, two letters swapped) → probable; same birth date
→ possible; else certainly-not."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ehr.mpi.protocol import Grade
from ehr.store.protocol import Tx

PROBABILITY: dict[Grade, float] = {"certain": 0.99, "probable": 0.8, "possible": 0.3, "certainly-not": 0.01}


@dataclass(frozen=True, slots=True)
class Fields:
    family: str
    given: str
    birth: str


@dataclass(frozen=True, slots=True)
class Part:
    field: str
    level: str
    weight: float


@dataclass(frozen=True, slots=True)
class FakeMatch:
    key: str
    probability: float
    weight: float
    grade: Grade
    explanation: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Pair:
    left: str
    right: str
    probability: float
    grade: Grade


@dataclass(frozen=True, slots=True)
class Batch:
    pairs: tuple[Pair, ...]
    clusters: tuple[tuple[str, ...], ...]


def edits(a: str, b: str) -> int:
    """Levenshtein distance."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def compare(a: Fields, b: Fields, key: str) -> FakeMatch:
    family = "exact" if a.family == b.family else ("typo" if edits(a.family, b.family) <= 2 else "different")
    given = "exact" if a.given == b.given else "different"
    birth = "exact" if a.birth == b.birth and a.birth else "different"
    parts = (Part("family", family, {"exact": 8.0, "typo": 3.0}.get(family, -6.0)),
             Part("given", given, 4.0 if given == "exact" else -4.0),
             Part("birthDate", birth, 6.0 if birth == "exact" else -8.0))
    grade: Grade = "certainly-not"
    if birth == "exact":
        grade = "possible"
        if given == "exact" and family == "exact":
            grade = "certain"
        elif given == "exact" and family == "typo":
            grade = "probable"
    return FakeMatch(key, PROBABILITY[grade], sum(p.weight for p in parts), grade, parts)


class FakeMatcher:
    def __init__(self) -> None:
        self.index: dict[str, Fields] = {}
        self.lock = threading.Lock()

    def features(self, patient: Mapping[str, Any], tenant: str) -> Fields:
        name = (patient.get("name") or [{}])[0]
        given = " ".join(name.get("given") or [])
        return Fields(str(name.get("family", "")).lower(), given.lower(), str(patient.get("birthDate", "")))

    def match(self, tx: Tx, record: Fields, count: int = 10) -> Sequence[FakeMatch]:
        with self.lock:
            items = sorted(self.index.items())
        found = [compare(record, other, key) for key, other in items]
        found = [m for m in found if m.grade != "certainly-not"]
        return sorted(found, key=lambda m: (-m.probability, m.key))[:count]

    def upsert(self, tx: Tx, key: str, record: Fields) -> None:
        with self.lock:
            self.index[key] = record

    def remove(self, tx: Tx, key: str) -> None:
        with self.lock:
            self.index.pop(key, None)

    def link_all(self, records: Sequence[tuple[str, Fields]]) -> Batch:
        parent = {key: key for key, _ in records}

        def root(k: str) -> str:
            while parent[k] != k:
                k = parent[k]
            return k

        pairs = []
        for i, (ka, a) in enumerate(records):
            for kb, b in records[i + 1:]:
                m = compare(a, b, kb)
                pairs.append(Pair(ka, kb, m.probability, m.grade))
                if m.grade == "certain":
                    parent[root(ka)] = root(kb)
        groups: dict[str, list[str]] = {}
        for key, _ in records:
            groups.setdefault(root(key), []).append(key)
        return Batch(tuple(pairs), tuple(tuple(sorted(g)) for g in groups.values() if len(g) > 1))

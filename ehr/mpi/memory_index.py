"""An in-memory ``MatchIndex`` (tests, benchmarks and one-off batch runs)."""

from __future__ import annotations

from collections import defaultdict

from ehr.mpi.blocking import blocking_keys
from ehr.mpi.columns import comparison_row
from ehr.mpi.features import PatientRecord
from ehr.mpi.rules import MatchSettings


class MemoryMatchIndex:
    """Records and their blocking keys in dictionaries."""

    def __init__(self, settings: MatchSettings) -> None:
        self.settings = settings
        self._records: dict[str, PatientRecord] = {}
        self._keys: dict[str, list[str]] = {}
        self._blocks: defaultdict[str, set[str]] = defaultdict(set)

    def upsert(self, key: str, record: PatientRecord) -> None:
        self.remove(key)
        keys = blocking_keys(comparison_row(key, record), self.settings)
        self._records[key] = record
        self._keys[key] = keys
        for block in keys:
            self._blocks[block].add(key)

    def remove(self, key: str) -> None:
        for block in self._keys.pop(key, []):
            self._blocks[block].discard(key)
            if not self._blocks[block]:
                del self._blocks[block]
        self._records.pop(key, None)

    def candidates(self, record: PatientRecord) -> list[tuple[str, PatientRecord]]:
        found: set[str] = set()
        for block in blocking_keys(comparison_row("", record), self.settings):
            found |= self._blocks.get(block, set())
        return [(key, self._records[key]) for key in sorted(found)]

    def __len__(self) -> int:
        return len(self._records)

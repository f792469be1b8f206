"""Blocking keys: the values a record shares with the candidates it is compared with.

One key per blocking rule of the settings whose columns are all known, ``"<rule>:<v1>|<v2>"``.
Two records are candidates exactly when they share a key, which is what Splink's ``block_on``
of the same rule selects (equal on every column, nulls never equal), so the online index and the
batch linkage compare the same pairs.
"""

from __future__ import annotations

from ehr.mpi.columns import Row
from ehr.mpi.rules import MatchSettings


def blocking_keys(row: Row, settings: MatchSettings) -> list[str]:
    """The blocking keys of a comparison row, one per applicable rule."""
    keys = []
    for rule in settings.blocking_rules:
        values = [row[column] for column in rule.columns]
        if all(value is not None for value in values):
            keys.append(f"{rule.name}:{'|'.join(str(value) for value in values)}")
    return keys

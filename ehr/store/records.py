"""What the store keeps: one record per resource version, and the writes that create them.

Times are microseconds since the Unix epoch (UTC) everywhere in the store, so both engines compare
them as integers. ``seq`` is the global order in which versions were written; history paging uses it
as a cursor, which keeps pages stable while others write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from ehr.search.index_rows import IndexRows

Method = Literal["POST", "PUT", "PATCH", "DELETE"]


@dataclass(frozen=True, slots=True)
class VersionRecord:
    """One stored version of a resource; ``body`` is its JSON (with meta), None when deleted."""

    resource_type: str
    id: str
    version: int
    last_updated: int
    tenant: str
    deleted: bool
    method: Method
    body: bytes | None
    seq: int = 0


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """A new version to store. ``expected_version`` is None when the resource must not exist yet."""

    resource_type: str
    id: str
    version: int
    last_updated: int
    tenant: str
    method: Method
    body: bytes | None
    index: IndexRows | None
    expected_version: int | None
    #: the patient whose compartment the resource belongs to (its data key); None: none
    patient: str | None = None

    @property
    def deleted(self) -> bool:
        return self.method == "DELETE"


def now_us() -> int:
    """The current time in microseconds since the epoch (UTC)."""
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def to_instant(us: int) -> str:
    """FHIR ``instant`` text for a time in microseconds: ``2024-01-02T03:04:05.123456Z``, in integer
    arithmetic, the seconds' text cached (every response and audit entry formats one)."""
    seconds, micros = divmod(us, 1_000_000)
    return f"{_instant_seconds(seconds)}.{micros:06d}Z"


@lru_cache(maxsize=4096)
def _instant_seconds(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")


@lru_cache(maxsize=4096)
def _http_date(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def to_http_date(us: int) -> str:
    """RFC 9110 HTTP-date for ``Last-Modified`` (cached per second)."""
    return _http_date(us // 1_000_000)

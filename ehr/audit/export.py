"""The audit log as JSON lines outside the database (``ehr audit export``), for verification
elsewhere and for the golden tampered logs of the tests. One object per entry, in seq order::

    {"seq": 1, "entry": "<the canonical entry, as JSON text>", "chain": "<chain hash, hex>"}

``entry`` holds the exact hashed bytes (UTF-8 JSON text, so a JSON string carries them unchanged).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import orjson

from ehr.audit.verify import Row


class LogFormatError(ValueError):
    """A line of an exported log cannot be read."""


def dump_rows(rows: Iterable[Row]) -> Iterator[bytes]:
    for seq, entry, chain in rows:
        yield orjson.dumps({"seq": seq, "entry": bytes(entry).decode("utf-8"), "chain": bytes(chain).hex()}) + b"\n"


def write_rows(rows: Iterable[Row], path: Path) -> int:
    count = 0
    with path.open("wb") as out:
        for line in dump_rows(rows):
            out.write(line)
            count += 1
    return count


def read_rows(path: Path) -> Iterator[Row]:
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = orjson.loads(line)
                yield int(item["seq"]), str(item["entry"]).encode("utf-8"), bytes.fromhex(item["chain"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise LogFormatError(f"{path}:{number} is not an exported audit entry ({exc})") from None

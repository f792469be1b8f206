"""Canonical JSON of audit entries: the JSON Canonicalization Scheme, RFC 8785
(https://www.rfc-editor.org/rfc/rfc8785), for the values an AuditEvent holds.

orjson with sorted keys writes exactly RFC 8785's bytes for objects whose keys are ASCII and whose
values are strings, booleans, null, integers within IEEE 754's exact range, arrays and such objects:
no insignificant whitespace (RFC 8785 §3.2.1), strings in UTF-8 with only the mandatory escapes
(§3.2.2.2: orjson escapes ``"``, ``\\`` and U+0000..U+001F, with the short forms for \\b \\f \\n \\r
\\t and lower-case ``\\u00xx`` otherwise, as §3.2.2.2 requires), integers in plain decimal (§3.2.2.3),
and keys sorted — by UTF-8 bytes, which equals RFC 8785's UTF-16 order for ASCII keys (§3.2.3). Floats
and non-ASCII keys, where the two could differ, are refused. ``tests/audit/test_canonical.py``
checks this against the ``rfc8785`` reference implementation with generated values.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_EXACT_INT = 2**53 - 1


class NotCanonicalizable(TypeError):
    """A value outside the subset whose orjson encoding is proven canonical."""


def canonical(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value`` (objects, arrays, str, int, bool, None; ASCII keys)."""
    _check(value)
    return canonical_built(value)


def canonical_built(event: Any) -> bytes:
    """The RFC 8785 bytes of an AuditEvent built by ``ehr.audit.events.audit_event``, without
    :func:`canonical`'s walk over it (45 % of building an entry): its keys are ASCII literals of that
    module and its values strings, booleans, lists and objects of them, by construction.
    ``tests/audit/test_events.py`` checks with generated records that every built event passes the
    walk and equals the reference implementation's bytes."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def _check(value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise NotCanonicalizable(f"object key {key!r} is not an ASCII string")
            _check(item)
    elif isinstance(value, list):
        for item in value:
            _check(item)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        return
    elif isinstance(value, int):
        if abs(value) > MAX_EXACT_INT:
            raise NotCanonicalizable(f"integer {value} is outside IEEE 754's exact range")
    else:
        raise NotCanonicalizable(f"{type(value).__name__} values are not used in audit entries")

"""Reference and URI values.

A Reference's ``reference`` is split into target type and id: ``Patient/123`` (relative) and
``https://example.org/fhir/Patient/123[/_history/2]`` (absolute; the URL is also kept in ``url``).
Other absolute references (``urn:uuid:``) keep only ``url``; local ``#contained`` references and
identifier-only references are not indexed.  A canonical used by a reference parameter keeps its URL
(and a type and id where it has the ``.../Type/id`` form).

Spec: https://hl7.org/fhir/R4/search.html#reference, https://hl7.org/fhir/R4/search.html#uri,
https://hl7.org/fhir/R4/references.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ehr.search.index_rows import ReferenceRow, UriRow

_LITERAL = re.compile(
    r"(?:(?P<base>[a-z][a-z0-9+.-]*://.+?)/)?(?P<type>[A-Z][A-Za-z]{1,63})/(?P<id>[A-Za-z0-9\-.]{1,64})"
    r"(?:/_history/[A-Za-z0-9\-.]{1,64})?"
)


def split_reference(text: str) -> ReferenceRow | None:
    """``Type/id`` or an absolute URL to a reference row (param left empty); None for ``#local``."""
    if not text or text.startswith("#"):
        return None
    match = _LITERAL.fullmatch(text)
    if match is None:
        return ReferenceRow("", None, None, text) if ":" in text else None
    url = text if match["base"] else None
    return ReferenceRow("", match["type"], match["id"], url)


def references_from_reference(param: str, value: Any) -> list[ReferenceRow]:
    """Reference -> (target type, id[, url])."""
    if not isinstance(value, Mapping):
        return []
    text = value.get("reference")
    row = split_reference(text) if isinstance(text, str) else None
    if row is None:
        return []
    return [ReferenceRow(param, row.target_type, row.target_id, row.url)]


def references_from_canonical(param: str, value: Any) -> list[ReferenceRow]:
    """canonical / uri used by a reference parameter -> url (plus type and id when it has that form)."""
    if not isinstance(value, str) or not value:
        return []
    match = _LITERAL.fullmatch(value.split("|", 1)[0])
    if match is None:
        return [ReferenceRow(param, None, None, value)]
    return [ReferenceRow(param, match["type"], match["id"], value)]


def references_from_resource(param: str, value: Any) -> list[ReferenceRow]:
    """An inline resource (``Bundle.entry[0].resource``) -> its type and id."""
    if not isinstance(value, Mapping) or not isinstance(value.get("id"), str):
        return []
    kind = value.get("resourceType")
    return [ReferenceRow(param, kind if isinstance(kind, str) else None, value["id"])]


def uris_from_uri(param: str, value: Any) -> list[UriRow]:
    """uri / url / canonical / oid / uuid -> the URI as written."""
    return [UriRow(param, value)] if isinstance(value, str) and value else []

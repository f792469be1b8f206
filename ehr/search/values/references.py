"""Reference and URI values.

A Reference's ``reference`` is split into target type and id: ``Patient/123`` (relative) and
``https://example.org/fhir/Patient/123[/_history/2]`` (absolute; the URL is also kept in ``url``).
A Reference's ``identifier`` becomes a token row of ``<param>:identifier`` (the ``:identifier`` modifier),
its ``display`` a string row of ``<param>:display`` (searched by ``:text`` on a reference, which R5 defines
as the string search on Reference.display: https://hl7.org/fhir/R5/search.html#modifiers).
Other absolute references (``urn:uuid:``) keep only ``url``; local ``#contained`` references are not
indexed.  A canonical used by a reference parameter keeps its URL
(and a type and id where it has the ``.../Type/id`` form).

Spec: https://hl7.org/fhir/R4/search.html#reference, https://hl7.org/fhir/R4/search.html#uri,
https://hl7.org/fhir/R4/references.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ehr.search.index_rows import ReferenceRow, StringRow, TokenRow, UriRow
from ehr.search.values.strings import string_row

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


def display_param(param: str) -> str:
    """The parameter of the string rows that ``<param>:text`` (a reference parameter) searches."""
    return f"{param}:display"


def references_from_reference(param: str, value: Any) -> list[ReferenceRow | TokenRow | StringRow]:
    """Reference -> (target type, id[, url]); its ``identifier`` -> a token row (system, value) under
    ``<param>:identifier``, for the ``:identifier`` modifier; its ``display`` -> a string row under
    ``<param>:display``, for ``:text``."""
    if not isinstance(value, Mapping):
        return []
    text = value.get("reference")
    row = split_reference(text) if isinstance(text, str) else None
    out: list[ReferenceRow | TokenRow | StringRow] = []
    if row is not None:
        out.append(ReferenceRow(param, row.target_type, row.target_id, row.url))
    identifier = value.get("identifier")
    if isinstance(identifier, Mapping) and isinstance(identifier.get("value"), str) and identifier["value"]:
        system = identifier.get("system")
        out.append(TokenRow(f"{param}:identifier", system if isinstance(system, str) and system else None,
                            identifier["value"]))
    out.extend(string_row(display_param(param), value.get("display")))
    return out


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


def uri_prefixes(uri: str) -> list[str]:
    """``uri`` and each URL it lies under, by path segment (``:above``), each also written with a trailing
    slash (``:below`` ignores one too): ``http://a.org/fhir/ValueSet/1`` gives itself,
    ``http://a.org/fhir/ValueSet/1/``, ``http://a.org/fhir/ValueSet``, ``http://a.org/fhir/ValueSet/`` ... down
    to ``http://a.org`` and ``http://a.org/``; a URI without an ``scheme://authority/path`` form
    (``urn:oid:...``) gives only itself.
    Spec: https://hl7.org/fhir/R4/search.html#uri"""
    scheme, sep, rest = uri.partition("://")
    if not sep or "/" not in rest:
        return [uri]
    authority, _, path = rest.partition("/")
    segments = [s for s in path.split("/") if s]
    found = [uri]
    for n in range(len(segments), -1, -1):
        prefix = f"{scheme}://{authority}" + "".join(f"/{s}" for s in segments[:n])
        found.extend(form for form in (prefix, prefix + "/") if form not in found)
    return found

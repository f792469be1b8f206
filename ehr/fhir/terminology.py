"""The CodeSystems and ValueSets stored in the server, found by canonical URL through the search index
(``url``), as ``ehr.search.terminology`` needs them for ``:above``, ``:below``, ``:in`` and ``:not-in``.
The value of ``:in`` / ``:not-in`` is "a URI (relative or absolute) that identifies a value set": a relative
``ValueSet/[id]`` is the stored ValueSet of that id (a canonical URL is always absolute).

Spec: https://hl7.org/fhir/R4/references.html#canonical, https://hl7.org/fhir/R4/search.html#token
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from ehr.errors import BadRequest
from ehr.search.query import Criterion, SearchQuery, TokenValue, UriValue
from ehr.store.protocol import Tx

_RELATIVE = re.compile(r"ValueSet/(?P<id>[A-Za-z0-9\-.]{1,64})")


class StoredTerminology:
    """:class:`ehr.search.terminology.Terminology` over one unit of work; each resource read once."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx
        self._found: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    def code_system(self, url: str) -> Mapping[str, Any] | None:
        return self._by_url("CodeSystem", url)

    def value_set(self, url: str) -> Mapping[str, Any] | None:
        relative = _RELATIVE.fullmatch(url)
        if relative is not None:
            return self._find("ValueSet", url, Criterion("_id", "id", None, (TokenValue(None, relative["id"]),)))
        return self._by_url("ValueSet", url)

    def _by_url(self, resource_type: str, url: str) -> Mapping[str, Any] | None:
        return self._find(resource_type, url, Criterion("url", "uri", None, (UriValue(url),)))

    def _find(self, resource_type: str, url: str, criterion: Criterion) -> Mapping[str, Any] | None:
        key = (resource_type, url)
        if key not in self._found:
            records = self._tx.search(SearchQuery(resource_type, (criterion,), count=2)).records
            if len(records) > 1:
                raise BadRequest(f"More than one {resource_type} with url {url} is stored; keep one (delete or "
                                 "retire the others) so that the search knows which to use.")
            body = records[0].body if records else None
            self._found[key] = None if body is None else orjson.loads(body)
        return self._found[key]

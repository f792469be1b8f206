"""Blind indexes for identifying search parameters: their index values are stored as keyed HMAC digests
(``ehr.crypto.blind``), never as text, and searches on them are rewritten to digests the same way.

Which parameters: names of people (``name``, ``family``, ``given``, ``phonetic`` on Patient,
Practitioner, RelatedPerson and Person), and on every resource type ``identifier`` (with its
``:of-type`` rows), ``telecom``, ``phone``, ``email``, ``birthdate``, the ``address*`` parameters, and the
identifiers and displays of references (``subject:identifier``, ``subject:display``: a display often
names the patient or practitioner referred to).

Every blind value becomes token rows (table ``idx_token``, system kept, code a digest), so both
engines — SQL and in-memory — answer them with the plain token equality they already have:

- string: one digest per prefix of the folded value (``s``, ``sm``, ``smi``... for the default
  starts-with search) and one of the value as written (``:exact``). ``:contains`` cannot be answered.
  So ``:text`` on a reference (a string search on its display) works.
- token: the system stays (a namespace such as an MRN system or ``phone``); the code is a digest, so
  ``code``, ``system|code``, ``|code``, ``system|`` and ``:not`` work. ``:text`` is refused, and the texts
  of these tokens (``identifier:text`` rows: Identifier.type.text) are not stored at all.
- date: one digest per precision the stored date has (``1970``, ``1970-03``, ``1970-03-15``), so
  ``eq`` at year, month or day precision works as FHIR defines it (the stored range lies within the
  searched one); other prefixes and finer precisions cannot be answered.

A search a blind index cannot answer is refused with a 400 OperationOutcome naming the parameter.

Spec: https://hl7.org/fhir/R4/search.html#string, #token, #date
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from ehr.crypto.blind import BlindIndexKey
from ehr.errors import BadRequest, Issue
from ehr.search.index_rows import DateRow, IndexRows, StringRow, TokenRow
from ehr.search.query import Criterion, RangeValue, StringValue, TokenValue, Value
from ehr.search.values.dates import date_range

PERSON_TYPES = frozenset({"Patient", "Practitioner", "RelatedPerson", "Person"})
PERSON_NAMES = frozenset({"name", "family", "given", "phonetic"})
BLIND_EVERYWHERE = frozenset({
    "identifier", "telecom", "phone", "email", "birthdate",
    "address", "address-city", "address-country", "address-postalcode", "address-state", "address-use",
})  # fmt: skip
#: the rows of ``<reference>:<suffix>``, blind on every reference parameter
_INSIDE_REFERENCES = frozenset({"identifier", "display"})
#: the rows of ``<token>:text``: never stored for a blind token (a digest of the token's code cannot
#: answer ``:text``, and the server does not keep the texts of identifying values)
_TEXT_SUFFIX = ":text"


def is_blind(resource_type: str, param: str) -> bool:
    """Whether ``param`` of ``resource_type`` is blind-indexed; so are the rows of its modifiers
    (``identifier:of-type``, ``identifier:text``), and every ``<reference>:identifier`` and
    ``<reference>:display`` (the identifiers and displays inside references)."""
    base, _, suffix = param.partition(":")
    if suffix in _INSIDE_REFERENCES:
        return True
    return base in BLIND_EVERYWHERE or (base in PERSON_NAMES and resource_type in PERSON_TYPES)


def date_texts(low: int, high: int) -> list[str]:
    """The texts of a stored date at each precision it has, coarsest first: [2020, 2020-03, 2020-03-04]
    for a day; [] when the range is not exactly a year, month or day (a time of day)."""
    year, month, day = _civil(low)
    texts = [f"{year:04d}", f"{year:04d}-{month:02d}", f"{year:04d}-{month:02d}-{day:02d}"]
    for n, text in enumerate(texts, start=1):
        if date_range(text) == (low, high):
            return texts[:n]
    return []


def _civil(micros: int) -> tuple[int, int, int]:
    day = date(1970, 1, 1) + timedelta(microseconds=micros)
    return day.year, day.month, day.day


class Blinder:
    """Rewrites index rows (at write) and criteria (at search) of blind parameters into digests."""

    def __init__(self, key: BlindIndexKey) -> None:
        self.key = key

    def rows(self, resource_type: str, rows: IndexRows) -> IndexRows:
        blind: list[TokenRow] = []
        tokens = []
        for row in rows.tokens:
            if is_blind(resource_type, row.param):
                blind.append(self._token_row(resource_type, row))
            else:
                tokens.append(row)
        strings = []
        for s in rows.strings:
            if not is_blind(resource_type, s.param):
                strings.append(s)
            elif not s.param.endswith(_TEXT_SUFFIX):
                blind.extend(self._string_rows(resource_type, s))
        dates = []
        for d in rows.dates:
            if is_blind(resource_type, d.param):
                blind.extend(self._date_rows(resource_type, d))
            else:
                dates.append(d)
        if len(strings) == len(rows.strings) and not blind:
            return rows
        return replace(rows, tokens=tokens + list(dict.fromkeys(blind)), strings=strings, dates=dates)

    def criterion(self, resource_type: str | None, c: Criterion) -> Criterion:
        """``c`` rewritten to digests when its parameter is blind; a 400 when a blind index cannot
        answer it."""
        if resource_type is None or not is_blind(resource_type, c.param):
            return c
        if c.type not in ("string", "token", "date"):
            return c
        if c.param.endswith(_TEXT_SUFFIX):
            raise _refused(c, "':text' searches the texts of this token, which are not stored, since the "
                              "token is stored only as a keyed digest (a blind index)")
        self._check_modifier(c)
        if c.missing is not None:
            return Criterion(c.param, "token", None, (), missing=c.missing)
        values = tuple(self._value(resource_type, c, v) for v in c.values)
        return Criterion(c.param, "token", "not" if c.modifier == "not" else None, values)

    def _value(self, resource_type: str, c: Criterion, v: Value) -> TokenValue:
        if isinstance(v, StringValue):
            if c.modifier == "exact":
                return TokenValue(None, self._digest(resource_type, c.param, "exact", v.exact))
            return TokenValue(None, self._digest(resource_type, c.param, "prefix", v.norm))
        if isinstance(v, TokenValue):
            code = None if v.code is None else self._digest(resource_type, c.param, "token", v.code)
            return TokenValue(v.system, code)
        if isinstance(v, RangeValue):
            texts = date_texts(int(v.low), int(v.high))
            if v.prefix != "eq" or not texts:
                raise _refused(c, "a blind index answers only eq at year, month or day precision "
                                  "(e.g. birthdate=1970, 1970-03 or 1970-03-15)")
            return TokenValue(None, self._digest(resource_type, c.param, "date", texts[-1]))
        raise _refused(c, "this kind of value cannot be compared with a blind index")

    @staticmethod
    def _check_modifier(c: Criterion) -> None:
        allowed = {"string": {None, "exact", "missing"}, "token": {None, "not", "missing"}, "date": {None, "missing"}}
        if c.modifier not in allowed[c.type]:
            raise _refused(c, f"':{c.modifier}' needs the value in the clear, and this parameter is stored only "
                              "as a keyed digest (a blind index)")

    def _token_row(self, resource_type: str, row: TokenRow) -> TokenRow:
        code = None if row.code is None else self._digest(resource_type, row.param, "token", row.code)
        return TokenRow(row.param, row.system, code)

    def _string_rows(self, resource_type: str, row: StringRow) -> list[TokenRow]:
        out = [TokenRow(row.param, None, self._digest(resource_type, row.param, "exact", row.exact))]
        out.extend(TokenRow(row.param, None, self._digest(resource_type, row.param, "prefix", row.norm[:n]))
                   for n in range(1, len(row.norm) + 1))
        return out

    def _date_rows(self, resource_type: str, row: DateRow) -> list[TokenRow]:
        return [TokenRow(row.param, None, self._digest(resource_type, row.param, "date", text))
                for text in date_texts(row.low, row.high)]

    def _digest(self, resource_type: str, param: str, kind: str, value: str) -> str:
        return self.key.digest(f"{resource_type}|{param}|{kind}", value)


def _refused(c: Criterion, why: str) -> BadRequest:
    name = f"{c.param}:{c.modifier}" if c.modifier else c.param
    message = (f"Search on '{name}' is not supported: {why}. Search this parameter with its full value "
               "or a prefix (strings), :exact, or an exact code/date instead.")
    return BadRequest(message, issues=[Issue(message, code="not-supported", expression=(name,))])

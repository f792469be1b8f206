"""PostgreSQL reads of one row through libpq's own prepared-statement call, without psycopg's cursor.

Why: a read by id is one small statement, and on PostgreSQL its cost on the client was mostly
psycopg's cursor machinery around the call (adapting the parameters, the Python-level wait loop,
loading the row). In a loop of the read's statement on this machine, a cursor took 46–52 µs of
client CPU and 146–148 µs of wall time per read; libpq's ``PQexecPrepared`` called directly
(``psycopg.pq.PGconn.exec_prepared``) 8–10 µs and 84–89 µs (BENCHMARKS.md). The event loop waits
for the whole call, so both figures count.

Used only on a connection in autocommit mode (the store's read connections), for statements whose
parameters are text, numbers, booleans or NULL and whose columns are of the types decoded below;
anything else goes through the cursor as before (:data:`NOT_HANDLED`). Each connection prepares a
statement once, under a name of its own (``ehr_<n>``: apart from psycopg's ``_pg3_<n>``), at most
:data:`MAX_STATEMENTS` of them. Results come in binary format, decoded by column type.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final

import psycopg
from psycopg import pq

#: the most statements one connection prepares this way; further ones go through the cursor
MAX_STATEMENTS = 64
_NAMES_KEY = "ehr.prepared"
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")


class _NotHandled:
    pass


#: returned when a statement is left to the cursor
NOT_HANDLED: Final = _NotHandled()

_MISSING: Any = object()
_TEXT = {25, 1043, 19, 1042}  # text, varchar, name, bpchar
_INTEGER = {20, 21, 23}  # int8, int2, int4
_BOOL, _BYTEA = 16, 17


def first_row(connection: Any, info: dict[str, Any], sql: str,
              params: tuple[Any, ...] | dict[str, Any]) -> tuple[Any, ...] | _NotHandled | None:
    """The first row of ``sql`` (psycopg's parameter style) on the psycopg ``connection`` whose pool
    record keeps ``info``; None when there is none; :data:`NOT_HANDLED` when this statement, its
    parameters or its columns are left to the cursor."""
    if not connection.autocommit:
        return NOT_HANDLED
    statements: dict[str, tuple[bytes, tuple[str, ...] | None] | None] = info.setdefault(_NAMES_KEY, {})
    found = statements.get(sql, _MISSING)
    if found is _MISSING:
        if len(statements) >= MAX_STATEMENTS:  # nothing more is kept for this connection
            return NOT_HANDLED
        found = statements[sql] = _prepare(connection.pgconn, sql, len(statements))
    if found is None:
        return NOT_HANDLED
    name, order = found
    if isinstance(params, dict):
        values = None if order is None else _encode([params[key] for key in order])
    else:
        values = _encode(params) if order is None else None
    if values is None:  # a parameter style or value type that the cursor handles
        return NOT_HANDLED
    result = connection.pgconn.exec_prepared(name, values, result_format=pq.Format.BINARY)
    if result.status != pq.ExecStatus.TUPLES_OK:
        raise _error(result, connection.pgconn)
    if result.ntuples == 0:
        return None
    row: list[Any] = []
    for column in range(result.nfields):
        value = result.get_value(0, column)
        if value is None:
            row.append(None)
            continue
        kind = result.ftype(column)
        if kind in _TEXT:
            row.append(bytes(value).decode())
        elif kind in _INTEGER:
            row.append(int.from_bytes(value, "big", signed=True))
        elif kind == _BOOL:
            row.append(value == b"\x01")
        elif kind == _BYTEA:
            row.append(bytes(value))
        else:  # a column type not decoded here: the cursor reads this statement from now on
            statements[sql] = None
            return NOT_HANDLED
    return tuple(row)


def _prepare(pgconn: Any, sql: str, count: int) -> tuple[bytes, tuple[str, ...] | None] | None:
    """Prepare ``sql`` with ``$n`` placeholders; (its name, the order of its named parameters, or None
    when they are positional), or None when it is left to the cursor."""
    if "%%" in sql:
        return None
    names: list[str] = []
    positional = False

    def number(match: re.Match[str]) -> str:
        nonlocal positional
        if match.group(1) is None:
            positional = True
        names.append(match.group(1) or "")
        return f"${len(names)}"

    text = _PLACEHOLDER.sub(number, sql)
    if positional and any(names):
        return None
    name = f"ehr_{count}".encode()
    result = pgconn.prepare(name, text.encode())
    if result.status != pq.ExecStatus.COMMAND_OK:
        return None
    return name, None if positional else tuple(names)


def _encode(values: Sequence[Any]) -> list[bytes | None] | None:
    """Every parameter in text format, in order (None: a value of a type left to the cursor)."""
    out = []
    for value in values:
        if value is not None and not isinstance(value, str | int):  # bool is an int
            return None
        out.append(_one(value))
    return out


def _one(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode()


def _error(result: Any, pgconn: Any) -> psycopg.Error:
    """The psycopg exception of a failed statement (its SQLSTATE's class), as the cursor would raise."""
    message = (result.error_message or pgconn.error_message or b"").decode(errors="replace").strip()
    state = result.error_field(pq.DiagnosticField.SQLSTATE)
    if pgconn.status == pq.ConnStatus.BAD or state is None:
        return psycopg.OperationalError(message or "the connection to the database was lost")
    try:
        kind = psycopg.errors.lookup(state.decode())
    except KeyError:
        kind = psycopg.DatabaseError
    return kind(message)

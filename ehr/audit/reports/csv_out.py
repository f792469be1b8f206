"""A report's records as CSV (RFC 4180, stdlib ``csv``): a header row, then one row per audit entry
(patient and user reports) or per anomaly. Times are ISO 8601 in UTC.

A cell that a spreadsheet would take for a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) gets a leading ``'`` (OWASP "CSV injection"), since agent ids come from callers.
"""

from __future__ import annotations

import csv
import io

from ehr.audit.reports.document import Document

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def render_csv(doc: Document) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(doc.records.columns)
    writer.writerows([_neutral(cell) for cell in row] for row in doc.records.rows)
    return buffer.getvalue()


def _neutral(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_START) else cell

"""The master patient index's own tables (SQLAlchemy Core, on the store's ``metadata``; created by
migration ``0007``). The FHIR resources (golden Patients, ``Patient.link``, review Tasks) are what
clients see; these tables keep who decided what, and why, so manual decisions always win.

- ``mpi_links``: each source Patient's golden (person) record, with the decision's origin
  (``auto`` with its score, or ``manual`` by whom). Manual links are never moved by automatic linking.
- ``mpi_pairs``: verdicts on pairs of source records: ``review`` (a probable pair waiting for a data
  steward, with its Task), ``no-match`` (a steward said these are different people) or ``match``.
- ``mpi_goldens``: every golden record ever made, and the golden it was merged into (``replaced_by``).
- ``mpi_decisions``: the log of manual decisions with the state they replaced, for ``$mdm-undo``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, String, Table, Text

from ehr.store.sql.schema import Key, metadata

mpi_links = Table(
    "mpi_links",
    metadata,
    Column("source_id", String(64), primary_key=True),
    Column("golden_id", String(64), nullable=False),
    Column("origin", String(8), nullable=False),
    Column("score", Float, nullable=True),
    Column("actor", String(128), nullable=False),
    Column("decided_at", BigInteger, nullable=False),
    Index("ix_mpi_links_golden", "golden_id"),
)

mpi_pairs = Table(
    "mpi_pairs",
    metadata,
    Column("low_id", String(64), primary_key=True),
    Column("high_id", String(64), primary_key=True),
    Column("verdict", String(16), nullable=False),
    Column("origin", String(8), nullable=False),
    Column("score", Float, nullable=True),
    Column("task_id", String(64), nullable=True),
    Column("actor", String(128), nullable=False),
    Column("decided_at", BigInteger, nullable=False),
    Index("ix_mpi_pairs_high", "high_id"),
)

mpi_goldens = Table(
    "mpi_goldens",
    metadata,
    Column("golden_id", String(64), primary_key=True),
    Column("replaced_by", String(64), nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

mpi_decisions = Table(
    "mpi_decisions",
    metadata,
    Column("seq", Key, primary_key=True, autoincrement=True),
    Column("operation", String(32), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("decided_at", BigInteger, nullable=False),
    #: JSON: the source ids the decision touched and the rows it replaced
    Column("before", Text, nullable=False),
    Column("undone", Boolean, nullable=False),
)

"""Tables of the SQL store (SQLAlchemy Core). Migrations in ``migrations/`` create the same schema.

``resources`` holds the current version of each logical resource (one row per type and id) with an
integer key that the search index tables join on; ``resource_versions`` keeps every version ever
written, in write order (``seq``). Index tables hold one row per extracted value, one table per
value type, as HAPI FHIR and Microsoft's FHIR server do. Every row carries its tenant (hospital).

Bodies are envelopes (``ehr.crypto.envelope``) under the data key of the row's ``patient`` (the owner
of the resource's patient compartment; NULL: the tenant's shared key). ``data_keys`` holds those keys,
wrapped by the tenant's key-encryption key; ``erased`` marks the versions of a patient whose key was
destroyed (``ehr keys shred``).

``audit_log`` is the append-only, hash-chained access log (``ehr.audit``): one row per AuditEvent with
its canonical bytes, its chain hash and the indexed columns that ``ehr.audit.rows.AuditRow`` reads;
``audit_checkpoints`` holds the Ed25519-signed checkpoints of that chain.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()
Key = BigInteger().with_variant(Integer(), "sqlite")
#: folded strings, ordered by code point on both engines (SQLite's default BINARY collation, PostgreSQL's
#: "C"), so that the strings starting with a prefix are one range of their index (``ehr.search.sql``)
Folded = Text().with_variant(Text(collation="C"), "postgresql")

resources = Table(
    "resources",
    metadata,
    Column("pk", Key, primary_key=True, autoincrement=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("patient", String(64), nullable=True),
    Column("erased", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("res_type", "res_id", name="uq_resources_type_id"),
    Index("ix_resources_type_updated", "res_type", "last_updated"),
    Index("ix_resources_tenant_patient", "tenant", "patient"),
)

resource_versions = Table(
    "resource_versions",
    metadata,
    Column("seq", Key, primary_key=True, autoincrement=True),
    Column("res_type", String(64), nullable=False),
    Column("res_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("last_updated", BigInteger, nullable=False),
    Column("method", String(8), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("body", LargeBinary, nullable=True),
    Column("patient", String(64), nullable=True),
    Column("erased", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("res_type", "res_id", "version", name="uq_versions_type_id_version"),
    Index("ix_versions_updated", "last_updated"),
    Index("ix_versions_type_updated", "res_type", "last_updated"),
    Index("ix_versions_tenant_patient", "tenant", "patient"),
)

data_keys = Table(
    "data_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("tenant", String(64), nullable=False),
    #: ``patient:<id>`` or ``tenant`` (the shared key); NULL once the key was destroyed
    Column("owner", String(80), nullable=True),
    Column("kek_version", Integer, nullable=False),
    #: the data key wrapped by the tenant's KEK; NULL once destroyed (crypto-shredding)
    Column("wrapped", LargeBinary, nullable=True),
    Column("created", BigInteger, nullable=False),
    Column("erased", BigInteger, nullable=True),
    UniqueConstraint("tenant", "owner", name="uq_data_keys_tenant_owner"),
    Index("ix_data_keys_tenant_version", "tenant", "kek_version"),
)

def _index_table(name: str, *columns: Column[object], indexes: tuple[tuple[str, ...], ...]) -> Table:
    table = Table(
        name,
        metadata,
        Column("pk", Key, ForeignKey("resources.pk", ondelete="CASCADE"), nullable=False),
        Column("res_type", String(64), nullable=False),
        Column("param", String(64), nullable=False),
        *columns,
    )
    Index(f"ix_{name}_pk", table.c.pk)
    for cols in indexes:
        Index(f"ix_{name}_{'_'.join(cols)}", *(table.c[c] for c in ("res_type", "param", *cols)))
    return table

idx_token = _index_table(
    "idx_token",
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    indexes=(("code", "system", "pk"),),
)
idx_string = _index_table(
    "idx_string",
    Column("norm", Folded, nullable=False),
    Column("exact", Text, nullable=False),
    indexes=(("norm",),),
)
idx_reference = _index_table(
    "idx_reference",
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("url", Text, nullable=True),
    indexes=(("target_id", "target_type", "pk"),),
)
Index("ix_idx_reference_target", idx_reference.c.target_id, idx_reference.c.target_type)
idx_date = _index_table(
    "idx_date",
    Column("low", BigInteger, nullable=False),
    Column("high", BigInteger, nullable=False),
    indexes=(("low",), ("high",)),
)
idx_number = _index_table(
    "idx_number",
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    indexes=(("low",),),
)
idx_quantity = _index_table(
    "idx_quantity",
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    Column("value", Float, nullable=False),
    Column("low", Float, nullable=False),
    Column("high", Float, nullable=False),
    Column("canonical_code", Text, nullable=True),
    Column("canonical_value", Float, nullable=True),
    Column("canonical_low", Float, nullable=True),
    Column("canonical_high", Float, nullable=True),
    indexes=(("low",), ("canonical_code", "canonical_low")),
)
idx_uri = _index_table(
    "idx_uri",
    Column("uri", Text, nullable=False),
    indexes=(("uri",),),
)

#: composite parameters (https://hl7.org/fhir/R4/search.html#composite): one row per component value of
#: each combination found within one element (``combo``, numbered within the resource), ``slot`` the
#: component's position; a search joins the slots of one combination. The value columns are those of
#: the component's own table (dates in ``date_low``/``date_high``).
idx_composite = _index_table(
    "idx_composite",
    Column("combo", Integer, nullable=False),
    Column("slot", Integer, nullable=False),
    Column("system", Text, nullable=True),
    Column("code", Text, nullable=True),
    Column("norm", Text, nullable=True),
    Column("exact", Text, nullable=True),
    Column("target_type", String(64), nullable=True),
    Column("target_id", String(64), nullable=True),
    Column("url", Text, nullable=True),
    Column("uri", Text, nullable=True),
    Column("value", Float, nullable=True),
    Column("low", Float, nullable=True),
    Column("high", Float, nullable=True),
    Column("canonical_code", Text, nullable=True),
    Column("canonical_value", Float, nullable=True),
    Column("canonical_low", Float, nullable=True),
    Column("canonical_high", Float, nullable=True),
    Column("date_low", BigInteger, nullable=True),
    Column("date_high", BigInteger, nullable=True),
    indexes=(("slot", "code", "system"), ("slot", "low"), ("slot", "date_low")),
)
Index("ix_idx_composite_combo", idx_composite.c.pk, idx_composite.c.param, idx_composite.c.combo,
      idx_composite.c.slot)

#: progress of ``ehr reindex`` runs: the last resource key whose index rows were rebuilt, per run
reindex_progress = Table(
    "reindex_progress",
    metadata,
    #: what the run covers: ``*`` (every type) or a resource type
    Column("run", String(64), primary_key=True),
    Column("last_pk", BigInteger, nullable=False),
    Column("started", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
)

#: which extraction (``ehr.search.extract.EXTRACTION_VERSION``) built the stored index rows: one row, set by
#: a complete ``ehr reindex``; ``ehr serve`` rebuilds the index at start when it is older
search_index_version = Table(
    "search_index_version",
    metadata,
    Column("extraction", Integer, primary_key=True, autoincrement=False),
)

import_ledger = Table(
    "import_ledger",
    metadata,
    Column("key", String(128), primary_key=True),
    Column("imported_at", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    # assigned by the appender under the audit lock (never from a sequence), so seqs have no gaps
    Column("seq", Key, primary_key=True, autoincrement=False),
    Column("recorded", BigInteger, nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("agent", String(256), nullable=False),
    Column("interaction", String(64), nullable=False),
    Column("action", String(1), nullable=False),
    Column("status", Integer, nullable=False),
    Column("outcome", String(2), nullable=False),
    Column("patient", String(128), nullable=True),
    Column("patient_tenant", String(64), nullable=True),
    Column("resources", Text, nullable=False),
    Column("purpose", String(64), nullable=True),
    Column("roles", Text, nullable=False),
    Column("break_glass", Boolean, nullable=False),
    Column("denied", Boolean, nullable=False),
    #: the canonical JSON entry (RFC 8785) that is hashed: {"event": AuditEvent, "seq": n}
    Column("entry", LargeBinary, nullable=False),
    #: SHA-256(0x01 || chain of seq-1 || SHA-256(0x00 || entry))
    Column("chain", LargeBinary, nullable=False),
    Index("ix_audit_log_patient", "patient", "seq"),
    Index("ix_audit_log_agent", "agent", "seq"),
    Index("ix_audit_log_recorded", "recorded"),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("size", Key, primary_key=True, autoincrement=False),
    Column("head", LargeBinary, nullable=False),
    Column("created", BigInteger, nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

#: how far each audit journal file (``ehr.audit.journal``) is drained into ``audit_log``: the offset just
#: after the last record appended, written in the same transaction as the entries
audit_journal = Table(
    "audit_journal",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("drained", BigInteger, nullable=False),
)

#: the tables of the plain value types, in the order of ``IndexRows``' fields
VALUE_TABLES = (idx_token, idx_string, idx_reference, idx_date, idx_number, idx_quantity, idx_uri)
#: every table of search index rows (all keyed by ``resources.pk``)
INDEX_TABLES = (*VALUE_TABLES, idx_composite)

"""The migrations build the search index tables as ``ehr.store.sql.schema`` declares them (on PostgreSQL
``idx_string.norm`` collated "C"), and 0012 drops the token tables' ``text`` column (``:text`` searches
string rows since) keeping every row — on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text

from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.schema import INDEX_TABLES, idx_composite, idx_token, metadata, resources
from tests.store.upgrade import upgrade


def test_index_tables_are_as_declared(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        names = {t.name for t in INDEX_TABLES}
        assert [d for d in differences if any(name in repr(d) for name in names)] == []
        if engine.dialect.name == "postgresql":  # which compare_metadata does not compare
            with engine.connect() as conn:
                collation = conn.execute(text(
                    "SELECT collation_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = 'idx_string' AND column_name = 'norm'")).scalar_one()
            assert collation == "C"
    finally:
        engine.dispose()


def test_0012_drops_the_text_columns_and_keeps_the_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade(engine, "0011")
        with engine.begin() as conn:
            conn.execute(insert(resources).values(pk=1, res_type="Observation", res_id="o1", tenant="t", version=1,
                                                  last_updated=0, deleted=False, body=None, erased=False))
            conn.execute(text("INSERT INTO idx_token (pk, res_type, param, system, code, text) "
                              "VALUES (1, 'Observation', 'code', 'http://loinc.org', '8867-4', 'heart rate')"))
            conn.execute(text("INSERT INTO idx_composite (pk, res_type, param, combo, slot, code, text) "
                              "VALUES (1, 'Observation', 'code-value-quantity', 0, 0, '8867-4', 'heart rate')"))
        upgrade(engine, "head")
        tables = inspect(engine)
        for table in (idx_token, idx_composite):
            assert "text" not in {c["name"] for c in tables.get_columns(table.name)}
        assert {i["name"] for i in tables.get_indexes("idx_token")} >= {"ix_idx_token_pk",
                                                                        "ix_idx_token_code_system_pk"}
        with engine.connect() as conn:
            assert conn.execute(select(idx_token.c.param, idx_token.c.system, idx_token.c.code)).all() == [
                ("code", "http://loinc.org", "8867-4")]
            assert conn.execute(select(idx_composite.c.code)).scalars().all() == ["8867-4"]
    finally:
        engine.dispose()

"""The SQLAlchemy store: SQLite (WAL) embedded by default, PostgreSQL in production."""

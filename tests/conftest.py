"""Shared fixtures: the two database engines and a real server on a free port, talked to over HTTP.

PostgreSQL tests use the server on 127.0.0.1:5432 (trust auth, database ``test``), each test run in
its own schema. They skip when no server is reachable — except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import create_engine, text

from ehr.api.app import create_app
from ehr.settings import Settings
from ehr.store.sql.engine import drop_schema as engine_drop_schema
from ehr.store.sql.engine import new_schema

PG_ADMIN_URL = os.environ.get("EHR_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _pg_available() -> bool:
    engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def pg_available() -> bool:
    return _pg_available()


def database_url(kind: str, tmp_path: Path, pg_available: bool) -> str:
    """A fresh, empty database of ``kind``: an SQLite file, or a new PostgreSQL schema."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'ehr.db'}"
    if not pg_available:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable on 127.0.0.1:5432; CI must run the PostgreSQL tests")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 (these tests run in CI)")
    return new_schema(PG_ADMIN_URL, "t")


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[str]:
    url = database_url(str(request.param), tmp_path, pg_available)
    yield url
    drop_schema(url)


def drop_schema(url: str) -> None:
    """Drop the PostgreSQL schema a test used (so the shared server does not collect thousands); a lock
    still held by a connection the test left open only leaves the schema behind."""
    with contextlib.suppress(Exception):
        engine_drop_schema(PG_ADMIN_URL, url)


class LiveServer:
    """uvicorn serving ``create_app`` in a background thread on a free loopback port."""

    def __init__(self, settings: Settings, **app_options: Any) -> None:
        """``app_options``: further arguments of ``create_app`` (an injected ``audit_reader``)."""
        self.port = _free_port()
        config = uvicorn.Config(create_app(settings, **app_options), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    # the REST tests count the Patients they write: linking (golden records) is tested in tests/mpi
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, max_body_bytes=8 * 1024 * 1024, mpi=False)
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as http:
        yield http

"""A real server whose ``/audit`` pages read generated audit rows (its store is an empty SQLite file: the
pages never touch it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ehr.audit.reports.memory import MemoryAuditReader
from ehr.audit.reports.synthetic import generate_rows
from ehr.settings import Settings
from tests.conftest import LiveServer

OFFICER = {"X-Roles": "clinician, data-officer", "X-Tenant": "hospital-a"}


@pytest.fixture
def audit_server(tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(auth="dev", db_url=f"sqlite:///{tmp_path / 'ehr.db'}", data_dir=tmp_path)
    reader = MemoryAuditReader(generate_rows(date(2024, 5, 1), 30))
    with LiveServer(settings, audit_reader=reader) as live:
        yield live


def root(server: LiveServer) -> str:
    return f"http://127.0.0.1:{server.port}"

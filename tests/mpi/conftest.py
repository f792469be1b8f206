"""A live server whose Patients are linked by the fake matcher, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ehr.settings import Settings

from ..conftest import LiveServer
from .fake import FakeMatcher


@pytest.fixture
def matcher() -> FakeMatcher:
    return FakeMatcher()


@pytest.fixture
def mpi_server(db_url: str, tmp_path: Path, matcher: FakeMatcher) -> Iterator[LiveServer]:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, max_body_bytes=8 * 1024 * 1024)
    with LiveServer(settings, matcher=matcher) as live:
        yield live


@pytest.fixture
def mpi(mpi_server: LiveServer) -> Iterator[httpx.Client]:
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    with httpx.Client(base_url=mpi_server.base, headers=headers, timeout=60) as http:
        yield http

"""The built-in authorization server on a live test server, with a registered user (``alice``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.server.support import AuthServer, start


@pytest.fixture
def auth(db_url: str, tmp_path: Path) -> Iterator[AuthServer]:
    server, live = start(db_url, tmp_path)
    with live:
        server.user()
        yield server

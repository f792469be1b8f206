"""Reading and writing the index's tables (:mod:`ehr.mpi.link_tables`) inside a unit of work.

The index lives in the SQL store (SQLite or PostgreSQL), in the same transaction as the resources it
describes: a link commits with the Patient write that caused it, or not at all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import orjson
from sqlalchemy import Connection, and_, delete, or_, select, update

from ehr.errors import ServiceUnavailable
from ehr.mpi.link_tables import mpi_decisions, mpi_goldens, mpi_links, mpi_pairs
from ehr.store.protocol import Tx
from ehr.store.records import now_us

Origin = Literal["auto", "manual"]
Verdict = Literal["review", "no-match", "match"]


@dataclass(frozen=True, slots=True)
class Link:
    source_id: str
    golden_id: str
    origin: Origin
    score: float | None
    actor: str
    decided_at: int


@dataclass(frozen=True, slots=True)
class Pair:
    low_id: str
    high_id: str
    verdict: Verdict
    origin: Origin
    score: float | None
    task_id: str | None
    actor: str
    decided_at: int


def ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def link_store(tx: Tx) -> LinkStore:
    """The index tables of ``tx``'s database connection."""
    conn = getattr(tx, "conn", None)
    if not isinstance(conn, Connection):
        raise ServiceUnavailable("The master patient index keeps its links in the SQL store; run the server "
                                 "on SQLite or PostgreSQL to use it.")
    return LinkStore(conn)


class LinkStore:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # links ----------------------------------------------------------------------------------------
    def link(self, source_id: str) -> Link | None:
        row = self.conn.execute(select(mpi_links).where(mpi_links.c.source_id == source_id)).first()
        return None if row is None else Link(**row._asdict())

    def members(self, golden_id: str) -> list[Link]:
        rows = self.conn.execute(select(mpi_links).where(mpi_links.c.golden_id == golden_id)
                                 .order_by(mpi_links.c.source_id)).all()
        return [Link(**r._asdict()) for r in rows]

    def all_links(self) -> list[Link]:
        rows = self.conn.execute(select(mpi_links).order_by(mpi_links.c.source_id)).all()
        return [Link(**r._asdict()) for r in rows]

    def set_link(self, source_id: str, golden_id: str, origin: Origin, actor: str,
                 score: float | None = None) -> None:
        self.drop_link(source_id)
        self.conn.execute(mpi_links.insert().values(source_id=source_id, golden_id=golden_id, origin=origin,
                                                    score=score, actor=actor, decided_at=now_us()))

    def put_link(self, row: dict[str, Any]) -> None:
        """Restore a link row exactly as it was (``$mdm-undo``)."""
        self.drop_link(str(row["source_id"]))
        self.conn.execute(mpi_links.insert().values(**row))

    def drop_link(self, source_id: str) -> None:
        self.conn.execute(delete(mpi_links).where(mpi_links.c.source_id == source_id))

    # pairs ----------------------------------------------------------------------------------------
    def pair(self, a: str, b: str) -> Pair | None:
        low, high = ordered(a, b)
        row = self.conn.execute(select(mpi_pairs).where(and_(mpi_pairs.c.low_id == low,
                                                             mpi_pairs.c.high_id == high))).first()
        return None if row is None else Pair(**row._asdict())

    def pairs_of(self, source_id: str) -> list[Pair]:
        p = mpi_pairs.c
        rows = self.conn.execute(select(mpi_pairs).where(or_(p.low_id == source_id, p.high_id == source_id))
                                 .order_by(p.low_id, p.high_id)).all()
        return [Pair(**r._asdict()) for r in rows]

    def pair_by_task(self, task_id: str) -> Pair | None:
        row = self.conn.execute(select(mpi_pairs).where(mpi_pairs.c.task_id == task_id)).first()
        return None if row is None else Pair(**row._asdict())

    def reviews(self) -> list[Pair]:
        rows = self.conn.execute(select(mpi_pairs).where(mpi_pairs.c.verdict == "review")).all()
        return [Pair(**r._asdict()) for r in rows]

    def set_pair(self, a: str, b: str, verdict: Verdict, origin: Origin, actor: str, *,
                 score: float | None = None, task_id: str | None = None) -> None:
        low, high = ordered(a, b)
        self.drop_pair(a, b)
        self.conn.execute(mpi_pairs.insert().values(low_id=low, high_id=high, verdict=verdict, origin=origin,
                                                    score=score, task_id=task_id, actor=actor,
                                                    decided_at=now_us()))

    def put_pair(self, row: dict[str, Any]) -> None:
        """Restore a pair row exactly as it was (``$mdm-undo``)."""
        self.drop_pair(str(row["low_id"]), str(row["high_id"]))
        self.conn.execute(mpi_pairs.insert().values(**row))

    def drop_pair(self, a: str, b: str) -> None:
        low, high = ordered(a, b)
        self.conn.execute(delete(mpi_pairs).where(and_(mpi_pairs.c.low_id == low, mpi_pairs.c.high_id == high)))

    def refused(self, source_id: str, golden_id: str) -> bool:
        """Whether a steward said ``source_id`` is not the person of any record linked to ``golden_id``."""
        others = {m.source_id for m in self.members(golden_id)} - {source_id}
        return any(p.verdict == "no-match" and ({p.low_id, p.high_id} - {source_id}) <= others
                   for p in self.pairs_of(source_id))

    # golden records -------------------------------------------------------------------------------
    def add_golden(self, golden_id: str) -> None:
        self.conn.execute(mpi_goldens.insert().values(golden_id=golden_id, replaced_by=None, created_at=now_us()))

    def is_golden(self, resource_id: str) -> bool:
        found = self.conn.execute(select(mpi_goldens.c.golden_id).where(mpi_goldens.c.golden_id == resource_id))
        return found.first() is not None

    def replaced_by(self, golden_id: str) -> str | None:
        row = self.conn.execute(select(mpi_goldens.c.replaced_by).where(mpi_goldens.c.golden_id == golden_id)).first()
        return None if row is None else row[0]

    def set_replaced_by(self, golden_id: str, target: str | None) -> None:
        self.conn.execute(update(mpi_goldens).where(mpi_goldens.c.golden_id == golden_id)
                          .values(replaced_by=target))

    def replaces(self, golden_id: str) -> list[str]:
        rows = self.conn.execute(select(mpi_goldens.c.golden_id).where(mpi_goldens.c.replaced_by == golden_id)
                                 .order_by(mpi_goldens.c.golden_id)).all()
        return [str(r[0]) for r in rows]

    def final_golden(self, golden_id: str) -> str:
        """The golden record ``golden_id`` was (transitively) merged into, or itself."""
        seen = {golden_id}
        while (target := self.replaced_by(golden_id)) is not None and target not in seen:
            seen.add(target)
            golden_id = target
        return golden_id

    # manual decisions -----------------------------------------------------------------------------
    def add_decision(self, operation: str, actor: str, before: dict[str, Any]) -> int:
        result = self.conn.execute(mpi_decisions.insert().values(
            operation=operation, actor=actor, decided_at=now_us(), before=orjson.dumps(before).decode(),
            undone=False).returning(mpi_decisions.c.seq))
        return int(result.scalar_one())

    def decision(self, seq: int) -> tuple[str, dict[str, Any], bool] | None:
        d = mpi_decisions.c
        row = self.conn.execute(select(d.operation, d.before, d.undone).where(d.seq == seq)).first()
        return None if row is None else (str(row[0]), orjson.loads(row[1]), bool(row[2]))

    def later_decisions(self, seq: int) -> list[tuple[int, dict[str, Any]]]:
        d = mpi_decisions.c
        rows = self.conn.execute(select(d.seq, d.before).where(and_(d.seq > seq, d.undone.is_(False)))
                                 .order_by(d.seq)).all()
        return [(int(r[0]), orjson.loads(r[1])) for r in rows]

    def mark_undone(self, seq: int) -> None:
        self.conn.execute(update(mpi_decisions).where(mpi_decisions.c.seq == seq).values(undone=True))


def link_row(link: Link | None) -> dict[str, Any] | None:
    return None if link is None else asdict(link)


def pair_row(pair: Pair | None) -> dict[str, Any] | None:
    return None if pair is None else asdict(pair)

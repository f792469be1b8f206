"""Manual decisions of a data steward: link, unlink, merge, resolve a review, and undo.

Each decision is recorded with the index rows it replaced (``mpi_decisions``), marked ``manual`` with
the steward's name, and so outranks every automatic decision: automatic linking never moves a
manually linked record and never links a pair called ``no-match``. ``undo`` puts the replaced rows
back, refused while a later decision touched the same records (undo that one first). The FHIR side
(golden records, ``Patient.link``, review Tasks) is rewritten to match in the same unit of work,
written past online linking (:func:`ehr.mpi.linking.unwrap`), which must not second-guess it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ehr.errors import BadRequest, Conflict, NotFound
from ehr.fhir.interactions.context import Context, Services
from ehr.fhir.interactions.writes import body_dict
from ehr.mpi.golden import live, sync_golden, sync_source
from ehr.mpi.linking import Effects, golden_of, new_golden, unwrap
from ehr.mpi.links import LinkStore, link_row, link_store, ordered, pair_row
from ehr.mpi.review import close_review, reopen_review
from ehr.store.protocol import Tx

Verdict = Literal["match", "no-match"]


@dataclass(frozen=True, slots=True)
class Outcome:
    decision: int | None
    goldens: tuple[str, ...]


@dataclass(slots=True)
class _Recorder:
    """The index rows a decision is about to change, as they were."""

    links: LinkStore
    before: dict[str, Any] = field(default_factory=lambda: {"links": {}, "pairs": {}, "goldens": {}})
    goldens: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)

    def link(self, source_id: str) -> None:
        self.before["links"].setdefault(source_id, link_row(self.links.link(source_id)))
        self.sources.add(source_id)
        current = self.links.link(source_id)
        if current is not None:
            self.goldens.add(current.golden_id)

    def pair(self, a: str, b: str) -> None:
        self.before["pairs"].setdefault("|".join(ordered(a, b)), pair_row(self.links.pair(a, b)))

    def golden(self, golden_id: str) -> None:
        self.before["goldens"].setdefault(golden_id, self.links.replaced_by(golden_id))
        self.goldens.add(golden_id)


def actor(ctx: Context) -> str:
    return f"{ctx.tenant}/{ctx.principal.subject}"


def link(ctx: Context, services: Services, tx: Tx, source_id: str, target_id: str) -> Outcome:
    """Link ``source_id`` to the person of ``target_id`` (a source record or a golden record)."""
    tx = unwrap(tx)
    links = link_store(tx)
    _require_source(tx, links, source_id)
    rec = _Recorder(links)
    golden_id = _person(tx, links, target_id, rec)
    rec.link(source_id)
    rec.golden(golden_id)
    _set_verdicts(ctx, services, tx, rec, source_id, [m.source_id for m in links.members(golden_id)], "match")
    links.set_link(source_id, golden_id, "manual", actor(ctx))
    return _finish(ctx, services, tx, rec, "link")


def unlink(ctx: Context, services: Services, tx: Tx, source_id: str) -> Outcome:
    """Take ``source_id`` out of its person: a golden record of its own, and ``no-match`` with every
    record it was linked to."""
    tx = unwrap(tx)
    links = link_store(tx)
    _require_source(tx, links, source_id)
    current = links.link(source_id)
    others = [m.source_id for m in links.members(current.golden_id)] if current else []
    if current is None or others == [source_id]:
        raise BadRequest(f"Patient/{source_id} is not linked to any other record; there is nothing to unlink.")
    rec = _Recorder(links)
    rec.link(source_id)
    _set_verdicts(ctx, services, tx, rec, source_id, others, "no-match")
    own = new_golden(links)
    rec.golden(own)
    links.set_link(source_id, own, "manual", actor(ctx))
    return _finish(ctx, services, tx, rec, "unlink")


def merge(ctx: Context, services: Services, tx: Tx, from_id: str, to_id: str) -> Outcome:
    """Merge the person of ``from_id`` into the person of ``to_id``: every record moves (manually) to
    the surviving golden record, the other is marked ``replaced-by`` it."""
    tx = unwrap(tx)
    links = link_store(tx)
    rec = _Recorder(links)
    source, target = _person(tx, links, from_id, rec), _person(tx, links, to_id, rec)
    if source == target:
        raise BadRequest(f"Patient/{from_id} and Patient/{to_id} are the same person already; nothing to merge.")
    rec.golden(source)
    rec.golden(target)
    kept = [m.source_id for m in links.members(target)]
    for member in links.members(source):
        rec.link(member.source_id)
        for other in kept:
            rec.pair(member.source_id, other)
            if (pair := links.pair(member.source_id, other)) is not None and pair.verdict == "no-match":
                links.drop_pair(member.source_id, other)
        links.set_link(member.source_id, target, "manual", actor(ctx))
    links.set_replaced_by(source, target)
    return _finish(ctx, services, tx, rec, "merge")


def resolve(ctx: Context, services: Services, tx: Tx, task_id: str, verdict: Verdict) -> Outcome:
    """A steward's answer to a review Task: ``match`` links the pair, ``no-match`` keeps them apart."""
    tx = unwrap(tx)
    links = link_store(tx)
    pair = links.pair_by_task(task_id)
    task = tx.current("Task", task_id)
    if pair is None or task is None or task.deleted:
        raise NotFound(f"Task/{task_id} is not a match review; list them with GET Task?code=mdm-review.")
    if pair.verdict != "review":
        raise Conflict(f"Task/{task_id} was resolved already ({pair.verdict}); $mdm-undo reverses a decision.")
    source_id, candidate_id = _review_pair(body_dict(task))
    if verdict == "match":
        return link(ctx, services, tx, source_id, candidate_id)
    rec = _Recorder(links)
    rec.link(source_id)
    _set_verdicts(ctx, services, tx, rec, source_id, [candidate_id], "no-match")
    current, other = links.link(source_id), links.link(candidate_id)
    if current is not None and other is not None and current.golden_id == other.golden_id:
        own = new_golden(links)
        rec.golden(own)
        links.set_link(source_id, own, "manual", actor(ctx))
    return _finish(ctx, services, tx, rec, "resolve")


def undo(ctx: Context, services: Services, tx: Tx, seq: int) -> Outcome:
    tx = unwrap(tx)
    links = link_store(tx)
    found = links.decision(seq)
    if found is None:
        raise NotFound(f"There is no manual decision {seq}; each $mdm-* answer names its decision.")
    _operation, before, undone = found
    if undone:
        raise Conflict(f"Decision {seq} was undone already.")
    touched = _touched(before)
    for later, later_before in links.later_decisions(seq):
        if _touched(later_before) & touched:
            raise Conflict(f"Decision {later} changed the same records after decision {seq}; undo {later} first.")
    rec = _Recorder(links)
    for source_id, row in before["links"].items():
        rec.link(source_id)
        if row is None:
            links.drop_link(source_id)
        else:
            links.put_link(row)
    for key, row in before["pairs"].items():
        if row is None:
            links.drop_pair(*key.split("|"))
        else:
            links.put_pair(row)
            if row["verdict"] == "review":
                reopen_review(ctx, services, tx, row["task_id"])
    for golden_id, replaced_by in before["goldens"].items():
        rec.golden(golden_id)
        links.set_replaced_by(golden_id, replaced_by)
    links.mark_undone(seq)
    rec.goldens |= {x.golden_id for s in before["links"] if (x := links.link(s)) is not None}
    _sync(ctx, services, tx, rec)
    return Outcome(None, tuple(sorted(rec.goldens)))


def _set_verdicts(ctx: Context, services: Services, tx: Tx, rec: _Recorder, source_id: str,
                  others: Iterable[str], verdict: Verdict) -> None:
    """Record ``verdict`` between ``source_id`` and each of ``others``, completing open reviews."""
    for other in others:
        if other == source_id:
            continue
        rec.pair(source_id, other)
        previous = rec.links.pair(source_id, other)
        if previous is not None and previous.verdict == "review":
            close_review(ctx, services, tx, previous.task_id, verdict)
        if verdict == "no-match" or previous is not None:
            rec.links.set_pair(source_id, other, verdict, "manual", actor(ctx),
                               task_id=previous.task_id if previous else None)


def _finish(ctx: Context, services: Services, tx: Tx, rec: _Recorder, operation: str) -> Outcome:
    seq = rec.links.add_decision(operation, actor(ctx), rec.before)
    rec.goldens |= {x.golden_id for s in rec.sources if (x := rec.links.link(s)) is not None}
    _sync(ctx, services, tx, rec)
    return Outcome(seq, tuple(sorted(rec.goldens)))


def _sync(ctx: Context, services: Services, tx: Tx, rec: _Recorder) -> None:
    for source_id in sorted(rec.sources):
        sync_source(ctx, services, tx, rec.links, source_id)
    for golden_id in sorted(rec.goldens):
        sync_golden(ctx, services, tx, rec.links, golden_id)


def _person(tx: Tx, links: LinkStore, patient_id: str, rec: _Recorder) -> str:
    """The (surviving) golden record of ``patient_id``, itself a golden or a source record; a source
    without one gets one (rewritten with the decision's other records)."""
    if links.is_golden(patient_id):
        return links.final_golden(patient_id)
    _require_source(tx, links, patient_id)
    effects = Effects()
    golden_id = golden_of(tx, links, patient_id, effects)
    assert golden_id is not None
    rec.sources |= effects.sources
    rec.goldens |= effects.goldens
    return links.final_golden(golden_id)


def _require_source(tx: Tx, links: LinkStore, patient_id: str) -> None:
    if live(tx, patient_id) is None:
        raise NotFound(f"Patient/{patient_id} does not exist or was deleted; check the id.")
    if links.is_golden(patient_id):
        raise BadRequest(f"Patient/{patient_id} is a golden record; give a hospital's Patient record here.")


def _review_pair(task: dict[str, Any]) -> tuple[str, str]:
    focus = str(task.get("focus", {}).get("reference", ""))
    candidate = next((str(i["valueReference"]["reference"]) for i in task.get("input", [])
                      if "valueReference" in i), "")
    return focus.removeprefix("Patient/"), candidate.removeprefix("Patient/")


def _touched(before: dict[str, Any]) -> set[str]:
    pairs = {x for key in before["pairs"] for x in key.split("|")}
    return set(before["links"]) | set(before["goldens"]) | pairs

"""batch and transaction Bundles (https://hl7.org/fhir/R4/http.html#transaction).

A transaction is all or nothing: its entries run in one unit of work, in the order the spec gives
(DELETE, then POST, then PUT and PATCH, then GET and HEAD), ``urn:uuid:`` full URLs and conditional
references are resolved before anything is written, and the POSTs are written as one batch. Any
failure rolls everything back and is reported with the failing entry's path. A batch runs each entry
in its own unit of work and reports each entry's outcome.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ehr.errors import BadRequest, FhirError, Issue, PreconditionFailed
from ehr.fhir import validation
from ehr.fhir.bundles import bundle
from ehr.fhir.interactions import entry_ops
from ehr.fhir.interactions.conditional import find_matches, single_match
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.create import check_type
from ehr.fhir.interactions.entries import Entry, read_entries
from ehr.fhir.interactions.references import is_conditional, rewrite_references
from ehr.fhir.interactions.writes import check_writable, new_id, pending, restamp
from ehr.store.protocol import Tx
from ehr.store.records import PendingWrite, VersionRecord, now_us

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3, "NOOP": 4}


def process_bundle(ctx: Context, services: Services, body: dict[str, Any],
                   run: Callable[[Callable[[Tx], Result], bool], Result]) -> Result:
    """Dispatch on Bundle.type. ``run(fn, write)`` executes ``fn`` in a unit of work (with audit)."""
    if body.get("resourceType") != "Bundle":
        raise BadRequest("POST to the base URL takes a Bundle of type batch or transaction.")
    kind = body.get("type")
    entries = read_entries(body, ctx.base_url)
    if kind == "transaction":
        _check_writable(entries)
        prepared = prepare(ctx, services, entries)
        return run(lambda tx: transaction(ctx, services, tx, entries, prepared), True)
    if kind == "batch":
        return batch(ctx, services, entries, run)
    raise BadRequest(f"Bundle.type is {kind!r}; the base URL accepts only batch or transaction Bundles.")


def prepare(ctx: Context, services: Services, entries: list[Entry]) -> list[PendingWrite] | None:
    """The POST writes of a transaction, built before any database lock is taken: validated, ids
    assigned, references rewritten, stamped and indexed. None when the transaction has conditional
    parts, whose resolution needs the database and so happens inside the unit of work."""
    conditional = any(e.if_none_exist or (e.query and e.method != "GET") for e in entries)
    if conditional:
        return None
    responses: dict[int, dict[str, Any]] = {}
    try:
        id_map = _assign_ids(ctx, services, None, entries, responses)
        _rewrite_all(entries, _resolver(ctx, services, None, id_map))
        return _post_writes(ctx, services, entries)
    except _NeedsDatabase:
        for entry in entries:
            if entry.method == "POST" and entry.resource is not None:
                entry.resource.pop("id", None)
        return None


def transaction(ctx: Context, services: Services, tx: Tx, entries: list[Entry],
                prepared: list[PendingWrite] | None = None) -> Result:
    responses: dict[int, dict[str, Any]] = {}
    touched: list[VersionRecord] = []
    current: Entry | None = None
    check_overlaps(entries)
    try:
        for current in entries:  # every entry is authorized before any runs
            entry_ops.authorize(ctx, services, current)
        for current in sorted((e for e in entries if e.method == "DELETE"), key=lambda e: e.index):
            deleted = entry_ops.run_delete(ctx, services, tx, current)
            touched.extend(deleted.touched_records())
            responses[current.index] = entry_ops.response(ctx, deleted)
        current = None
        if prepared is None:
            id_map = _assign_ids(ctx, services, tx, entries, responses)
            check_overlaps(entries)  # again, now that conditional PUTs name their targets
            _rewrite_all(entries, _resolver(ctx, services, tx, id_map))
            prepared = _post_writes(ctx, services, entries)
        else:
            prepared = restamp(prepared, now_us())
        posts = [e for e in entries if e.method == "POST"]
        written = tx.write(prepared)
        touched.extend(written)
        for entry, record in zip(posts, written, strict=True):
            responses[entry.index] = entry_ops.response(ctx, Result(201, record.body, record, True))
        for current in sorted(entries, key=lambda e: (_ORDER[e.method], e.index)):
            if current.method in ("PUT", "PATCH", "GET", "HEAD"):
                result = entry_ops.run_entry(ctx, services, tx, current)
                touched.extend(result.touched_records())
                responses[current.index] = entry_ops.response(ctx, result, read=current.method in ("GET", "HEAD"))
    except FhirError as exc:
        raise _locate(exc, current) from None
    ordered = [responses[e.index] for e in entries]
    return Result(200, bundle("transaction-response", ordered, []), touched=tuple(touched))


def check_overlaps(entries: list[Entry]) -> None:
    """Refuse a transaction that writes one resource twice: "If any resource identities overlap in
    steps 1-3 [DELETE, POST, PUT/PATCH], then the transaction SHALL fail"
    (https://hl7.org/fhir/R4/http.html#trules). Conditional deletes are not resolved here."""
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.method not in ("DELETE", "PUT", "PATCH") or len(entry.parts) != 2 or entry.query:
            continue
        identity = "/".join(entry.parts)
        first = seen.setdefault(identity, entry)
        if first is not entry:
            text = (f"{first.where} and {entry.where} both change {identity}; a transaction may write each "
                    "resource once, so merge them into one entry.")
            raise BadRequest(text, issues=[Issue(text, code="invalid", expression=(entry.where,))])


def batch(ctx: Context, services: Services, entries: list[Entry],
          run: Callable[[Callable[[Tx], Result], bool], Result]) -> Result:
    out: list[dict[str, Any]] = []
    for entry in entries:
        try:
            write = entry.method not in ("GET", "HEAD")
            result = run(lambda tx, e=entry: entry_ops.run_authorized(ctx, services, tx, e), write)  # type: ignore[misc]
            out.append(entry_ops.response(ctx, result, read=not write))
        except FhirError as exc:
            out.append(entry_ops.failure(exc))
    return Result(200, bundle("batch-response", out, []))


def _assign_ids(ctx: Context, services: Services, tx: Tx | None, entries: list[Entry],
                responses: dict[int, dict[str, Any]]) -> dict[str, str]:
    """Decide the id of every POST and PUT target, so references can be rewritten before writing."""
    id_map: dict[str, str] = {}
    for entry in entries:
        target = _target(ctx, services, tx, entry, responses)
        if target is not None and entry.full_url:
            id_map[entry.full_url] = target
    return id_map


def _target(ctx: Context, services: Services, tx: Tx | None, entry: Entry,
            responses: dict[int, dict[str, Any]]) -> str | None:
    try:
        if entry.method == "POST":
            assert entry.resource is not None
            check_type(entry.resource_type, entry.resource)
            if entry.if_none_exist and tx is not None:
                existing = single_match(ctx, services, tx, entry.resource_type, entry.if_none_exist)
                if existing is not None:
                    responses[entry.index] = entry_ops.response(ctx, Result(200, existing.body, existing, True))
                    entry.method = "NOOP"
                    return f"{existing.resource_type}/{existing.id}"
            entry.resource["id"] = new_id()
            return f"{entry.resource_type}/{entry.resource['id']}"
        if entry.method == "PUT" and len(entry.parts) == 2:
            return f"{entry.parts[0]}/{entry.parts[1]}"
        if entry.method == "PUT" and entry.query and tx is not None:
            match = single_match(ctx, services, tx, entry.resource_type, entry.query)
            assert entry.resource is not None
            entry.resource["id"] = match.id if match else entry.resource.get("id") or new_id()
            entry.path, entry.query = f"{entry.resource_type}/{entry.resource['id']}", ""
            return entry.path
    except FhirError as exc:
        raise _locate(exc, entry) from None
    return None


def _resolver(ctx: Context, services: Services, tx: Tx | None, id_map: dict[str, str]) -> Callable[[str], str | None]:
    cache: dict[str, str] = {}

    def resolve(reference: str) -> str | None:
        if reference in id_map:
            return id_map[reference]
        if not is_conditional(reference):
            return None
        if tx is None:
            raise _NeedsDatabase
        if reference not in cache:
            resource_type, _, criteria = reference.partition("?")
            found = find_matches(ctx, services, tx, resource_type, criteria)
            if len(found) != 1:
                raise PreconditionFailed(
                    f"The conditional reference {reference!r} matches {len(found)} resources; it must "
                    "match exactly one.")
            cache[reference] = f"{resource_type}/{found[0].id}"
        return cache[reference]

    return resolve


def _rewrite_all(entries: list[Entry], resolve: Callable[[str], str | None]) -> None:
    for entry in entries:
        if entry.resource is not None and entry.method in ("POST", "PUT"):
            try:
                rewrite_references(entry.resource, resolve)
            except FhirError as exc:
                raise _locate(exc, entry) from None


def _post_writes(ctx: Context, services: Services, entries: list[Entry]) -> list[PendingWrite]:
    """The POSTs as writes; they share one time, as the versions of one transaction should."""
    writes = []
    when = now_us()
    for entry in entries:
        if entry.method != "POST":
            continue
        assert entry.resource is not None
        try:
            validation.validate(entry.resource)
        except FhirError as exc:
            raise _locate(exc, entry) from None
        writes.append(pending(ctx, services, entry.resource, str(entry.resource["id"]), "POST", None, when))
    return writes


def _check_writable(entries: list[Entry]) -> None:
    """Refuse a transaction that writes a type no client may write, before anything runs."""
    for entry in entries:
        if entry.method not in ("GET", "HEAD"):
            try:
                check_writable(entry.resource_type)
            except FhirError as exc:
                raise _locate(exc, entry) from None


class _NeedsDatabase(Exception):
    """A conditional reference was met while preparing without the database."""


def _locate(exc: FhirError, entry: Entry | None) -> FhirError:
    """The same error, its issues prefixed with the failing entry's path."""
    if entry is None:
        return exc
    issues = [Issue(f"{entry.where}: {i.diagnostics}", i.code, i.severity,
                    tuple(f"{entry.where}.resource.{e.split('.', 1)[-1]}" if "." in e else entry.where
                          for e in i.expression) or (entry.where,))
              for i in exc.issues]
    return type(exc)(f"{entry.where}: {exc.message}", issues=issues, headers=exc.headers)


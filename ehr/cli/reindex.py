"""``ehr reindex``: rebuild the search index of every current resource with a progress bar
(``ehr.store.sql.reindex`` does the work, resumably, in batches of their own transactions); and the same
at ``ehr serve``'s start when the stored rows were built by an older extraction."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ehr.settings import Settings


def run_reindex(settings: Settings, resource_type: str | None, batch: int, console: Console | None = None) -> int:
    """Reindex ``resource_type`` (every type when None); returns how many resources were covered."""
    from ehr.api.app import close_services, open_services
    from ehr.fhir.validation import resource_types
    from ehr.store.sql.reindex import plan, reindex
    from ehr.store.sql.store import SqlStore

    if resource_type is not None and resource_type not in resource_types():
        raise ValueError(f"'{resource_type}' is not a resource type this server serves (types are case-sensitive)")
    out = console or Console(stderr=True)
    services = open_services(settings)
    store = services.store
    assert isinstance(store, SqlStore)
    done = 0
    try:
        start = plan(store, resource_type)
        if start.after:
            out.print(f"resuming an interrupted reindex of {start.run} after resource key {start.after}")
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=out) as progress:
            task = progress.add_task(f"reindexing {start.run}", total=start.remaining)
            for finished in reindex(store, services.indexer, resource_type, batch):
                done += len(finished.pks)
                progress.update(task, advance=len(finished.pks), total=max(start.remaining, done))
    finally:
        close_services(services)
    out.print(f"reindexed {done} resources ({start.run})")
    return done


def rebuild_outdated_index(settings: Settings, batch: int = 500, console: Console | None = None) -> int | None:
    """Before the server starts: when the stored index rows were built by an older extraction than this
    code's (``ehr.search.extract.EXTRACTION_VERSION``), rebuild them all (resuming an interrupted rebuild)
    and return how many resources were covered; None when the index is current. Servers starting at
    once rebuild one at a time (``one_rebuild_at_a_time``): the later ones find the index current."""
    from ehr.api.app import open_store
    from ehr.search.extract import EXTRACTION_VERSION
    from ehr.store.sql.reindex import built_with, one_rebuild_at_a_time

    store = open_store(settings)
    try:
        with one_rebuild_at_a_time(store):
            built = built_with(store)
            if built >= EXTRACTION_VERSION:
                return None
            out = console or Console(stderr=True)
            out.print(f"the search index was built by extraction version {built}; rebuilding it for version "
                      f"{EXTRACTION_VERSION} before serving (as ehr reindex does; an interrupted rebuild resumes)")
            # only the store is needed: no audit log, no record linkage
            return run_reindex(replace(settings, audit=False, mpi=False), None, batch, out)
    finally:
        store.close()

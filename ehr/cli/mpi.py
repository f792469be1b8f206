"""``ehr mpi``: the master patient index from the command line.

``ehr mpi link`` re-links every Patient of the store (``ehr.mpi.relink``) with a progress bar, then
prints the counts (records, persons, automatic links, reviews waiting) and a histogram of the match
scores of the compared pairs, which ``--plot FILE`` also saves as a PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ehr.mpi.protocol import Matcher
from ehr.mpi.relink import Summary
from ehr.settings import DEFAULT_DATA_DIR, Settings

app = typer.Typer(help="The master patient index: one person across hospitals.", no_args_is_help=True,
                  add_completion=False)


@app.command("link")
def link(
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL; default: SQLite in --data-dir")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="folder for the embedded database")] = DEFAULT_DATA_DIR,
    plot: Annotated[Path | None, typer.Option("--plot", help="save the score histogram as this PNG")] = None,
) -> None:
    """Re-link the whole index: every Patient matched again, manual decisions kept."""
    from ehr.mpi.service import load_matcher

    settings = Settings(db_url=db, data_dir=data_dir)
    console = Console(stderr=True)
    summary = link_store(settings, load_matcher(settings), console)
    report(Console(), summary)
    if plot is not None:
        save_plot(summary, plot)
        console.print(f"score histogram saved to {plot}")


def link_store(settings: Settings, matcher: Matcher[Any], console: Console) -> Summary:
    """Re-link the store of ``settings`` with ``matcher``, showing progress on ``console``."""
    from ehr.api.app import close_services, open_services
    from ehr.auth.boundary import Principal
    from ehr.fhir.interactions.context import Context
    from ehr.mpi.relink import run

    services = open_services(settings, matcher)
    ctx = Context(base_url="urn:ehr-mpi-link", principal=Principal(tenant="mpi", subject="ehr-mpi-link"))
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=console) as progress:
            tasks: dict[str, Any] = {}

            def advance(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done)

            return run(ctx, services, advance)
    finally:
        close_services(services)


def report(console: Console, summary: Summary) -> None:
    counts = Table("records", "persons", "auto links", "reviews")
    counts.add_row(str(summary.records), str(summary.persons), str(summary.auto_links), str(summary.reviews))
    console.print(counts)
    bins = summary.histogram()
    widest = max((n for _, _, n in bins), default=0) or 1
    histogram = Table("score", "pairs", "")
    for low, high, n in bins:
        histogram.add_row(f"{low:.1f}–{high:.1f}", str(n), "█" * round(40 * n / widest))
    console.print(histogram)


def save_plot(summary: Summary, path: Path) -> None:
    """The histogram of pair scores as a PNG (matplotlib, Agg backend: no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4))
    try:
        axes.hist(summary.scores, bins=20, range=(0.0, 1.0), color="#3b6ea5", log=bool(summary.scores))
        axes.set_xlabel("match probability")
        axes.set_ylabel("pairs")
        axes.set_title(f"{summary.records} records, {summary.persons} persons, {summary.reviews} reviews")
        figure.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png", dpi=100)
    finally:
        pyplot.close(figure)

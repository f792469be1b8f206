"""A report as one self-contained HTML page: the Jinja2 template ``templates/report.html`` (autoescaped),
inline CSS, charts as inline SVG, no script and nothing fetched from elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

import jinja2

from ehr.audit.reports.charts import render_svg
from ehr.audit.reports.document import Document


@dataclass(frozen=True, slots=True)
class Form:
    """The picker shown above a report on the web page; values are echoed back into its fields."""

    base: str
    patient: str = ""
    user: str = ""
    since: str = ""
    until: str = ""


def render_html(doc: Document, generated: datetime, *, form: Form | None = None,
                downloads: Sequence[tuple[str, str]] = ()) -> str:
    charts = [render_svg(chart, f"chart{i}") for i, chart in enumerate(doc.charts)]
    return _environment().get_template("report.html").render(
        doc=doc, charts=charts, form=form, downloads=downloads, generated=f"{generated:%Y-%m-%d %H:%M %Z}")


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("ehr.audit.reports", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=False)

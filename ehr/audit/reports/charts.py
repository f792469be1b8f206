"""Bar charts of a report, drawn with matplotlib's object API on the Agg canvas (no pyplot, no
display): SVG to inline in HTML pages, PNG for the PDF.

matplotlib's settings are process-wide, so each drawing holds one lock while it applies its own.
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ehr.audit.reports.document import Chart

_LOCK = threading.Lock()
_COLOUR = "#2f6f9f"
_MAX_TICKS = 12
_MIN_SLOTS = 10
_STYLE: dict[Any, Any] = {"svg.fonttype": "none", "font.family": "DejaVu Sans", "font.size": 9.0,
                           "axes.spines.top": False, "axes.spines.right": False}


def render_svg(chart: Chart, prefix: str) -> str:
    """The chart as an ``<svg>`` element to inline in HTML; its ids start with ``prefix`` so several
    charts can share one page."""
    with _LOCK, matplotlib.rc_context({**_STYLE, "svg.hashsalt": prefix}):
        buffer = io.StringIO()
        _figure(chart).savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.DOTALL)
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', rf'url(#{prefix}-\1)', svg)
    svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', svg)
    svg = re.sub(r'^<svg ([^>]*?)width="[^"]*" height="[^"]*"', r"<svg \1", svg, count=1)
    return svg.replace("<svg ", f'<svg role="img" aria-label="{_attribute(chart.title)}" class="chart" ', 1)


def render_png(chart: Chart, dpi: int = 150) -> bytes:
    with _LOCK, matplotlib.rc_context(_STYLE):
        buffer = io.BytesIO()
        _figure(chart).savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _figure(chart: Chart) -> Figure:
    rows = len(chart.labels)
    height = min(max(2.2, 0.28 * rows + 1.0), 6.0) if chart.horizontal else 2.8
    figure = Figure(figsize=(6.4, height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.set_title(chart.title, loc="left", fontsize=10.5, fontweight="bold")
    if not chart.values:
        axes.text(0.5, 0.5, "nothing in this period", ha="center", va="center", transform=axes.transAxes,
                  color="#666666")
        axes.set_xticks([])
        axes.set_yticks([])
        return figure
    positions = list(range(rows))
    if chart.horizontal:
        axes.barh(positions, chart.values, color=_COLOUR)
        axes.set_yticks(positions, [_shorten(label) for label in chart.labels])
        axes.invert_yaxis()
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="x", color="#dddddd", linewidth=0.6)
    else:
        axes.bar(positions, chart.values, color=_COLOUR, width=0.8)
        pad = max(0.5, (_MIN_SLOTS - rows) / 2 + 0.5)  # a few days: narrow bars in the middle
        axes.set_xlim(-pad, rows - 1 + pad)
        step = max(1, -(-rows // _MAX_TICKS))
        axes.set_xticks(positions[::step], chart.labels[::step], rotation=30, ha="right")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    axes.set_axisbelow(True)
    return figure


def _shorten(label: str, most: int = 28) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


def _attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")

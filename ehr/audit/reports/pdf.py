"""A report as PDF (fpdf2): A4 landscape, the facts, the charts as PNG images two to a row, then the same
tables as the HTML page. DejaVu Sans (shipped with matplotlib) is embedded so any agent id prints."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import matplotlib
from fpdf import FPDF
from fpdf.fonts import FontFace

from ehr.audit.reports.charts import render_png
from ehr.audit.reports.document import Document, Table

_FONT = "DejaVu"
_ACCENT = (47, 111, 159)
_BAND = (244, 246, 248)
_CHART_WIDTH = 134.0  # mm; two charts side by side on a 273 mm wide landscape page


def render_pdf(doc: Document, generated: datetime) -> bytes:
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_creation_date(generated)
    pdf.set_title(doc.title)
    pdf.set_creator("ehr-service audit reports")
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdf.add_font(_FONT, "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font(_FONT, "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(auto=True, margin=14)
    pdf.add_page()
    _heading(pdf, doc, generated)
    _charts(pdf, doc)
    for table in doc.tables:
        _table(pdf, table)
    return bytes(pdf.output())


def _heading(pdf: FPDF, doc: Document, generated: datetime) -> None:
    pdf.set_font(_FONT, "B", 16)
    pdf.set_text_color(*_ACCENT)
    pdf.cell(0, 9, doc.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    for name, value in (*doc.facts, ("Generated", f"{generated:%Y-%m-%d %H:%M %Z}")):
        pdf.set_font(_FONT, "B", 9)
        pdf.cell(42, 5, name)
        pdf.set_font(_FONT, "", 9)
        pdf.multi_cell(0, 5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _charts(pdf: FPDF, doc: Document) -> None:
    """Two charts to a row; the row is as tall as its taller chart."""
    for start in range(0, len(doc.charts), 2):
        pair = doc.charts[start:start + 2]
        if pdf.get_y() > pdf.h - 80:
            pdf.add_page()
        top, bottom = pdf.get_y(), pdf.get_y()
        for column, chart in enumerate(pair):
            x = pdf.l_margin + column * (_CHART_WIDTH + 5)
            info = pdf.image(io.BytesIO(render_png(chart)), x=x, y=top, w=_CHART_WIDTH, title=chart.title,
                             alt_text=chart.title)
            bottom = max(bottom, top + float(info.rendered_height))
        pdf.set_y(bottom + 3)


def _table(pdf: FPDF, table: Table) -> None:
    if pdf.get_y() > pdf.h - 40:
        pdf.add_page()
    pdf.set_font(_FONT, "B", 11)
    pdf.cell(0, 8, table.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, "", 7.5)
    if not table.rows:
        pdf.cell(0, 6, "Nothing in this period.", new_x="LMARGIN", new_y="NEXT")
        return
    headings = FontFace(emphasis="BOLD", fill_color=_BAND)
    with pdf.table(col_widths=_widths(table), text_align="LEFT", headings_style=headings, line_height=4,
                   borders_layout="HORIZONTAL_LINES", padding=1) as grid:
        grid.row(table.columns)
        for cells in table.rows:
            grid.row(cells)
    if table.total > len(table.rows):
        pdf.cell(0, 6, f"The first {len(table.rows)} of {table.total} rows; the CSV export has them all.",
                 new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _widths(table: Table) -> tuple[float, ...]:
    """Relative column widths from the longest cell of each column (bounded, so reasons wrap)."""
    longest = [len(column) for column in table.columns]
    for cells in table.rows[:200]:
        longest = [max(n, len(cell)) for n, cell in zip(longest, cells, strict=True)]
    return tuple(float(min(max(n, 6), 60)) for n in longest)

"""A report (hub.reports.queries.run) as CSV and as a PDF with its chart.

The chart is drawn with fpdf2's own rectangles and lines rather than matplotlib: one bar chart
of the report's main figure over its buckets is a few dozen lines here, while matplotlib (with
numpy, pillow, fonttools) would add ~60 MB and a slow import to the hub for the same bars.
Money is printed in major units (12.50) in the PDF; the CSV keeps minor units, as the API."""

from __future__ import annotations

import csv
import datetime as dt
import io

from fpdf import FPDF

MAX_PDF_ROWS = 400  # a PDF is read by people: longer tables are cut (the CSV has them all)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def csv_text(result: dict) -> str:
    """One line per row: the bucket's UTC start, its local label, the dimensions and figures."""
    out = io.StringIO()
    columns = ["bucket", *result["columns"]]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in result["rows"]:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _money(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100:,}.{abs(minor) % 100:02d}".replace(",", "'")


def _figure(name: str, value, money: set[str]) -> str:
    if value is None:
        return ""
    if name in money and isinstance(value, int):
        return _money(value)
    return _cell(value)


def chart_series(result: dict, figure: str) -> list[tuple[str, float]]:
    """The chart's bars: the figure per bucket, summed over the rows (for distinct counts, the
    coalition's rows where there are some)."""
    rows = result["rows"]
    if result["totals"] is None and any(r.get("outlet_id") is None for r in rows):
        rows = [r for r in rows if r.get("outlet_id") is None]
    series: dict[str, float] = {}
    for row in rows:
        series[row["label"]] = series.get(row["label"], 0) + (row.get(figure) or 0)
    return sorted(series.items())


def _chart(doc: FPDF, series: list[tuple[str, float]], title: str, money: bool) -> None:
    x0, y0, width, height = doc.l_margin + 12, doc.get_y() + 6, doc.epw - 14, 55
    doc.set_font("Helvetica", "B", 9)
    doc.cell(0, 5, _latin1(title), new_x="LMARGIN", new_y="NEXT")
    top = max([v for _, v in series] + [0])
    low = min([v for _, v in series] + [0])
    span = (top - low) or 1
    doc.set_draw_color(120)
    doc.line(x0, y0, x0, y0 + height)
    zero = y0 + height * top / span
    doc.line(x0, zero, x0 + width, zero)
    doc.set_font("Helvetica", "", 6)
    for value in (top, low):
        doc.text(
            doc.l_margin,
            y0 + height * (top - value) / span + 2,
            _money(int(value)) if money else f"{value:g}",
        )
    if series:
        step = width / len(series)
        doc.set_fill_color(70, 120, 180)
        for i, (_, value) in enumerate(series):
            bar = height * abs(value) / span
            y = zero - bar if value >= 0 else zero
            doc.rect(x0 + i * step + step * 0.1, y, max(step * 0.8, 0.2), bar, style="F")
        every = max(1, len(series) // 8)
        for i in range(0, len(series), every):
            doc.text(x0 + i * step, y0 + height + 4, _latin1(series[i][0]))
    doc.set_y(y0 + height + 8)


def pdf_bytes(result: dict, currency: str) -> bytes:
    """The report on A4 landscape: its title and period, a bar chart of its main figure, the rows
    (money in major units) and their totals."""
    from hub.reports.queries import get_report

    report = get_report(result["report"])
    money = set(result["money"])
    doc = FPDF(orientation="L", format="A4")
    doc.set_auto_page_break(True, margin=12)
    doc.add_page()
    doc.set_title(_latin1(result["title"]))
    doc.set_font("Helvetica", "B", 15)
    doc.cell(0, 9, _latin1(result["title"]), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 9)
    scope = f"outlet {result['outlet_id']}" if result["outlet_id"] else "all outlets"
    doc.cell(
        0,
        5,
        _latin1(
            f"{scope}, {_cell(result['from'])} to {_cell(result['to'])}, by {result['by']} ({result['tz']}); "
            f"money in {currency}"
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    series = chart_series(result, report.chart)
    _chart(doc, series, f"{report.chart.replace('_', ' ')} per {result['by']}", report.chart in money)
    columns = result["columns"]
    rows = result["rows"][:MAX_PDF_ROWS]
    doc.set_font("Helvetica", "", 6.5)
    with doc.table(text_align="RIGHT", line_height=3.6, first_row_as_headings=True) as table:
        table.row([_latin1(c.replace("_", " ")) for c in columns])
        for row in rows:
            table.row([_latin1(_figure(c, row.get(c), money)) for c in columns])
        if result["totals"] is not None:
            table.row(
                [
                    "total",
                    *[""] * len(report.dims),
                    *[_figure(f, result["totals"][f], money) for f in report.figures],
                ]
            )
    if len(result["rows"]) > MAX_PDF_ROWS:
        doc.set_font("Helvetica", "I", 8)
        doc.cell(
            0, 6, f"{len(result['rows']) - MAX_PDF_ROWS} more rows in the CSV", new_x="LMARGIN", new_y="NEXT"
        )
    if not result["rows"]:
        doc.set_font("Helvetica", "I", 9)
        doc.cell(0, 6, "Nothing was booked in this period.", new_x="LMARGIN", new_y="NEXT")
    return bytes(doc.output())

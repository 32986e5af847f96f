"""Generic tabular documents (expenses and payments reports) in PDF and XLSX from one column list."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from reports.common import hms, rub, words
from reports.pdf import html_to_pdf, render_html
from reports.xlsx import Column, write_xlsx_table


def _cell(c: Column, row: Any) -> str:
    v = c.get(row)
    if c.kind == "money":
        return rub(v)
    if c.kind == "duration":
        return hms(v)
    return "" if v is None else str(v)


def table_pdf(title: str, columns: Sequence[Column], rows: Sequence[Any], *, subtitle: Sequence[str] = (),
              totals_label: str = "Итого", words_for: str | None = None, landscape: bool = False) -> bytes:
    """A titled table with a totals row as PDF; ``words_for`` names a money column to spell out."""
    rows = list(rows)
    sums = {c.header: sum(c.get(r) for r in rows) for c in columns if c.total}
    total_words = words(sums[words_for]) if words_for else ""
    html = render_html("table.html", title=title, subtitle=list(subtitle), columns=columns, rows=rows,
                       cell=_cell, totals_label=totals_label, total_words=total_words,
                       total_cell=lambda c: _cell(Column(c.header, lambda _: sums[c.header], c.kind), None))
    return html_to_pdf(html, landscape=landscape)


def table_xlsx(title: str, columns: Sequence[Column], rows: Iterable[Any], *, subtitle: Sequence[str] = (),
               sheet: str = "Отчёт") -> bytes:
    return write_xlsx_table(title, columns, rows, subtitle=subtitle, sheet=sheet)

"""Spreadsheet helpers: XLSX through xlsxwriter (``constant_memory`` for big files) and legacy XLS
through xlwt.

Money cells hold roubles as numbers with a ``# ##0.00`` format (accountants sum them); the value
written is ``kopecks / 100`` computed exactly (``Decimal``) and converted only at the cell, so
every written amount prints exactly. Totals are written as ``SUM`` formulas *with* their cached
value (computed from the integer kopecks), so readers that do not evaluate formulas (openpyxl,
previewers) show the right number.

XLS (BIFF8, Excel 97–2003) is written with ``xlwt`` (the only writer of the old binary format in
Python; stable, unchanged since 2017, pure Python). A sheet holds at most 65 536 rows, so long
tables continue on further sheets.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable, Sequence

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

MONEY_FORMAT = "#,##0.00"
XLS_MAX_ROWS = 65536


def kop_to_number(kopecks: int) -> float:
    """Roubles for a spreadsheet cell (the float is the exact shortest repr of the 2-decimal value)."""
    return float(Decimal(kopecks) / 100)


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: header, how to get the cell value from a row, its kind and width."""

    header: str
    get: Callable[[Any], Any]
    kind: str = "text"   # text | int | money (value in kopecks) | datetime (value is a string) | duration
    width: int = 14
    total: bool = False  # sum this column in the totals row


def write_xlsx_table(title: str, columns: Sequence[Column], rows: Iterable[Any], *,
                     subtitle: Sequence[str] = (), sheet: str = "Sheet1",
                     totals_label: str = "Итого") -> bytes:
    """A one-sheet workbook: title lines, a header, the rows and a totals row. Returns bytes.

    Streams rows with ``constant_memory`` (rows are written in order and flushed), so 100 000
    rows take a few MB of memory.
    """
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "in_memory": False})
    bold = wb.add_format({"bold": True})
    head = wb.add_format({"bold": True, "bg_color": "#EEEEEE", "border": 1, "text_wrap": True})
    money = wb.add_format({"num_format": MONEY_FORMAT})
    money_b = wb.add_format({"num_format": MONEY_FORMAT, "bold": True})
    ws = wb.add_worksheet(sheet[:31])
    for i, col in enumerate(columns):
        ws.set_column(i, i, col.width)
    r = 0
    ws.write_string(r, 0, title, bold)
    r += 1
    for line in subtitle:
        ws.write_string(r, 0, line)
        r += 1
    r += 1
    for i, col in enumerate(columns):
        ws.write_string(r, i, col.header, head)
    header_row = r
    r += 1
    sums = [0] * len(columns)
    for row in rows:
        for i, col in enumerate(columns):
            v = col.get(row)
            if col.kind == "money":
                ws.write_number(r, i, kop_to_number(v), money)
            elif col.kind in ("int", "duration"):
                ws.write_number(r, i, v)
            elif v is None:
                pass
            else:
                ws.write_string(r, i, str(v))
            if col.total:
                sums[i] += v
        r += 1
    first, last = header_row + 1, r - 1
    ws.write_string(r, 0, totals_label, bold)
    for i, col in enumerate(columns):
        if not col.total:
            continue
        rng = f"{xl_rowcol_to_cell(first, i)}:{xl_rowcol_to_cell(max(first, last), i)}"
        if col.kind == "money":
            ws.write_formula(r, i, f"=SUM({rng})", money_b, kop_to_number(sums[i]))
        else:
            ws.write_formula(r, i, f"=SUM({rng})", bold, sums[i])
    wb.close()
    return buf.getvalue()


def write_xls_table(title: str, columns: Sequence[Column], rows: Iterable[Any], *,
                    subtitle: Sequence[str] = (), sheet: str = "Sheet", totals_label: str = "Итого") -> bytes:
    """The same table as legacy XLS (xlwt); continues on ``sheet 2``, ``sheet 3``… past 65 536 rows.

    The totals row (values, not formulas: formulas across sheets are fragile in BIFF) is on the
    last sheet.
    """
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    bold = xlwt.easyxf("font: bold on")
    head = xlwt.easyxf("font: bold on; pattern: pattern solid, fore_colour gray25; borders: left thin, right thin, top thin, bottom thin")
    money = xlwt.easyxf(num_format_str=MONEY_FORMAT)
    money_b = xlwt.easyxf("font: bold on", num_format_str=MONEY_FORMAT)
    sums = [0] * len(columns)
    state = {"ws": None, "r": 0, "n": 0}

    def new_sheet():
        state["n"] += 1
        name = sheet if state["n"] == 1 else f"{sheet} {state['n']}"
        ws = wb.add_sheet(name[:31])
        for i, col in enumerate(columns):
            ws.col(i).width = 256 * col.width
        r = 0
        if state["n"] == 1:
            ws.write(r, 0, title, bold)
            r += 1
            for line in subtitle:
                ws.write(r, 0, line)
                r += 1
            r += 1
        for i, col in enumerate(columns):
            ws.write(r, i, col.header, head)
        state["ws"], state["r"] = ws, r + 1

    new_sheet()
    for row in rows:
        if state["r"] >= XLS_MAX_ROWS - 1:  # keep one row free for the totals
            new_sheet()
        ws, r = state["ws"], state["r"]
        for i, col in enumerate(columns):
            v = col.get(row)
            if col.kind == "money":
                ws.write(r, i, kop_to_number(v), money)
            elif v is not None:
                ws.write(r, i, v if col.kind in ("int", "duration") else str(v))
            if col.total:
                sums[i] += v
        state["r"] = r + 1
    ws, r = state["ws"], state["r"]
    ws.write(r, 0, totals_label, bold)
    for i, col in enumerate(columns):
        if col.total:
            ws.write(r, i, kop_to_number(sums[i]) if col.kind == "money" else sums[i],
                     money_b if col.kind == "money" else bold)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

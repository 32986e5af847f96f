"""Spreadsheet helpers: XLSX through xlsxwriter (``constant_memory`` for big files) and legacy XLS
through xlwt.

Money cells hold roubles as numbers with a ``# ##0.00`` format (accountants sum them); the value
written is ``kopecks / 100`` (correctly rounded), so every written amount prints exactly. Totals are written as ``SUM`` formulas *with* their cached
value (computed from the integer kopecks), so readers that do not evaluate formulas (openpyxl,
previewers) show the right number.

Two XLSX writers with the same signature: :func:`write_xlsx_table` (xlsxwriter with
``constant_memory``; small and medium reports) and :func:`stream_xlsx_table`, a minimal
streaming SpreadsheetML writer for the call detail: xlsxwriter spends ~25 µs per cell in Python
(100 000 calls × 7 columns ≈ 12 s of CPU), the streaming writer one f-string per row (≈ 1 s).
Both write the same styles, the same cells and a ``SUM`` totals row with cached values.

XLS (BIFF8, Excel 97–2003) is written with ``xlwt`` (the only writer of the old binary format in
Python; stable, unchanged since 2017, pure Python). A sheet holds at most 65 536 rows, so long
tables continue on further sheets.
"""
from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape as _xml_escape
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from pult import clock

MONEY_FORMAT = "#,##0.00"
XLS_MAX_ROWS = 65536


def kop_to_number(kopecks: int) -> float:
    """Roubles for a spreadsheet cell.

    ``int / 100`` is correctly rounded, so the result is the double nearest to the exact
    two-decimal amount (the same as ``float("12.34")``) and prints as that amount. Only cell
    values are floats; amounts are summed as integers (totals come from the kopecks).
    """
    return kopecks / 100


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


# ---------------------------------------------------------------- streaming XLSX

_CTRL = {c: None for c in range(32) if c not in (9, 10, 13)}

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>"""
_WB_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"""
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><numFmts count="1"><numFmt numFmtId="164" formatCode="#,##0.00"/></numFmts><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFEEEEEE"/><bgColor indexed="64"/></patternFill></fill></fills><borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border><left style="thin"/><right style="thin"/><top style="thin"/><bottom style="thin"/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/><xf numFmtId="0" fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment wrapText="1"/></xf><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="164" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>"""
_S_BOLD, _S_HEAD, _S_MONEY, _S_MONEY_B = 1, 2, 3, 4


def _col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


def _xs(value: Any) -> str:
    return _xml_escape(str(value).translate(_CTRL))


def stream_xlsx_table(title: str, columns: Sequence[Column], rows: Iterable[Any], *,
                      subtitle: Sequence[str] = (), sheet: str = "Sheet1",
                      totals_label: str = "Итого") -> bytes:
    """Same output as :func:`write_xlsx_table`, written as a stream of XML rows into the zip."""
    letters = [_col_letter(i) for i in range(len(columns))]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr("[Content_Types].xml", _CONTENT_TYPES)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/_rels/workbook.xml.rels", _WB_RELS)
        zf.writestr("xl/styles.xml", _STYLES)
        zf.writestr("xl/workbook.xml",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
                    f'<sheets><sheet name="{_xs(sheet[:31])}" sheetId="1" r:id="rId1"/></sheets></workbook>')
        now = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        zf.writestr("docProps/core.xml",
                    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
                    f'<dc:title>{_xs(title)}</dc:title><dc:creator>Pult</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">{now}</dcterms:created></cp:coreProperties>')
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            w = out.write
            w('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><cols>')
            for i, col in enumerate(columns):
                w(f'<col min="{i + 1}" max="{i + 1}" width="{col.width}" customWidth="1"/>')
            w("</cols><sheetData>")
            r = 1
            w(f'<row r="{r}"><c r="A{r}" t="inlineStr" s="{_S_BOLD}"><is><t>{_xs(title)}</t></is></c></row>')
            for line in subtitle:
                r += 1
                w(f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{_xs(line)}</t></is></c></row>')
            r += 2
            w(f'<row r="{r}">' + "".join(
                f'<c r="{letters[i]}{r}" t="inlineStr" s="{_S_HEAD}"><is><t>{_xs(c.header)}</t></is></c>'
                for i, c in enumerate(columns)) + "</row>")
            first = r + 1
            sums = [0] * len(columns)
            kinds = [c.kind for c in columns]
            getters = [c.get for c in columns]
            totals = [i for i, c in enumerate(columns) if c.total]
            n = len(columns)
            for row in rows:
                r += 1
                cells = []
                for i in range(n):
                    v = getters[i](row)
                    k = kinds[i]
                    if k == "money":
                        cells.append(f'<c r="{letters[i]}{r}" s="{_S_MONEY}"><v>{v / 100!r}</v></c>')
                    elif k == "int" or k == "duration":
                        cells.append(f'<c r="{letters[i]}{r}"><v>{int(v)}</v></c>')
                    elif v is not None and v != "":
                        cells.append(f'<c r="{letters[i]}{r}" t="inlineStr"><is><t>{_xs(v)}</t></is></c>')
                for i in totals:
                    sums[i] += getters[i](row)
                w(f'<row r="{r}">{"".join(cells)}</row>')
            last = max(first, r)
            r += 1
            cells = [f'<c r="A{r}" t="inlineStr" s="{_S_BOLD}"><is><t>{_xs(totals_label)}</t></is></c>']
            for i in totals:
                L = letters[i]
                value = repr(sums[i] / 100) if kinds[i] == "money" else str(sums[i])
                style = _S_MONEY_B if kinds[i] == "money" else _S_BOLD
                cells.append(f'<c r="{L}{r}" s="{style}"><f>SUM({L}{first}:{L}{last})</f><v>{value}</v></c>')
            w(f'<row r="{r}">{"".join(cells)}</row></sheetData></worksheet>')
            out.flush()
            out.detach()
    return buf.getvalue()

"""Call detail («Детализация») for a period in PDF (default), XLS, XLSX and TXT (inventory A §2.1.4).

Columns: date/time, caller, callee, direction/zone, duration, billed seconds, cost; a totals row
(count, duration, billed seconds, cost). Rows may be any iterable (a cursor over call records
mapped with :func:`row_from_record`): XLSX, XLS and TXT stream them; PDF renders chunks of
``chunk_rows`` rows in parallel wkhtmltopdf processes and merges them (the totals go in the last
chunk), so 100 000 calls neither need one giant HTML page nor one giant wkhtmltopdf process.

Generation is refused on the 1st of a month (:func:`reports.common.check_call_detail_allowed`);
the Celery task calls it with the PBX-local time before rendering.

TXT format (UTF-8, tab-separated, one call per line; lines starting with ``#`` are the title,
the column header and the totals)::

    # Детализация звонков; лицевой счёт 100001; период 01.11.2025–30.11.2025
    # started_at	caller	callee	direction	zone	duration_s	billed_s	cost_rub
    2025-11-03 10:00:05	+74951234567	+79161234567	outbound	mobile	65	120	3.80
    # total	1 calls	65	120	3.80
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Iterator

from xml.sax.saxutils import escape as _xml_escape

from pult.i18n import N_
from pult.money import amount_in_words_ru, format_rub
from reports.common import DocumentError, dt, hms, template_helpers
from reports.pdf import html_chunks_to_pdf, render_html
from reports.xlsx import Column, stream_xlsx_table, write_xls_table

FORMATS = ("pdf", "xls", "xlsx", "txt")
CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "txt": "text/plain; charset=utf-8",
}
DIRECTION_RU = {"outbound": "Исходящий", "inbound": "Входящий", "internal": "Внутренний"}
ZONE_RU = {"local": "местный", "mobile": "мобильный", "long_distance": "междугородный",
           "international": "международный", "service": "служебный", "free": "бесплатный",
           "trunk": "через SIP-транк", "internal": "", "inbound": ""}


@dataclass(frozen=True, slots=True)
class CallRow:
    started_at: datetime
    caller: str
    callee: str
    direction: str      # outbound | inbound | internal
    zone: str           # rating zone (or "" / direction for unrated)
    duration: int       # talk seconds
    billed: int         # rated seconds
    cost: int           # kopecks
    destination_name: str = ""


@dataclass(frozen=True, slots=True)
class Header:
    account_id: int | str
    since: date
    until: date
    generated_at: datetime
    account_name: str = ""
    pbx_name: str = ""


@dataclass(slots=True)
class Totals:
    count: int = 0
    duration: int = 0
    billed: int = 0
    cost: int = 0

    def add(self, r: CallRow) -> None:
        self.count += 1
        self.duration += r.duration
        self.billed += r.billed
        self.cost += r.cost


def row_from_record(rec: dict) -> CallRow:
    """Map a stored call record (``start``, ``caller``, ``destination``, ``direction``, ``billsec``,
    ``rated: {zone, rated_seconds, cost}``) to a row; missing rating means a free call."""
    rated = rec.get("rated") or {}
    # the PBX's view of the call (billing's: a phone's call out is outbound) over the switch's
    # view of its first channel (a phone's channel comes *into* the switch: inbound)
    return CallRow(rec.get("start") or rec.get("started_at"), str(rec.get("caller") or ""),
                   str(rec.get("destination") or rec.get("callee") or ""),
                   rated.get("direction") or rec.get("direction") or "",
                   rated.get("zone") or rec.get("zone") or "", int(rec.get("billsec") or 0),
                   int(rated.get("rated_seconds") or 0), int(rated.get("cost") or rec.get("cost") or 0),
                   rated.get("destination_name") or "")


def label(r: CallRow) -> str:
    """«Исходящий / мобильный»."""
    direction = DIRECTION_RU.get(r.direction, r.direction)
    zone = r.destination_name or ZONE_RU.get(r.zone, r.zone)
    return f"{direction} / {zone}" if zone else direction


COLUMNS = (
    Column("Дата и время", lambda r: dt(r.started_at), width=19),
    Column("Кто звонил", lambda r: r.caller, width=18),
    Column("Куда звонили", lambda r: r.callee, width=18),
    Column("Направление", label, width=26),
    Column("Длительность, с", lambda r: r.duration, "duration", width=12, total=True),
    Column("Тарифицировано, с", lambda r: r.billed, "int", width=12, total=True),
    Column("Стоимость, руб.", lambda r: r.cost, "money", width=14, total=True),
)


def _subtitle(h: Header) -> list[str]:
    lines = [f"Лицевой счёт № {h.account_id}" + (f", {h.account_name}" if h.account_name else "")]
    if h.pbx_name:
        lines.append(f"ВАТС: {h.pbx_name}")
    lines.append(f"Период: с {h.since:%d.%m.%Y} по {h.until:%d.%m.%Y}")
    lines.append(f"Сформировано: {dt(h.generated_at)}")
    return lines


def call_detail_xlsx(header: Header, rows: Iterable[CallRow]) -> bytes:
    return stream_xlsx_table("Детализация звонков", COLUMNS, rows, subtitle=_subtitle(header),
                             sheet="Детализация")


def call_detail_xls(header: Header, rows: Iterable[CallRow]) -> bytes:
    return write_xls_table("Детализация звонков", COLUMNS, rows, subtitle=_subtitle(header),
                           sheet="Детализация")


def _txt_cell(value: Any) -> str:
    return str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")


def _rub_plain(kop: int) -> str:
    return format_rub(kop, sep="", decimal=".")


def call_detail_txt(header: Header, rows: Iterable[CallRow]) -> bytes:
    out = [f"# Детализация звонков; лицевой счёт {_txt_cell(header.account_id)}; период "
           f"{header.since:%d.%m.%Y}–{header.until:%d.%m.%Y}; сформировано {dt(header.generated_at)}",
           "# started_at\tcaller\tcallee\tdirection\tzone\tduration_s\tbilled_s\tcost_rub"]
    t = Totals()
    for r in rows:
        t.add(r)
        out.append("\t".join((r.started_at.strftime("%Y-%m-%d %H:%M:%S"), _txt_cell(r.caller),
                              _txt_cell(r.callee), r.direction, r.zone, str(r.duration), str(r.billed),
                              _rub_plain(r.cost))))
    out.append(f"# total\t{t.count} calls\t{t.duration}\t{t.billed}\t{_rub_plain(t.cost)}")
    return ("\n".join(out) + "\n").encode("utf-8")


#: PDF layout: one monospaced line per call, a fixed number of lines per page with the column
#: header repeated on each page. wkhtmltopdf lays a ``<pre>`` block out 4-5x faster than a table
#: of the same rows (no cell boxes, borders or auto column widths), which is what makes 100 000
#: calls fit in a minute on two cores.
LINES_PER_PAGE = 76
PDF_OPTIONS = {"disable-smart-shrinking": "", "margin-top": "10mm", "margin-bottom": "10mm"}
_W = (19, 16, 16, 26, 9, 9, 13)  # column widths in characters
_PDF_HEAD = ("Дата и время", "Кто звонил", "Куда звонили", "Направление", "Длит.", "Тариф., с", "Стоим., руб.")
_PDF_CSS = ('body{margin:0}pre{font-family:"DejaVu Sans Mono",monospace;font-size:7.5pt;line-height:1.3;'
            'margin:0}pre.p{page-break-after:always}h1{font-family:"DejaVu Sans",sans-serif;font-size:13pt;'
            'margin:0 0 6px}p,td{font-family:"DejaVu Sans",sans-serif;font-size:9pt}table{margin-bottom:8px}'
            'td{padding:1px 6px 1px 0}')


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _line(values: tuple) -> str:
    a, b, c, d, e, f, g = values
    return (f"{_fit(a, _W[0]):<{_W[0]}} {_fit(b, _W[1]):<{_W[1]}} {_fit(c, _W[2]):<{_W[2]}} "
            f"{_fit(d, _W[3]):<{_W[3]}} {e:>{_W[4]}} {f:>{_W[5]}} {g:>{_W[6]}}")


_HEAD_LINE = "<b>" + _xml_escape(_line(_PDF_HEAD)) + "</b>"


def _pdf_page(rows: list) -> str:
    lines = [_HEAD_LINE]
    lines += [_xml_escape(_line((dt(r.started_at), r.caller, r.callee, label(r), hms(r.duration), str(r.billed),
                                 format_rub(r.cost, sep=" ")))) for r in rows]
    return '<pre class="p">' + "\n".join(lines) + "</pre>"


def _pdf_document(header: Header | None, rows: list, totals: Totals | None) -> str:
    out = ['<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>Детализация звонков</title>'
           f"<style>{_PDF_CSS}</style></head><body>"]
    if header is not None:
        out.append(render_html("call_detail_head.html", h=header, **template_helpers()))
    for i in range(0, len(rows), LINES_PER_PAGE):
        out.append(_pdf_page(rows[i:i + LINES_PER_PAGE]))
    if totals is not None:
        total = _line((f"Итого: звонков {totals.count}", "", "", "", hms(totals.duration), str(totals.billed),
                       format_rub(totals.cost, sep=" ")))
        out.append(f"<pre><b>{_xml_escape(total)}</b></pre><p>Итого к оплате за период: <b>"
                   f"{_xml_escape(format_rub(totals.cost))} руб.</b> ({_xml_escape(amount_in_words_ru(totals.cost))})</p>")
    out.append("</body></html>")
    return "".join(out)


def _pdf_chunks(header: Header, rows: Iterable[CallRow], chunk_rows: int) -> Iterator[str]:
    """Complete HTML documents of ``chunk_rows`` calls each (whole pages); the heading goes in
    the first, the totals in the last."""
    chunk_rows = max(LINES_PER_PAGE, chunk_rows - chunk_rows % LINES_PER_PAGE)
    totals = Totals()
    it = iter(rows)
    first = True
    pending: list[CallRow] | None = None
    while True:
        chunk = []
        for r in it:
            totals.add(r)
            chunk.append(r)
            if len(chunk) >= chunk_rows:
                break
        if pending is not None:
            yield _pdf_document(header if first else None, pending, None if chunk else totals)
            first = False
        if not chunk:
            if pending is None:  # no calls at all: one page with a zero total
                yield _pdf_document(header, [], totals)
            return
        pending = chunk


def call_detail_pdf(header: Header, rows: Iterable[CallRow], *, chunk_rows: int = 2280,
                    workers: int | None = None) -> bytes:
    return html_chunks_to_pdf(_pdf_chunks(header, rows, chunk_rows), workers=workers, options=PDF_OPTIONS)


def render_call_detail(fmt: str, header: Header, rows: Iterable[CallRow], **kw) -> bytes:
    """Render in ``fmt`` (pdf, xls, xlsx, txt); :class:`DocumentError` for an unknown format."""
    fmt = (fmt or "pdf").lower()
    if fmt not in FORMATS:
        raise DocumentError(N_("Unknown call detail format %(format)s: choose PDF, XLS, XLSX or TXT."), format=repr(fmt))
    if header.until < header.since:
        raise DocumentError(N_("The period end is before its start."))
    return {"pdf": call_detail_pdf, "xls": call_detail_xls, "xlsx": call_detail_xlsx,
            "txt": call_detail_txt}[fmt](header, rows, **kw)


__all__ = ["FORMATS", "CONTENT_TYPES", "CallRow", "Header", "Totals", "row_from_record", "label",
           "call_detail_pdf", "call_detail_xls", "call_detail_xlsx", "call_detail_txt",
           "render_call_detail", "hms"]

"""Call detail, expenses and payments spreadsheets/text read back and checked (no wkhtmltopdf)."""
import io
from datetime import date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
import xlrd

from reports.call_detail import (
    CallRow, Header, call_detail_txt, call_detail_xls, call_detail_xlsx, label, render_call_detail,
    row_from_record,
)
from reports.common import DocumentError, check_call_detail_allowed, hms
from reports.expenses import aggregate_expenses, expenses_xlsx
from reports.payments import payments_xlsx
from reports.pdf import render_string

HEADER = Header(100001, date(2025, 11, 1), date(2025, 11, 30), datetime(2025, 12, 2, 9, 30), "ООО «Ромашка»")


def make_rows(n):
    t0 = datetime(2025, 11, 2, 8, 0)
    zones = ["local", "mobile", "international", "free"]
    return [CallRow(t0 + timedelta(minutes=7 * i), "+74951234567", f"+7916{i:07d}",
                    "outbound" if i % 5 else "inbound", zones[i % 4], 13 * i % 700, 60 * (13 * i % 700 // 60 + 1),
                    (i * 137) % 5000, "Германия" if zones[i % 4] == "international" else "")
            for i in range(n)]


def money(kop):
    return Decimal(kop) / 100


def test_xlsx_totals_equal_sum_of_rows():
    rows = make_rows(250)
    wb = openpyxl.load_workbook(io.BytesIO(call_detail_xlsx(HEADER, rows)))
    ws = wb.active
    values = list(ws.iter_rows(values_only=True))
    assert values[0][0] == "Детализация звонков"
    assert any("ООО «Ромашка»" in str(v[0]) for v in values[:6])
    hdr = next(i for i, v in enumerate(values) if v[0] == "Дата и время")
    body, total = values[hdr + 1:-1], values[-1]
    assert len(body) == 250 and total[0] == "Итого"
    assert body[0][1] == "+74951234567" and body[2][3] == "Исходящий / Германия"
    assert sum(Decimal(str(r[6])) for r in body) == money(sum(r.cost for r in rows))
    assert sum(r[5] for r in body) == sum(r.billed for r in rows)
    # the totals cell is a SUM formula; its cached value is checked through a data-only load
    wb2 = openpyxl.load_workbook(io.BytesIO(call_detail_xlsx(HEADER, rows)), data_only=True)
    cached = list(wb2.active.iter_rows(values_only=True))[-1]
    assert Decimal(str(cached[6])) == money(sum(r.cost for r in rows))
    assert cached[4] == sum(r.duration for r in rows)
    assert str(total[6]).startswith("=SUM(G")


def test_xls_read_back_with_xlrd():
    rows = make_rows(120)
    book = xlrd.open_workbook(file_contents=call_detail_xls(HEADER, rows))
    sh = book.sheet_by_index(0)
    cells = [sh.row_values(i) for i in range(sh.nrows)]
    hdr = next(i for i, v in enumerate(cells) if v[0] == "Дата и время")
    body, total = cells[hdr + 1:-1], cells[-1]
    assert len(body) == 120 and total[0] == "Итого"
    assert round(Decimal(str(total[6])), 2) == money(sum(r.cost for r in rows))
    assert sum(round(Decimal(str(r[6])), 2) for r in body) == money(sum(r.cost for r in rows))
    assert body[1][2] == "+79160000001"


def test_xls_continues_on_new_sheets_past_the_row_limit(monkeypatch):
    import reports.xlsx
    monkeypatch.setattr(reports.xlsx, "XLS_MAX_ROWS", 50)  # the real limit is 65 536; same code path
    rows = [CallRow(datetime(2025, 11, 2), "1", str(i), "internal", "", 1, 0, 1) for i in range(100)]
    book = xlrd.open_workbook(file_contents=call_detail_xls(HEADER, rows))
    assert book.nsheets == 3
    sheets = [book.sheet_by_index(i) for i in range(3)]
    assert all(s.nrows <= 50 for s in sheets)
    numbers = [s.row_values(r)[2] for s in sheets for r in range(s.nrows)
               if s.row_values(r)[0].startswith("02.11.2025")]
    assert numbers == [str(i) for i in range(100)]          # every row once, in order
    assert sheets[1].row_values(0)[0] == "Дата и время"      # header repeated on each sheet
    last = sheets[2].row_values(sheets[2].nrows - 1)
    assert last[0] == "Итого" and last[6] == pytest.approx(1.0) and last[4] == 100


def test_txt_parses_back():
    rows = make_rows(40) + [CallRow(datetime(2025, 11, 3), "a\tb", "x\ny", "outbound", "local", 5, 60, 120)]
    text = call_detail_txt(HEADER, rows).decode("utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# Детализация звонков; лицевой счёт 100001")
    data = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert len(data) == 41 and all(len(d) == 8 for d in data)
    assert data[-1][1:3] == ["a b", "x y"]          # tabs/newlines in values cannot break the format
    total = lines[-1].split("\t")
    assert total[0] == "# total" and total[1] == "41 calls"
    assert Decimal(total[4]) == sum(Decimal(d[7]) for d in data) == money(sum(r.cost for r in rows))
    assert int(total[3]) == sum(int(d[6]) for d in data)


def test_row_from_record_and_labels():
    r = row_from_record({"start": datetime(2025, 11, 2, 10), "caller": "101", "destination": "+74951112233",
                         "direction": "outbound", "billsec": 61,
                         "rated": {"zone": "local", "rated_seconds": 120, "cost": 240}})
    assert (r.duration, r.billed, r.cost, label(r)) == (61, 120, 240, "Исходящий / местный")
    assert label(CallRow(datetime(2025, 1, 1), "", "", "internal", "", 0, 0, 0)) == "Внутренний"
    # a phone's call into the tenant's trunk: the switch saw the phone's channel come in, billing
    # says what the call was
    r = row_from_record({"start": datetime(2025, 11, 2, 10), "caller": "101", "callee": "8874991234567",
                         "direction": "inbound", "billsec": 30,
                         "rated": {"zone": "trunk", "direction": "outbound", "rated_seconds": 0, "cost": 0}})
    assert (r.direction, r.cost, label(r)) == ("outbound", 0, "Исходящий / через SIP-транк")
    assert hms(3725) == "1:02:05"


def test_unknown_format_and_reversed_period():
    with pytest.raises(DocumentError, match="XLS, XLSX or TXT"):
        render_call_detail("doc", HEADER, [])
    bad = Header(1, date(2025, 11, 30), date(2025, 11, 1), datetime(2025, 12, 1))
    with pytest.raises(DocumentError):
        render_call_detail("txt", bad, [])


def test_call_detail_refused_on_the_first():
    with pytest.raises(DocumentError) as exc:
        check_call_detail_allowed(datetime(2025, 12, 1, 0, 0))
    assert "1-го числа" in exc.value.message_ru and "02.12.2025" in exc.value.message_ru
    assert "1st of the month" in exc.value.message_en
    with pytest.raises(DocumentError):
        check_call_detail_allowed(datetime(2025, 12, 1, 23, 59, 59))
    check_call_detail_allowed(datetime(2025, 12, 2, 0, 0))
    check_call_detail_allowed(datetime(2025, 11, 30, 23, 59))


def test_expenses_by_months_and_destinations():
    rows = make_rows(100) + [CallRow(datetime(2025, 12, 5), "1", "2", "outbound", "local", 60, 60, 500)]
    fees = [{"created_at": datetime(2025, 11, 1), "amount": -99000, "kind": "fee"}]
    months = aggregate_expenses(rows, fees, by="months")
    assert [m.key for m in months] == ["2025-11", "2025-12"]
    assert months[0].fees == 99000 and months[1].calls == 1
    assert sum(m.total for m in months) == sum(r.cost for r in rows) + 99000
    dests = aggregate_expenses(rows, by="destinations")
    assert sum(x.calls for x in dests) == 101
    assert dests == sorted(dests, key=lambda x: -x.total)
    assert "Германия" in {x.label for x in dests}
    wb = openpyxl.load_workbook(io.BytesIO(expenses_xlsx(1, date(2025, 11, 1), date(2025, 12, 31), months)),
                                data_only=True)
    vals = list(wb.active.iter_rows(values_only=True))
    assert Decimal(str(vals[-1][5])) == money(sum(m.total for m in months))
    with pytest.raises(DocumentError):
        aggregate_expenses(rows, by="weeks")


def test_payments_xlsx():
    entries = [{"created_at": datetime(2025, 11, d), "amount": 1000 * d + 1, "key": f"payment:pp-{d}",
                "kind": "payment", "comment": "п/п", "meta": {"source": "bank"}} for d in (3, 9, 20)]
    wb = openpyxl.load_workbook(io.BytesIO(payments_xlsx(1, date(2025, 11, 1), date(2025, 11, 30), entries)),
                                data_only=True)
    vals = list(wb.active.iter_rows(values_only=True))
    body = [v for v in vals if v[3] and str(v[3]).startswith("pp-")]
    assert [b[2] for b in body] == ["Банк"] * 3
    assert Decimal(str(vals[-1][1])) == money(sum(e["amount"] for e in entries))


def test_templates_escape_user_data():
    html = render_string("<p>{{ name }}</p>", name='<img src="http://evil/x"><script>alert(1)</script>')
    assert "<img" not in html and "&lt;img src=&quot;http://evil/x&quot;&gt;" in html


def test_streamed_xlsx_escapes_text_and_drops_control_characters():
    rows = [CallRow(datetime(2025, 11, 2), '<b>&"x"</b>', "a\x00\x07b", "outbound", "local", 1, 60, 5)]
    wb = openpyxl.load_workbook(io.BytesIO(call_detail_xlsx(HEADER, rows)), data_only=True)
    vals = list(wb.active.iter_rows(values_only=True))
    body = [v for v in vals if v[0] == "02.11.2025 00:00:00"]
    assert body[0][1:3] == ('<b>&"x"</b>', "ab")
    assert Decimal(str(vals[-1][6])) == Decimal("0.05")

"""PDF documents rendered by the real wkhtmltopdf and checked by extracting their text (pypdf),
and the renderer's sandbox: no network, no local files."""
import http.server
import io
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from pypdf import PdfReader

from reports.call_detail import CallRow, Header, call_detail_pdf
from reports.common import Requisites
from reports.expenses import aggregate_expenses, expenses_pdf
from reports.invoice import SUBJECT_NO_VAT, SUBJECT_VAT, invoice_pdf, prepayment_invoice
from reports.payments import payments_pdf
from reports.pdf import PdfError, html_to_pdf, render_string
from reports.reconciliation import act_from_entries, reconciliation_pdf

SUPPLIER = Requisites("ООО «Пульт Телеком»", "7701234567", "770101001", address="г. Москва, ул. Тверская, д. 1",
                      bank="ПАО «Банк»", bik="044525225", account="40702810900000000001",
                      corr_account="30101810400000000225")
BUYER = Requisites("ООО «Ромашка и Ёлка»", "7712345678", "771201001", address="г. Казань, ул. Щорса, 5")


def text_of(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def flat(s: str) -> str:
    return " ".join(s.replace("\xa0", " ").split())


def test_invoice_with_vat():
    inv = prepayment_invoice("2025-000017", date(2025, 11, 5), SUPPLIER, BUYER, 110000,
                             account_id=100001, with_vat=True, vat_rate=20)
    t = flat(text_of(invoice_pdf(inv)))
    assert "Счёт на оплату № 2025-000017 от «5» ноября 2025 г." in t
    assert SUBJECT_VAT in t
    assert "1 100,00" in t and "В том числе НДС (20%): 183,33" in t
    assert "Одна тысяча сто рублей 00 копеек" in t
    for value in ("7701234567", "770101001", "044525225", "40702810900000000001", "30101810400000000225",
                  "ООО «Ромашка и Ёлка»", "7712345678", "г. Казань, ул. Щорса, 5", "№ 100001"):
        assert value in t, value


def test_invoice_without_vat_other_rate_parameter():
    inv = prepayment_invoice("7", date(2025, 11, 5), SUPPLIER, BUYER, 2102, account_id=5, with_vat=False)
    t = flat(text_of(invoice_pdf(inv)))
    assert flat(SUBJECT_NO_VAT) in t and "Без налога (НДС)" in t and "НДС (" not in t
    assert "Двадцать один рубль 02 копейки" in t
    inv22 = prepayment_invoice("8", date(2026, 1, 12), SUPPLIER, BUYER, 12200, account_id=5, vat_rate=22)
    assert "В том числе НДС (22%): 22,00" in flat(text_of(invoice_pdf(inv22)))


def test_reconciliation_act():
    at = lambda d: datetime(2025, 11, d, 12, tzinfo=timezone.utc)  # noqa: E731
    entries = [
        {"created_at": at(3), "kind": "payment", "amount": 500000, "key": "payment:pp-15", "comment": "п/п № 15"},
        {"created_at": at(4), "kind": "call", "amount": -1234, "key": "call:a"},
        {"created_at": at(30), "kind": "fee", "amount": -99000, "key": "fee:2025-11:edition"},
    ]
    act = act_from_entries(100001, date(2025, 11, 1), date(2025, 11, 30), SUPPLIER, BUYER, -20000, entries)
    assert (act.debits, act.credits, act.closing) == (100234, 500000, 379766)
    t = flat(text_of(reconciliation_pdf(act)))
    assert "Акт сверки взаимных расчётов" in t and "с 01.11.2025 по 30.11.2025" in t
    assert "Сальдо начальное 200,00" in t
    assert "Оплата (п/п № 15) 5 000,00" in t
    assert "Услуги связи за ноябрь 2025 1 002,34" in t
    assert "Сальдо конечное 3 797,66" in t
    assert "Три тысячи семьсот девяносто семь рублей 66 копеек" in t


def test_call_detail_pdf_in_chunks_has_every_row_and_totals():
    t0 = datetime(2025, 11, 2, 9, 0)
    rows = [CallRow(t0 + timedelta(minutes=i), "+74951234567", f"+4930{i:06d}", "outbound", "international",
                    30 + i, 60 + i, 1500 + i, "Германия") for i in range(45)]
    header = Header(100001, date(2025, 11, 2), date(2025, 11, 30), datetime(2025, 12, 2, 9), "ООО «Ромашка»")
    pdf = call_detail_pdf(header, rows, chunk_rows=20, workers=2)   # 3 chunks merged
    reader = PdfReader(io.BytesIO(pdf))
    t = flat("\n".join(p.extract_text() for p in reader.pages))
    assert t.count("Детализация звонков") == 1
    for i in range(45):
        assert f"+4930{i:06d}" in t
    assert t.index("+4930000000") < t.index("+4930000021") < t.index("+4930000044")
    total = sum(r.cost for r in rows)
    assert "Итого: звонков 45" in t and f"{total // 100},{total % 100:02d}" in t
    assert "Исходящий / Германия" in t


def test_call_detail_pdf_without_calls():
    header = Header(1, date(2025, 11, 2), date(2025, 11, 30), datetime(2025, 12, 2, 9))
    t = flat(text_of(call_detail_pdf(header, [])))
    assert "Итого: звонков 0" in t and "Ноль рублей 00 копеек" in t


def test_expenses_and_payments_pdf():
    rows = [CallRow(datetime(2025, 11, 2), "1", "2", "outbound", "mobile", 60, 60, 190)] * 3
    lines = aggregate_expenses(rows, [{"created_at": datetime(2025, 11, 1), "amount": -99000}])
    t = flat(text_of(expenses_pdf(1, date(2025, 11, 1), date(2025, 11, 30), lines)))
    assert "Расходы на связь" in t and "ноябрь 2025" in t and "995,70" in t
    assert "Девятьсот девяносто пять рублей 70 копеек" in t
    pays = [{"created_at": datetime(2025, 11, 3, 10), "amount": 150050, "key": "payment:pp-1",
             "comment": "оплата <b>счёта</b>", "meta": {"source": "api"}}]
    t = flat(text_of(payments_pdf(1, date(2025, 11, 1), date(2025, 11, 30), pays)))
    assert "Платежи" in t and "1 500,50" in t and "оплата <b>счёта</b>" in t and "API" in t


# ----------------------------------------------------------------- sandbox

@pytest.fixture
def recorder():
    """A loopback HTTP server that records every request it gets."""
    hits = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"body{}")

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], hits
    srv.shutdown()
    srv.server_close()


def test_user_text_is_escaped_not_fetched(recorder):
    port, hits = recorder
    evil = f'<img src="http://127.0.0.1:{port}/user.png"><iframe src="file:///etc/passwd"></iframe>'
    inv = prepayment_invoice("1", date(2025, 11, 5), SUPPLIER, Requisites(evil, "1"), 100, account_id=1)
    t = flat(text_of(invoice_pdf(inv)))
    assert f"http://127.0.0.1:{port}/user.png" in t  # printed as text
    assert hits == []


def test_renderer_has_no_network_and_no_local_files(recorder, tmp_path):
    """Even raw markup (not escaped) cannot make wkhtmltopdf load anything."""
    port, hits = recorder
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-42")
    html = (f'<html><head><meta charset="utf-8"><link rel="stylesheet" href="http://127.0.0.1:{port}/a.css">'
            f'<link rel="stylesheet" href="http://localhost:{port}/b.css"></head><body>Текст '
            f'<img src="http://127.0.0.1:{port}/c.png"><img src="file:///etc/passwd">'
            f'<iframe src="file://{secret}"></iframe><object data="file://{secret}"></object>'
            f'<script>document.write("JS-RAN")</script></body></html>')
    pdf = html_to_pdf(html)
    t = text_of(pdf)
    assert "Текст" in t and "JS-RAN" not in t and "TOPSECRET" not in t and "root:" not in t
    assert b"TOPSECRET" not in pdf
    assert hits == []
    with pytest.raises(PdfError, match="network error"):
        html_to_pdf(html, strict=True)


def test_sandbox_options_cannot_be_weakened():
    for opt in ("enable-local-file-access", "allow", "proxy", "enable-javascript"):
        with pytest.raises(PdfError, match="sandbox"):
            html_to_pdf("<p>x</p>", options={opt: "/"})


def test_timeout_kills_the_renderer():
    with pytest.raises(PdfError, match="did not finish"):
        html_to_pdf(render_string("<p>{{ x }}</p>", x="y" * 10) * 20000, timeout=0.05)

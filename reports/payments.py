"""Payments report («Платежи», inventory A §2.3): payments of a period, XLSX and PDF.

Rows are ledger entries of kind ``payment`` (``jobs.billing.ledger.list_entries(..., kinds=("payment",))``).
"""
from __future__ import annotations

from datetime import date

from reports.common import dt
from reports.tables import table_pdf, table_xlsx
from reports.xlsx import Column

SOURCES_RU = {"operator": "Оператор", "api": "API", "bank": "Банк"}

COLUMNS = [
    Column("Дата", lambda e: dt(e["created_at"]), width=20),
    Column("Сумма, руб.", lambda e: e["amount"], "money", width=14, total=True),
    Column("Источник", lambda e: SOURCES_RU.get((e.get("meta") or {}).get("source"), (e.get("meta") or {}).get("source") or ""), width=12),
    Column("Документ", lambda e: e["key"].split(":", 1)[-1], width=22),
    Column("Комментарий", lambda e: e.get("comment") or "", width=30),
]


def _subtitle(account_id, since: date, until: date) -> list[str]:
    return [f"Лицевой счёт № {account_id}", f"Период: с {since:%d.%m.%Y} по {until:%d.%m.%Y}"]


def payments_xlsx(account_id, since: date, until: date, entries: list[dict]) -> bytes:
    return table_xlsx("Платежи", COLUMNS, entries, subtitle=_subtitle(account_id, since, until), sheet="Платежи")


def payments_pdf(account_id, since: date, until: date, entries: list[dict]) -> bytes:
    return table_pdf("Платежи", COLUMNS, entries, subtitle=_subtitle(account_id, since, until),
                     words_for="Сумма, руб.")

"""Communication expenses report («Расходы на связь», inventory A §2.2): by months (default) or by
destinations, in XLSX and PDF.

Input is the period's rated calls (:class:`reports.call_detail.CallRow`) and, for the by-months
view, the fee/service charges (ledger entries of kinds ``fee``/``service``), so a month shows
call costs and subscription fees side by side.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable

from pult.i18n import N_
from reports.call_detail import ZONE_RU, CallRow
from reports.common import DocumentError, month_name_ru
from reports.tables import table_pdf, table_xlsx
from reports.xlsx import Column

VIEWS = ("months", "destinations")


@dataclass(slots=True)
class ExpenseLine:
    key: str
    label: str
    calls: int = 0
    duration: int = 0
    calls_cost: int = 0
    fees: int = 0

    @property
    def total(self) -> int:
        return self.calls_cost + self.fees


def aggregate_expenses(calls: Iterable[CallRow], fees: Iterable[dict] = (), *, by: str = "months") -> list[ExpenseLine]:
    """Group calls (and, by months, fee entries) into report lines, sorted by month or by cost."""
    if by not in VIEWS:
        raise DocumentError(N_("Unknown grouping %(by)s: choose months or destinations."), by=repr(by))
    lines: dict[str, ExpenseLine] = {}
    for c in calls:
        if by == "months":
            key = f"{c.started_at.year:04d}-{c.started_at.month:02d}"
            lbl = month_name_ru(c.started_at.year, c.started_at.month)
        else:
            key = c.destination_name or c.zone or c.direction
            lbl = c.destination_name or ZONE_RU.get(c.zone) or c.zone or c.direction
        line = lines.setdefault(key, ExpenseLine(key, lbl))
        line.calls += 1
        line.duration += c.duration
        line.calls_cost += c.cost
    if by == "months":
        for f in fees:
            at = f["created_at"]
            key = f"{at.year:04d}-{at.month:02d}"
            line = lines.setdefault(key, ExpenseLine(key, month_name_ru(at.year, at.month)))
            line.fees += -f["amount"] if f["amount"] < 0 else f["amount"]
        return [lines[k] for k in sorted(lines)]
    return sorted(lines.values(), key=lambda ln: (-ln.total, ln.label))


def _columns(by: str) -> list[Column]:
    cols = [Column("Месяц" if by == "months" else "Направление", lambda r: r.label, width=24),
            Column("Звонков", lambda r: r.calls, "int", width=10, total=True),
            Column("Длительность", lambda r: r.duration, "duration", width=14, total=True),
            Column("Звонки, руб.", lambda r: r.calls_cost, "money", width=14, total=True)]
    if by == "months":
        cols += [Column("Абонентская плата и услуги, руб.", lambda r: r.fees, "money", width=18, total=True),
                 Column("Всего, руб.", lambda r: r.total, "money", width=14, total=True)]
    return cols


def _subtitle(account_id, since: date, until: date, by: str) -> list[str]:
    return [f"Лицевой счёт № {account_id}", f"Период: с {since:%d.%m.%Y} по {until:%d.%m.%Y}",
            "Показано: " + ("по месяцам" if by == "months" else "по направлениям")]


def expenses_xlsx(account_id, since: date, until: date, lines: list[ExpenseLine], *, by: str = "months") -> bytes:
    return table_xlsx("Расходы на связь", _columns(by), lines, subtitle=_subtitle(account_id, since, until, by),
                      sheet="Расходы")


def expenses_pdf(account_id, since: date, until: date, lines: list[ExpenseLine], *, by: str = "months") -> bytes:
    words_col = "Всего, руб." if by == "months" else "Звонки, руб."
    return table_pdf("Расходы на связь", _columns(by), lines, subtitle=_subtitle(account_id, since, until, by),
                     words_for=words_col)

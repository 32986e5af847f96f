"""Reconciliation act («Акт сверки взаимных расчётов») for a period (inventory A §2.1.3).

Built from ledger entries: opening balance (everything before the period), one debit row per
month of charges («Услуги связи за ноябрь 2025»), one credit row per payment, turnovers and the
closing balance, with the closing debt in words. Balance sign is the account's: positive means
the customer has paid in advance (the operator owes services), negative means a debt.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable

from reports.common import Requisites, check_period, month_name_ru, template_helpers
from reports.pdf import html_to_pdf, render_html


@dataclass(frozen=True, slots=True)
class ActRow:
    on: date
    document: str
    debit: int = 0   # kopecks charged
    credit: int = 0  # kopecks paid


@dataclass(frozen=True, slots=True)
class ReconciliationAct:
    account_id: int | str
    since: date
    until: date
    supplier: Requisites
    buyer: Requisites
    opening: int
    rows: tuple[ActRow, ...]

    @property
    def debits(self) -> int:
        return sum(r.debit for r in self.rows)

    @property
    def credits(self) -> int:
        return sum(r.credit for r in self.rows)

    @property
    def closing(self) -> int:
        return self.opening + self.credits - self.debits


def act_from_entries(account_id: int | str, since: date, until: date, supplier: Requisites,
                     buyer: Requisites, opening: int, entries: Iterable[dict]) -> ReconciliationAct:
    """Build the act from the period's ledger entries (``jobs.billing.ledger.list_entries``).

    Charges are grouped per calendar month (dated the month's last day in the period); payments,
    refunds and adjustments are listed one by one.
    """
    check_period(since, until)
    monthly: dict[tuple[int, int], list] = {}
    rows: list[ActRow] = []
    for e in entries:
        at = e["created_at"]
        on = at.date() if isinstance(at, datetime) else at
        amount = e["amount"]
        if e["kind"] in ("call", "fee", "service"):
            bucket = monthly.setdefault((on.year, on.month), [on, 0])
            bucket[0] = max(bucket[0], on)
            bucket[1] += -amount
        elif amount > 0:
            title = {"payment": "Оплата", "bonus": "Бонус"}.get(e["kind"], "Корректировка")
            ref = e.get("comment") or e["key"].split(":", 1)[-1]
            rows.append(ActRow(on, f"{title} ({ref})", credit=amount))
        elif amount < 0:
            title = {"refund": "Возврат средств"}.get(e["kind"], "Корректировка")
            rows.append(ActRow(on, f"{title} ({e.get('comment') or e['key']})", debit=-amount))
    for (y, m), (on, total) in monthly.items():
        if total:
            rows.append(ActRow(on, f"Услуги связи за {month_name_ru(y, m)}", debit=total))
    rows.sort(key=lambda r: (r.on, r.debit == 0))
    return ReconciliationAct(account_id, since, until, supplier, buyer, opening, tuple(rows))


def reconciliation_html(act: ReconciliationAct) -> str:
    return render_html("reconciliation.html", act=act, **template_helpers())


def reconciliation_pdf(act: ReconciliationAct) -> bytes:
    return html_to_pdf(reconciliation_html(act))

"""Payment receipt for individuals («Квитанция», inventory A §2.4.1.2): a bank form (ПД-4 layout,
«Извещение» and «Квитанция» halves) the payer prints and pays at any bank.

The payer types full name, address, amount and the payment date; the recipient is the operator
(its requisites from the platform settings), the purpose names the account so the payment can be
matched. Usage::

    r = Receipt(supplier, "Иванов Иван Иванович", "г. Казань, ул. Баумана, д. 1", 150000,
                date(2026, 3, 5), account_id=100001)
    pdf = receipt_pdf(r)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pult.i18n import N_
from pult.money import require_int
from reports.common import DocumentError, Requisites, template_helpers
from reports.invoice import MAX_INVOICE_KOPECKS
from reports.pdf import html_to_pdf, render_html

PURPOSE = "Оплата услуг связи по лицевому счёту № {account_id}"


@dataclass(frozen=True, slots=True)
class Receipt:
    supplier: Requisites
    payer_name: str
    payer_address: str
    amount: int          # kopecks
    pay_date: date
    account_id: int | str

    def __post_init__(self) -> None:
        require_int(self.amount, "receipt amount")
        if not 0 < self.amount <= MAX_INVOICE_KOPECKS:
            raise DocumentError(N_("The receipt amount must be greater than zero and not absurd."))
        if not self.payer_name.strip() or not self.payer_address.strip():
            raise DocumentError(N_("The payer's full name and address are required."))

    @property
    def purpose(self) -> str:
        return PURPOSE.format(account_id=self.account_id)


def receipt_html(r: Receipt) -> str:
    return render_html("receipt.html", r=r, **template_helpers())


def receipt_pdf(r: Receipt) -> bytes:
    return html_to_pdf(receipt_html(r))


__all__ = ["Receipt", "receipt_html", "receipt_pdf", "PURPOSE"]

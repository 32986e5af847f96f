"""Prepayment invoice («Счёт на оплату»), with or without VAT (inventory A §2.1.2, §2.4.1.1).

* With VAT (default): telecom services, subject «Предоплата за телекоммуникационные услуги»;
  the entered amount is the total payable and *includes* VAT at ``vat_rate`` (a platform
  setting, an int percent), extracted with half-up rounding.
* Without VAT: software use, subject «Ежемесячный фиксированный платеж за неисключительное право
  использования Программного продукта».

Usage::

    inv = prepayment_invoice("2025-000123", date.today(), supplier, buyer, 110000,
                             account_id=100001, with_vat=True, vat_rate=20)
    pdf = invoice_pdf(inv)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pult.i18n import N_
from pult.money import require_int, vat_included
from reports.common import DocumentError, Requisites, template_helpers
from reports.pdf import html_to_pdf, render_html

SUBJECT_VAT = "Предоплата за телекоммуникационные услуги"
SUBJECT_NO_VAT = ("Ежемесячный фиксированный платеж за неисключительное право использования "
                  "Программного продукта")
MAX_INVOICE_KOPECKS = 100_000_000_00  # 100 million roubles: a typo guard


@dataclass(frozen=True, slots=True)
class InvoiceItem:
    title: str
    price: int          # kopecks per unit, VAT included when the invoice has VAT
    quantity: int = 1
    unit: str = "усл."

    @property
    def amount(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Invoice:
    number: str
    date: date
    supplier: Requisites
    buyer: Requisites
    account_id: int | str
    items: tuple[InvoiceItem, ...]
    with_vat: bool = True
    vat_rate: int = 20
    valid_days: int = 5
    supplier_head: str = ""
    supplier_accountant: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(i.amount for i in self.items)

    @property
    def vat(self) -> int:
        return vat_included(self.total, self.vat_rate) if self.with_vat else 0


def prepayment_invoice(number: str, on: date, supplier: Requisites, buyer: Requisites, amount: int, *,
                       account_id: int | str, with_vat: bool = True, vat_rate: int = 20,
                       **extra) -> Invoice:
    """Build a one-line prepayment invoice for ``amount`` kopecks; validates the amount."""
    require_int(amount, "invoice amount")
    if amount <= 0:
        raise DocumentError(N_("The invoice amount must be greater than zero."))
    if amount > MAX_INVOICE_KOPECKS:
        raise DocumentError(N_("The invoice amount is too large."))
    if with_vat and not 0 < require_int(vat_rate, "VAT rate") <= 100:
        raise DocumentError(N_("VAT rate must be 1..100 %%, got %(rate)s."), rate=vat_rate)
    item = InvoiceItem(SUBJECT_VAT if with_vat else SUBJECT_NO_VAT, amount)
    return Invoice(number, on, supplier, buyer, account_id, (item,), with_vat, vat_rate, **extra)


def invoice_html(inv: Invoice) -> str:
    return render_html("invoice.html", inv=inv, **template_helpers())


def invoice_pdf(inv: Invoice) -> bytes:
    return html_to_pdf(invoice_html(inv))

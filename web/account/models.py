"""The account's requisites as a tenant edits them on the account panel (inventory A §2.6).

They are printed as the buyer on invoices and acts, so they get the same checks as the operator's
own (supplier) requisites: the INN with its check digits, KPP and BIK of 9 digits, bank accounts
of 20 digits (:mod:`jobs.billing.requisites`), and the OGRN of 13 (15 for a sole trader) digits.
Empty text clears a field."""
from __future__ import annotations

from pydantic import Field, field_validator

from web.api.models import Strict
from web.sections import N_

#: the editable fields, in the panel's order (labels are the operator console's)
FIELDS = ("inn", "kpp", "ogrn", "bik", "bank", "corr_account", "settlement_account", "legal_address",
          "postal_address")


def _check(check, value: str) -> str | None:
    """Run a ``jobs.billing.requisites`` check; its message id becomes this field's message."""
    from jobs.billing.requisites import RequisiteError

    try:
        return check(value)
    except RequisiteError as exc:
        raise ValueError(exc.message) from None


def _text(value: str) -> str | None:
    return " ".join((value or "").split()) or None


class AccountRequisitesIn(Strict):
    inn: str | None = Field(None, description="ИНН: 10 or 12 digits, check digits verified")
    kpp: str | None = Field(None, description="КПП: 9 digits")
    ogrn: str | None = Field(None, description="ОГРН: 13 digits (ОГРНИП: 15)")
    bik: str | None = Field(None, description="БИК: 9 digits")
    bank: str | None = Field(None, max_length=200)
    corr_account: str | None = Field(None, description="20 digits")
    settlement_account: str | None = Field(None, description="20 digits")
    legal_address: str | None = Field(None, max_length=500)
    postal_address: str | None = Field(None, max_length=500)

    @field_validator("inn")
    @classmethod
    def _inn(cls, v):
        from jobs.billing.requisites import check_inn
        return _check(check_inn, v)

    @field_validator("kpp")
    @classmethod
    def _kpp(cls, v):
        from jobs.billing.requisites import check_kpp
        return _check(check_kpp, v)

    @field_validator("bik")
    @classmethod
    def _bik(cls, v):
        from jobs.billing.requisites import check_bik
        return _check(check_bik, v)

    @field_validator("corr_account", "settlement_account")
    @classmethod
    def _account(cls, v):
        from jobs.billing.requisites import check_account
        return _check(check_account, v)

    @field_validator("ogrn")
    @classmethod
    def _ogrn(cls, v):
        v = "".join((v or "").split())
        if not v:
            return None
        if not v.isdigit() or len(v) not in (13, 15):
            raise ValueError(N_("The OGRN has 13 digits (15 for a sole trader)."))
        return v

    @field_validator("bank", "legal_address", "postal_address")
    @classmethod
    def _texts(cls, v):
        return _text(v)

"""The account's requisites as a tenant edits them on the account panel (inventory A §2.6).

They are printed as the buyer on invoices and acts, so they get the same checks as the operator's
own (supplier) requisites: the INN with its check digits, KPP and BIK of 9 digits, bank accounts
of 20 digits (:mod:`jobs.billing.requisites`), and the OGRN of 13 (15 for a sole trader) digits.
Empty text clears a field."""
from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from jobs.billing.requisites import check_account, check_bik, check_inn, check_kpp, field_check
from pult.i18n import N_
from web.api_fields import INN_EXTENSION, digits
from web.api_models import Strict

#: the editable fields, in the panel's order (labels are the operator console's)
FIELDS = ("inn", "kpp", "ogrn", "bik", "bank", "corr_account", "settlement_account", "legal_address",
          "postal_address")


def _text(value: str) -> str | None:
    return " ".join((value or "").split()) or None


class AccountRequisitesIn(Strict):
    # the INN's check digits: INN_EXTENSION (the property-based run makes them right)
    model_config = ConfigDict(**Strict.model_config, json_schema_extra={INN_EXTENSION: ["inn"]})

    inn: Annotated[str | None, field_check(check_inn)] = Field(
        None, description="ИНН: 10 or 12 digits, check digits verified", json_schema_extra=digits(10, 12))
    kpp: Annotated[str | None, field_check(check_kpp)] = Field(None, description="КПП: 9 digits",
                                                               json_schema_extra=digits(9))
    ogrn: str | None = Field(None, description="ОГРН: 13 digits (ОГРНИП: 15)", json_schema_extra=digits(13, 15))
    bik: Annotated[str | None, field_check(check_bik)] = Field(None, description="БИК: 9 digits",
                                                               json_schema_extra=digits(9))
    bank: str | None = Field(None, max_length=200)
    corr_account: Annotated[str | None, field_check(check_account)] = Field(
        None, description="20 digits", json_schema_extra=digits(20))
    settlement_account: Annotated[str | None, field_check(check_account)] = Field(
        None, description="20 digits", json_schema_extra=digits(20))
    legal_address: str | None = Field(None, max_length=500)
    postal_address: str | None = Field(None, max_length=500)

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

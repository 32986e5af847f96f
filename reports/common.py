"""Shared pieces of the accounting documents: requisites, formatting, labels, period guard."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pult.i18n import N_, TranslatedError, translate
from pult.money import amount_in_words_ru, format_rub

MONTHS_RU = ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
             "октябрь", "ноябрь", "декабрь")
MONTHS_RU_GEN = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                 "сентября", "октября", "ноября", "декабря")


class DocumentError(TranslatedError):
    """A document cannot be produced from this input.

    ``message`` is an English message id (marked ``N_``) whose ``%(name)s`` placeholders are
    filled from ``values`` (see :class:`TranslatedError`); ``terms`` are placeholders filled with
    a list of message ids, each translated, joined with commas.
    """

    def __init__(self, message: str, *, terms: dict[str, list[str]] | None = None, **values: Any):
        self.terms = dict(terms or {})
        super().__init__(message, **values)

    def fill(self, language: str) -> dict:
        values = dict(self.values)
        for name, ids in self.terms.items():
            values[name] = ", ".join(translate(language, i) for i in ids)
        return values


@dataclass(frozen=True, slots=True)
class Requisites:
    """A party of a document (supplier = the operator, buyer = the account's company)."""

    name: str
    inn: str = ""
    kpp: str = ""
    ogrn: str = ""
    address: str = ""
    bank: str = ""
    bik: str = ""
    account: str = ""        # расчётный счёт
    corr_account: str = ""   # корреспондентский счёт
    phone: str = ""
    email: str = ""

    @classmethod
    def from_dict(cls, doc: dict | None) -> "Requisites":
        doc = doc or {}
        return cls(**{k: str(doc.get(k) or "") for k in cls.__slots__})


def rub(kopecks: int) -> str:
    """``123456 -> '1 234,56'``."""
    return format_rub(kopecks)


def words(kopecks: int) -> str:
    return amount_in_words_ru(kopecks)


def d(value: date | datetime | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def dt(value: datetime | None) -> str:
    return value.strftime("%d.%m.%Y %H:%M:%S") if value else ""


def date_long_ru(value: date) -> str:
    """``«5» ноября 2025 г.``"""
    return f"«{value.day}» {MONTHS_RU_GEN[value.month - 1]} {value.year} г."


def month_name_ru(year: int, month: int) -> str:
    return f"{MONTHS_RU[month - 1]} {year}"


def hms(seconds: int) -> str:
    """Duration ``H:MM:SS`` (hours not capped)."""
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def template_helpers() -> dict:
    """Functions the templates use (they output plain text; the template escapes it)."""
    return {"rub": rub, "words": words, "d": d, "dt": dt, "hms": hms, "date_long_ru": date_long_ru}


def check_call_detail_allowed(now_local: datetime | date) -> None:
    """Refuse call detail on the 1st of a month (00:00–24:00 PBX time) while the month closes.

    Inventory A §2.1.4: on the 1st the previous period's invoices are being generated, so call
    detail is unavailable all day. ``now_local`` must be in the account's/PBX's time zone.
    """
    if now_local.day == 1:
        nxt = date(now_local.year, now_local.month, 2)
        raise DocumentError(N_("Call detail is not available on the 1st of the month while the previous month is being closed. Please try again from %(date)s 00:00."), date=f"{nxt:%d.%m.%Y}")


def check_period(since: date, until: date, max_days: int | None = None) -> None:
    """A period ``since``..``until`` (inclusive) must not be reversed (and not too long)."""
    if until < since:
        raise DocumentError(N_("The period end %(until)s is before its start %(since)s."), until=f"{until:%d.%m.%Y}", since=f"{since:%d.%m.%Y}")
    if max_days and (until - since).days + 1 > max_days:
        raise DocumentError(N_("The period is longer than %(days)s days."), days=max_days)

"""Checks of Russian company requisites: INN (with its check digits), KPP, BIK, bank accounts.

Pure functions, no I/O. Each ``check_*`` returns the cleaned value (spaces dropped) or ``None``
for an empty one, and raises :class:`RequisiteError` whose ``message`` is an English message id
(translated by the web layer; ``pult/locale/ru_RU.csv``) naming exactly what is wrong — the
operator's supplier requisites are printed on every invoice, so a typo must be caught here.

INN check digits (Federal Tax Service algorithm): for a 10-digit INN the 10th digit is
``(Σ dᵢ·wᵢ mod 11) mod 10`` with weights ``2 4 10 3 5 9 4 6 8``; a 12-digit INN has two check
digits, with weights ``7 2 4 10 3 5 9 4 6 8`` (11th) and ``3 7 2 4 10 3 5 9 4 6 8`` (12th).
"""
from __future__ import annotations

from pult.i18n import N_

_W10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_W11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_W12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)

MSG_INN_LENGTH = N_("The INN has 10 digits (a company) or 12 digits (a person).")
MSG_INN_CHECKSUM = N_("This INN does not exist: its check digits do not match. Check the number.")
MSG_KPP = N_("The KPP has 9 digits.")
MSG_BIK = N_("The BIK has 9 digits.")
MSG_ACCOUNT = N_("A bank account number has 20 digits.")


class RequisiteError(ValueError):
    """A requisite is malformed; ``message`` is the English message id for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _clean(value: object) -> str:
    return "".join(str(value or "").split())


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights)) % 11 % 10


def inn_ok(inn: str) -> bool:
    """Whether ``inn`` (10 or 12 digits) has correct check digits."""
    if not inn.isdigit():
        return False
    if len(inn) == 10:
        return _check_digit(inn, _W10) == int(inn[9])
    if len(inn) == 12:
        return _check_digit(inn, _W11) == int(inn[10]) and _check_digit(inn, _W12) == int(inn[11])
    return False


def check_inn(value: object) -> str | None:
    v = _clean(value)
    if not v:
        return None
    if not v.isdigit() or len(v) not in (10, 12):
        raise RequisiteError(MSG_INN_LENGTH)
    if not inn_ok(v):
        raise RequisiteError(MSG_INN_CHECKSUM)
    return v


def _digits(value: object, length: int, message: str) -> str | None:
    v = _clean(value)
    if not v:
        return None
    if not v.isdigit() or len(v) != length:
        raise RequisiteError(message)
    return v


def check_kpp(value: object) -> str | None:
    return _digits(value, 9, MSG_KPP)


def check_bik(value: object) -> str | None:
    return _digits(value, 9, MSG_BIK)


def check_account(value: object) -> str | None:
    """A settlement or correspondent account: 20 digits."""
    return _digits(value, 20, MSG_ACCOUNT)


__all__ = ["RequisiteError", "inn_ok", "check_inn", "check_kpp", "check_bik", "check_account",
           "MSG_INN_LENGTH", "MSG_INN_CHECKSUM", "MSG_KPP", "MSG_BIK", "MSG_ACCOUNT"]


def field_check(check, empty: str | None = None):
    """A pydantic ``AfterValidator`` running ``check`` on a model field: the cleaned value, or
    ``empty`` for an empty one; a :class:`RequisiteError` becomes the field's message. Use it as
    ``inn: Annotated[str | None, field_check(check_inn)] = None``."""
    from pydantic import AfterValidator

    def validate(value):
        try:
            cleaned = check(value)
        except RequisiteError as exc:
            raise ValueError(exc.message) from None
        return empty if cleaned is None else cleaned

    return AfterValidator(validate)

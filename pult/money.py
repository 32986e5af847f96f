"""Money helpers: integer kopecks only, explicit rounding, Russian amounts in words.

Every amount in Pult is an ``int`` number of kopecks (1 RUB = 100 kopecks). Nothing here accepts
or returns a float: a float amount is a bug (binary fractions cannot hold 0.10 RUB exactly), so
the helpers raise :class:`TypeError` when they meet one.

Rounding rule used everywhere a fraction of a kopeck appears (per-second call cost, proration,
VAT extraction): **round half up** (0.5 kopeck → 1 kopeck), computed on integers with
:func:`div_half_up`, never through floats.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from num2words import num2words

KOPECKS_PER_RUB = 100


def require_int(value: object, what: str = "amount") -> int:
    """Return ``value`` if it is a plain int (not bool, not float); raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an integer number of kopecks, got {type(value).__name__} {value!r}")
    return value


def div_half_up(numerator: int, denominator: int) -> int:
    """Integer division rounding half away from zero: ``div_half_up(5, 2) == 3``, ``(-5, 2) == -3``."""
    require_int(numerator, "numerator")
    require_int(denominator, "denominator")
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return q if numerator >= 0 else -q


def parse_rub(text: str | int | Decimal) -> int:
    """Parse a user-typed rouble amount («1 100,50», "1100.5", 1100) into kopecks.

    Raises :class:`ValueError` with a clear message for anything that is not a non-negative
    amount with at most two decimals.
    """
    if isinstance(text, bool) or isinstance(text, float):
        raise TypeError("amounts are parsed from text, int or Decimal, never float")
    if isinstance(text, int):
        return text * KOPECKS_PER_RUB
    raw = str(text).strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"not an amount: {text!r} (expected e.g. 1100 or 1100,50)") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"amount must be a non-negative number: {text!r}")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"amount has more than two decimals: {text!r}")
    return int((value * KOPECKS_PER_RUB).to_integral_value(rounding=ROUND_HALF_UP))


def format_rub(kopecks: int, *, sep: str = "\u00a0", decimal: str = ",") -> str:
    """Format kopecks as roubles: ``110050 -> '1 100,50'`` (non-breaking space between thousands)."""
    require_int(kopecks)
    sign = "-" if kopecks < 0 else ""
    rub, kop = divmod(abs(kopecks), KOPECKS_PER_RUB)
    groups = f"{rub:,}".replace(",", sep)
    return f"{sign}{groups}{decimal}{kop:02d}"


def amount_in_words_ru(kopecks: int) -> str:
    """Russian accounting wording of an amount: ``110000 -> 'Одна тысяча сто рублей 00 копеек'``.

    Roubles in words (feminine «одна тысяча», correct plural of «рубль»), kopecks as two digits
    with the agreeing noun, as Russian invoices print it. Negative amounts get «минус».
    """
    require_int(kopecks)
    # num2words treats an int as a count of the minor unit (kopecks) for to='currency'
    words = num2words(abs(kopecks), lang="ru", to="currency", currency="RUB", cents=False)
    words = words.replace(", ", " ")
    if kopecks < 0:
        words = "минус " + words
    return words[:1].upper() + words[1:]


def vat_included(gross_kopecks: int, rate_percent: int) -> int:
    """VAT contained in a gross amount: ``gross * rate / (100 + rate)``, rounded half up.

    ``rate_percent`` is an int (e.g. 20); 0 means no VAT.
    """
    require_int(gross_kopecks)
    require_int(rate_percent, "VAT rate")
    if rate_percent < 0 or rate_percent > 100:
        raise ValueError(f"VAT rate must be 0..100 percent, got {rate_percent}")
    if rate_percent == 0:
        return 0
    return div_half_up(gross_kopecks * rate_percent, 100 + rate_percent)

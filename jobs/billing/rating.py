"""Call rating and monthly fees: pure functions, no I/O.

A :class:`Tariff` is plain data (it round-trips through :meth:`Tariff.to_dict` /
:meth:`Tariff.from_dict` for MongoDB): a destination table of number prefixes → zones, a price per
minute per zone (optionally per country for international calls), a billing step, a monthly pool
of free minutes and a few switches. :func:`rate_call` turns one finished call into a
:class:`RatedCall` (zone, rated seconds, cost in kopecks).

Rules (PRODUCT.md §10; inventory A §1.5, §2, §4.1.1) and the decisions taken where they are silent:

* **Numbers** are normalised to international digits without ``+`` (Russian dialling: ``8XXXXXXXXXX``
  → ``7XXXXXXXXXX``, ``810…`` and ``00…`` international exits dropped, a bare 10-digit ``9…``
  mobile gets ``7``, a 7-digit city number gets the tariff's home area code).
* **Zone** = the longest matching prefix of the tariff's destination table. An entry marked
  ``exact`` (service numbers such as ``112``) matches only the whole number. No match →
  :class:`RatingError` (an unpriced destination must not be silently free).
* **Direction**: internal and inbound calls are free unless the tariff sets ``internal_price`` /
  ``inbound_price`` (e.g. toll-free 8-800 numbers paid by the receiving side). Forwarding to an
  external number is an outbound call (inventory D: "billed as outgoing calls").
* **Calls through the tenant's own SIP trunk** (into its own PBX, D §5) are not carried by the
  platform's network, so they have no destination zone and no per-minute price: they are rated as
  zone ``trunk`` at no cost (``CallToRate.via_trunk``); the trunk itself is a connected service.
* **Billing step** ``first/step`` in seconds (``60/60`` per minute, ``1/1`` per second, ``6/6``,
  ``60/1`` = first minute whole then per second). A call shorter than ``first`` is rated as
  ``first``; the rest is rounded **up** to whole steps. Calls with ``billsec <= grace_seconds``
  (default 0: only unanswered calls) are not charged at all.
* **Free minutes**: a pool of ``free_minutes`` per calendar month that covers calls in
  ``free_zones``; it is consumed in rated seconds, partially if it runs out in the middle of a call;
  only the uncovered seconds are charged. The caller owns the pool counter (see
  ``storage.repos.billing.FreePoolRepo``) and passes the remaining seconds in.
* **Cost** = uncovered rated seconds × price per minute ÷ 60, rounded half up to a kopeck
  **per call** (:func:`pult.money.div_half_up`). Integers only.
* **Monthly fees** are charged per calendar month; a service active for part of a month costs
  ``price × active days ÷ days in month`` (half up). The day a service is connected counts, the
  day it is disconnected does not (so connect-and-disconnect on the same day costs nothing).
* **Tariff change**: at most once per calendar month, effective immediately
  (:func:`check_tariff_change`).
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable, Mapping, NamedTuple

from pult.i18n import N_, TranslatedError, translate
from pult.money import div_half_up, require_int

ZONES = ("local", "mobile", "long_distance", "international", "service", "free")
"""Destination zones a prefix may map to. ``internal``, ``inbound`` and ``trunk`` (a call through
the tenant's own trunk) are rating results for calls that have no destination zone."""
TRUNK_ZONE = "trunk"

DIRECTIONS = ("outbound", "inbound", "internal")


class RatingError(ValueError):
    """A call or a tariff cannot be rated; the message says what is wrong."""


class TariffChangeError(TranslatedError):
    """A tariff change is refused (the message in either language: see :class:`TranslatedError`)."""

    def __init__(self, message: str, next_allowed: date, **values: Any):
        self.next_allowed = next_allowed
        super().__init__(message, **values)


# ---------------------------------------------------------------- billing step

_STEP_RE = re.compile(r"^\s*(\d{1,4})\s*/\s*(\d{1,4})\s*$")


@dataclass(frozen=True, slots=True)
class BillingStep:
    """``first`` seconds charged at least once the call is charged, then ``step``-second increments."""

    first: int = 60
    step: int = 60

    def __post_init__(self) -> None:
        for name in ("first", "step"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 3600:
                raise RatingError(f"billing step {name} must be 1..3600 seconds, got {v!r}")

    @classmethod
    def parse(cls, text: str) -> "BillingStep":
        """Parse ``"60/60"``, ``"1/1"``, ``"6/6"``, ``"60/1"``."""
        m = _STEP_RE.match(str(text))
        if not m:
            raise RatingError(f"billing step {text!r}: expected FIRST/STEP in seconds, e.g. 60/60 or 1/1")
        return cls(int(m.group(1)), int(m.group(2)))

    def rated_seconds(self, billsec: int) -> int:
        """Seconds to charge for ``billsec`` seconds of talk (0 for 0)."""
        if billsec <= 0:
            return 0
        if billsec <= self.first:
            return self.first
        extra = billsec - self.first
        return self.first + -(-extra // self.step) * self.step

    def __str__(self) -> str:
        return f"{self.first}/{self.step}"


# ---------------------------------------------------------------- destinations

@dataclass(frozen=True, slots=True)
class Destination:
    """One row of a destination table: ``prefix`` (international digits) → ``zone``."""

    prefix: str
    zone: str
    country: str | None = None  # ISO 3166 alpha-2 for international destinations, e.g. "DE"
    name: str = ""              # human label for reports: «Москва», «Германия», «МТС»
    exact: bool = False         # match the whole number only (service numbers: 112, 01, 8800…)

    def __post_init__(self) -> None:
        if not self.prefix.isdigit():
            raise RatingError(f"destination prefix {self.prefix!r} must be digits only")
        if self.zone not in ZONES:
            raise RatingError(f"destination {self.prefix}: unknown zone {self.zone!r} (expected one of {', '.join(ZONES)})")
        if self.zone == "international" and not self.country:
            raise RatingError(f"destination {self.prefix}: an international prefix needs its country code")


class DestinationTable:
    """Longest-prefix lookup over :class:`Destination` rows.

    Lookup walks the number's prefixes from the longest down, one dict probe each, so it costs
    O(length of the number) whatever the table size.
    """

    def __init__(self, rows: Iterable[Destination]):
        self._prefix: dict[str, Destination] = {}
        self._exact: dict[str, Destination] = {}
        for row in rows:
            target = self._exact if row.exact else self._prefix
            if row.prefix in target:
                raise RatingError(f"destination prefix {row.prefix} is listed twice")
            target[row.prefix] = row
        self._max = max((len(p) for p in self._prefix), default=0)

    def rows(self) -> list[Destination]:
        return [*self._exact.values(), *self._prefix.values()]

    def match(self, number: str) -> Destination | None:
        """The row for ``number`` (already normalised), or None."""
        hit = self._exact.get(number)
        if hit is not None:
            return hit
        for n in range(min(len(number), self._max), 0, -1):
            hit = self._prefix.get(number[:n])
            if hit is not None:
                return hit
        return None


_STRIP_RE = re.compile(r"[\s\-().]")


def normalize_number(raw: str, *, home_area: str = "", country_code: str = "7") -> str:
    """Digits of ``raw`` in international form without ``+`` (Russian dialling rules).

    ``home_area`` (e.g. ``"7495"``) completes 7-digit city numbers. Short numbers (≤ 6 digits:
    service codes such as 112, 01) are returned as they are. Raises :class:`RatingError` for text
    that is not a phone number.
    """
    s = _STRIP_RE.sub("", str(raw or ""))
    if not s:
        raise RatingError("empty destination number")
    plus = s.startswith("+")
    if plus:
        s = s[1:]
    if not s.isdigit():
        raise RatingError(f"destination {raw!r} is not a phone number")
    if plus:
        return s
    if country_code == "7":
        if s.startswith("810") and len(s) > 10:
            return s[3:]
        if len(s) == 11 and s[0] == "8":
            return "7" + s[1:]
        if len(s) == 10 and s[0] == "9":
            return "7" + s
    if s.startswith("00") and len(s) > 8:
        return s[2:]
    if len(s) == 7 and home_area:
        return home_area + s
    return s


# ---------------------------------------------------------------- tariff

@dataclass(frozen=True, slots=True)
class Tariff:
    """A tariff for calls (prices in kopecks per minute, ints)."""

    id: str
    name: str
    destinations: tuple[Destination, ...]
    prices: Mapping[str, int]          # zone -> kop/min, or "international:DE" -> kop/min
    step: BillingStep = BillingStep()
    free_minutes: int = 0              # monthly pool
    free_zones: frozenset[str] = frozenset({"local", "mobile"})
    grace_seconds: int = 0             # calls up to this long are free
    inbound_price: int = 0             # kop/min for inbound calls (0 = free)
    internal_price: int = 0            # kop/min for internal calls (0 = free)
    home_area: str = ""                # e.g. "7495": completes 7-digit numbers
    country_code: str = "7"
    _table: DestinationTable | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for key, price in self.prices.items():
            zone = key.split(":", 1)[0]
            if zone not in ZONES:
                raise RatingError(f"tariff {self.id}: price for unknown zone {key!r}")
            require_int(price, f"tariff {self.id} price for {key}")
            if price < 0:
                raise RatingError(f"tariff {self.id}: price for {key} is negative")
        for name in ("free_minutes", "grace_seconds", "inbound_price", "internal_price"):
            v = require_int(getattr(self, name), f"tariff {self.id} {name}")
            if v < 0:
                raise RatingError(f"tariff {self.id}: {name} must not be negative")
        bad = set(self.free_zones) - set(ZONES)
        if bad:
            raise RatingError(f"tariff {self.id}: free_zones has unknown zones {sorted(bad)}")
        object.__setattr__(self, "_table", DestinationTable(self.destinations))

    @property
    def table(self) -> DestinationTable:
        assert self._table is not None
        return self._table

    def price_for(self, dest: Destination) -> int:
        """Kopecks per minute for a destination row (country price first, then zone price)."""
        if dest.zone == "free":
            return 0
        if dest.country:
            specific = self.prices.get(f"{dest.zone}:{dest.country}")
            if specific is not None:
                return specific
        price = self.prices.get(dest.zone)
        if price is None:
            if dest.zone == "service":
                return 0
            where = f"{dest.zone}:{dest.country}" if dest.country else dest.zone
            raise RatingError(f"tariff {self.id} has no price for {where} (prefix {dest.prefix})")
        return price

    # -- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "_id": self.id, "name": self.name,
            "destinations": [{"prefix": d.prefix, "zone": d.zone, "country": d.country, "name": d.name,
                              "exact": d.exact} for d in self.destinations],
            "prices": dict(self.prices), "step": str(self.step), "free_minutes": self.free_minutes,
            "free_zones": sorted(self.free_zones), "grace_seconds": self.grace_seconds,
            "inbound_price": self.inbound_price, "internal_price": self.internal_price,
            "home_area": self.home_area, "country_code": self.country_code,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> "Tariff":
        try:
            return cls(
                id=str(doc.get("_id") or doc["id"]), name=doc["name"],
                destinations=tuple(Destination(**d) for d in doc.get("destinations", ())),
                prices=dict(doc.get("prices", {})), step=BillingStep.parse(doc.get("step", "60/60")),
                free_minutes=doc.get("free_minutes", 0),
                free_zones=frozenset(doc.get("free_zones", ("local", "mobile"))),
                grace_seconds=doc.get("grace_seconds", 0), inbound_price=doc.get("inbound_price", 0),
                internal_price=doc.get("internal_price", 0), home_area=doc.get("home_area", ""),
                country_code=doc.get("country_code", "7"),
            )
        except (KeyError, TypeError) as exc:
            raise RatingError(f"malformed tariff document: {exc}") from None


# ---------------------------------------------------------------- rating

@dataclass(frozen=True, slots=True)
class CallToRate:
    """What rating needs from a call record."""

    direction: str                # outbound | inbound | internal
    destination: str              # dialled number (outbound) or our number (inbound)
    billsec: int                  # answered seconds
    started_at: datetime | None = None
    via_trunk: bool = False       # an outbound call into the tenant's own SIP trunk (not charged)


@dataclass(frozen=True, slots=True)
class RatedCall:
    zone: str                     # a ZONES value, or "internal" / "inbound"
    number: str                   # normalised destination
    prefix: str                   # matched prefix ("" for internal/inbound)
    country: str | None
    destination_name: str
    rated_seconds: int            # after the billing step
    free_seconds: int             # covered by the monthly pool
    price_per_minute: int         # kopecks
    cost: int                     # kopecks, >= 0


def rate_call(call: CallToRate, tariff: Tariff, *, free_seconds_left: int = 0) -> RatedCall:
    """Rate one finished call. Pure; see the module docstring for the rules.

    ``free_seconds_left`` is what remains of this month's free pool (seconds); the result says
    how much of it the call used (``free_seconds``).
    """
    billsec = require_int(call.billsec, "billsec")
    if billsec < 0:
        raise RatingError(f"billsec must not be negative, got {billsec}")
    if free_seconds_left < 0:
        raise RatingError("free_seconds_left must not be negative")
    if call.direction not in DIRECTIONS:
        raise RatingError(f"unknown call direction {call.direction!r} (expected {', '.join(DIRECTIONS)})")

    if call.direction in ("inbound", "internal"):
        price = tariff.inbound_price if call.direction == "inbound" else tariff.internal_price
        rated = tariff.step.rated_seconds(billsec) if price and billsec > tariff.grace_seconds else 0
        number = _digits_or_raw(call.destination, tariff)
        return RatedCall(call.direction, number, "", None, "", rated, 0, price,
                         div_half_up(rated * price, 60))

    if call.via_trunk:  # the tenant's own trunk: no zone, no price (see the module docstring)
        return RatedCall(TRUNK_ZONE, _digits_or_raw(call.destination, tariff), "", None, "", 0, 0, 0, 0)
    number = normalize_number(call.destination, home_area=tariff.home_area, country_code=tariff.country_code)
    dest = tariff.table.match(number)
    if dest is None:
        raise RatingError(f"no destination in tariff {tariff.id} for number {number}")
    price = tariff.price_for(dest)
    rated = tariff.step.rated_seconds(billsec) if billsec > tariff.grace_seconds else 0
    # the pool only covers priced calls in its zones: a free destination never eats free minutes
    free = min(rated, free_seconds_left) if price and dest.zone in tariff.free_zones else 0
    cost = div_half_up((rated - free) * price, 60)
    return RatedCall(dest.zone, number, dest.prefix, dest.country, dest.name, rated, free, price, cost)


def _digits_or_raw(raw: str, tariff: Tariff) -> str:
    try:
        return normalize_number(raw, home_area=tariff.home_area, country_code=tariff.country_code)
    except RatingError:
        return str(raw or "")


def month_key(moment: datetime | date) -> str:
    """``"2025-11"``: the free-minute pool and fee period a moment belongs to."""
    return f"{moment.year:04d}-{moment.month:02d}"


# ---------------------------------------------------------------- monthly fees

@dataclass(frozen=True, slots=True)
class Subscription:
    """A monthly-fee item: the edition, a number, a paid service (see :data:`SERVICES`)."""

    key: str                      # "edition", "number:74951234567", "service:blacklist", …
    title: str
    monthly_price: int            # kopecks per month per unit
    quantity: int = 1
    vat: bool = True              # telecom service (with VAT) vs software licence (without VAT)
    active_from: date | None = None
    active_until: date | None = None  # exclusive: the day of disconnection is not charged


@dataclass(frozen=True, slots=True)
class FeeCharge:
    key: str
    title: str
    period: str                   # "YYYY-MM"
    days: int                     # days charged in the month
    days_in_month: int
    amount: int                   # kopecks
    vat: bool


class PaidService(NamedTuple):
    """A monthly-fee item kind: its title (an English message id, the Russian in
    ``pult/locale/ru_RU.csv``; invoices and the ledger use the Russian, :func:`service_title`)
    and whether VAT is charged on it."""

    title: str
    vat: bool


SERVICES: dict[str, PaidService] = {
    # inventory A §2.1.2 and D §4.6.6
    "edition": PaidService(N_("Software licence (edition)"), False),
    "number": PaidService(N_("Number subscription"), True),
    "blacklist": PaidService(N_("Black and white lists"), True),
    "extra_employees": PaidService(N_("Additional employees"), True),
    "extra_roles": PaidService(N_("Additional roles package"), True),
    "distribution": PaidService(N_("Call distribution algorithms"), True),
    "recording": PaidService(N_("Call recording (unlimited)"), True),
    "storage": PaidService(N_("Cloud storage"), True),
    "call_from_site": PaidService(N_("Call from site button"), True),
    "callback_widget": PaidService(N_("Callback widget"), True),
    "ivr_multilevel": PaidService(N_("Multi-level IVR"), True),
    "fax_broadcast": PaidService(N_("Fax broadcast"), True),
    "client_routing": PaidService(N_("Forwarding by caller number"), True),
}


def service_title(key: str, lang: str = "ru") -> str:
    """The title of paid service ``key`` in ``lang`` (Russian: what documents and the ledger say)."""
    return translate(lang, SERVICES[key].title)


def prorate(monthly_price: int, year: int, month: int, active_from: date | None = None,
            active_until: date | None = None) -> tuple[int, int, int]:
    """Part of a monthly price for the days active in ``year-month``.

    Returns ``(amount_kopecks, days_charged, days_in_month)``. ``active_until`` is exclusive.
    """
    require_int(monthly_price, "monthly price")
    days_in_month = calendar.monthrange(year, month)[1]
    first, last_excl = date(year, month, 1).toordinal(), date(year, month, days_in_month).toordinal() + 1
    start = max(first, active_from.toordinal()) if active_from else first
    end = min(last_excl, active_until.toordinal()) if active_until else last_excl
    days = max(0, end - start)
    if days == days_in_month:
        return monthly_price, days, days_in_month
    return div_half_up(monthly_price * days, days_in_month), days, days_in_month


def monthly_fees(subscriptions: Iterable[Subscription], year: int, month: int) -> list[FeeCharge]:
    """Fee charges for one calendar month (prorated; items not active that month are left out)."""
    out = []
    for sub in subscriptions:
        if require_int(sub.quantity, "quantity") < 0:
            raise RatingError(f"{sub.key}: quantity must not be negative")
        amount, days, dim = prorate(sub.monthly_price * sub.quantity, year, month, sub.active_from, sub.active_until)
        if days:
            out.append(FeeCharge(sub.key, sub.title, f"{year:04d}-{month:02d}", days, dim, amount, sub.vat))
    return out


# ---------------------------------------------------------------- tariff change

def check_tariff_change(last_change: date | datetime | None, today: date | datetime) -> None:
    """Refuse a second tariff change in the same calendar month (inventory A §4.1.1).

    ``today`` and ``last_change`` must be in the PBX's time zone. The change itself takes effect
    immediately: calls that end after it are rated by the new tariff. Raises
    :class:`TariffChangeError` with the first day a new change is allowed.
    """
    if last_change is None:
        return
    if (last_change.year, last_change.month) != (today.year, today.month):
        return
    y, m = (today.year + 1, 1) if today.month == 12 else (today.year, today.month + 1)
    nxt = date(y, m, 1)
    raise TariffChangeError(
        N_("The tariff can be changed once per calendar month; it was changed on %(changed)s. The next change is possible from %(next)s."),  # noqa: E501
        nxt, changed=f"{last_change:%d.%m.%Y}", next=f"{nxt:%d.%m.%Y}")


__all__ = [
    "ZONES", "TRUNK_ZONE", "DIRECTIONS", "RatingError", "TariffChangeError", "BillingStep", "Destination",
    "DestinationTable", "normalize_number", "Tariff", "CallToRate", "RatedCall", "rate_call",
    "month_key", "Subscription", "FeeCharge", "PaidService", "SERVICES", "service_title", "prorate", "monthly_fees",
    "check_tariff_change",
]

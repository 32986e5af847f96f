"""Validation of what people type in the Finance section: amounts, periods, formats, addresses,
notification settings. Every refusal is an :class:`InputError` naming the field and a specific
English message id (translated by the handler), e.g. "At most two digits after the decimal point
(kopecks)." rather than "invalid value".
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from jobs.billing.notify import DEFAULT_INVOICE, DEFAULT_THRESHOLD
from pult.i18n import N_

MAX_AMOUNT = 100_000_000_00      # 100 million roubles: a typo guard
MAX_PERIOD_DAYS = 400
MAX_ADDRESSES = 10
MAX_PAYER_NAME = 200
MAX_PAYER_ADDRESS = 300
RECEIPT_DAYS_AHEAD = 365
_DATE_RU = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_AMOUNT = re.compile(r"^-?\d+([.,]\d+)?$")


class InputError(ValueError):
    """A refused input: ``fields`` maps field names to message ids; ``values`` fill the
    placeholders of every field given here, ``field_values`` (field → values) those of fields
    merged from several errors."""

    def __init__(self, fields: dict[str, str], field_values: dict[str, dict] | None = None, **values):
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields
        self.field_values = dict(field_values or {})
        for f in fields:
            if values:
                self.field_values.setdefault(f, values)

    def values_for(self, field: str) -> dict:
        return self.field_values.get(field, {})


def parse_amount(value: Any, field: str = "amount") -> int:
    """Roubles as typed («1100», «12,50», «12.50», 12.5) → kopecks; refuses zero, negative
    amounts, more than two decimals, letters and absurd sums, each with its own message."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError({field: N_("Enter the amount.")})
    if isinstance(value, bool):
        raise InputError({field: N_("Enter the amount in roubles as digits, e.g. 1100 or 1100,50.")})
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if not _AMOUNT.match(text):
        raise InputError({field: N_("Enter the amount in roubles as digits, e.g. 1100 or 1100,50.")})
    try:
        amount = Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise InputError({field: N_("Enter the amount in roubles as digits, e.g. 1100 or 1100,50.")}) from None
    if amount <= 0:
        raise InputError({field: N_("The amount must be greater than zero.")})
    if amount != amount.quantize(Decimal("0.01")):
        raise InputError({field: N_("At most two digits after the decimal point (kopecks).")})
    kopecks = int(amount * 100)
    if kopecks > MAX_AMOUNT:
        raise InputError({field: N_("The amount is too large.")})
    return kopecks


def parse_date(value: Any, field: str) -> date:
    """``dd.mm.yyyy`` (as the cabinet shows dates) or ISO ``yyyy-mm-dd``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value or "").strip()
    if not text:
        raise InputError({field: N_("Enter the date.")})
    m = _DATE_RU.match(text)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        m = _DATE_ISO.match(text)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise InputError({field: N_("There is no such date.")}) from None
    raise InputError({field: N_("Enter the date as dd.mm.yyyy.")})


def parse_period(since: Any, until: Any) -> tuple[date, date]:
    """A period of whole days, start ≤ end, at most :data:`MAX_PERIOD_DAYS` long."""
    errors = {}
    start = end = None
    try:
        start = parse_date(since, "since")
    except InputError as exc:
        errors.update(exc.fields)
    try:
        end = parse_date(until, "until")
    except InputError as exc:
        errors.update(exc.fields)
    if errors:
        raise InputError(errors)
    if end < start:
        raise InputError({"until": N_("The end of the period is before its start.")})
    if (end - start).days + 1 > MAX_PERIOD_DAYS:
        raise InputError({"until": N_("The period is too long: at most 400 days.")})
    return start, end


def parse_choice(value: Any, field: str, choices: tuple[str, ...], default: str, message: str) -> str:
    text = str(value or "").strip().lower() or default
    if text not in choices:
        raise InputError({field: message})
    return text


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        for part in re.split(r"[,;\n]", str(item)):
            if part.strip():
                out.append(part.strip())
    return out


def parse_emails(value: Any, field: str) -> list[str]:
    """E-mail addresses separated by commas (or a list); each checked, duplicates dropped."""
    from jobs.mail import InvalidAddress, parse_address

    out: list[str] = []
    for item in _split(value):
        if "<" in item or " " in item:
            raise InputError({field: N_("Not a valid e-mail address: %(value)s")}, value=item)
        try:
            addr = parse_address(item).addr_spec
        except InvalidAddress:
            raise InputError({field: N_("Not a valid e-mail address: %(value)s")}, value=item) from None
        if addr.lower() not in (a.lower() for a in out):
            out.append(addr)
    if len(out) > MAX_ADDRESSES:
        raise InputError({field: N_("At most 10 addresses.")})
    return out


def parse_phones(value: Any, field: str) -> list[str]:
    """Phones for SMS: only Russian mobile numbers ``+79xxxxxxxxx`` (spaces and dashes allowed)."""
    from jobs.sms import InvalidPhone, normalize_phone

    out: list[str] = []
    for item in _split(value):
        try:
            phone = normalize_phone(item)
        except InvalidPhone:
            raise InputError({field: N_("SMS goes only to Russian mobile numbers in the form +79xxxxxxxxx: %(value)s")},
                             value=item) from None
        if phone not in out:
            out.append(phone)
    if len(out) > MAX_ADDRESSES:
        raise InputError({field: N_("At most 10 addresses.")})
    return out


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "on", "yes")
    return bool(value)


def parse_notification_settings(raw: dict) -> dict:
    """The three notice blocks of A §2.7, validated; all problems reported at once.

    A block switched on with neither an e-mail nor a phone cannot be saved.
    """
    errors: dict[str, str] = {}
    values: dict[str, dict] = {}
    out: dict[str, Any] = {}
    lang = str(raw.get("language") or "ru")
    if lang not in ("ru", "en"):
        errors["language"] = N_("Choose Russian or English.")
    out["language"] = lang
    for block in ("low_balance", "block", "credit"):
        src = raw.get(block) or {}
        if not isinstance(src, dict):
            errors[block] = N_("This value is not valid.")
            continue
        cfg: dict[str, Any] = {"enabled": _bool(src.get("enabled"))}
        for key, parser in (("emails", parse_emails), ("phones", parse_phones)):
            try:
                cfg[key] = parser(src.get(key), f"{block}.{key}")
            except InputError as exc:
                errors.update(exc.fields)
                values.update(exc.field_values)
                cfg[key] = []
        if cfg["enabled"] and not cfg["emails"] and not cfg["phones"] and f"{block}.emails" not in errors \
                and f"{block}.phones" not in errors:
            errors[f"{block}.emails"] = N_("The notice is switched on: add an e-mail or a phone, or switch it off.")
        if block == "low_balance":
            mode = str(src.get("mode") or "manual")
            if mode not in ("manual", "auto"):
                errors["low_balance.mode"] = N_("Choose: set manually or calculate automatically.")
            cfg["mode"] = mode
            cfg["threshold"] = DEFAULT_THRESHOLD
            if mode == "manual":
                try:
                    cfg["threshold"] = parse_amount(src.get("threshold") if src.get("threshold") not in (None, "")
                                                    else "100", "low_balance.threshold")
                except InputError as exc:
                    errors.update(exc.fields)
            cfg["attach_invoice"] = _bool(src.get("attach_invoice"))
            cfg["invoice_amount"] = DEFAULT_INVOICE
            if cfg["attach_invoice"]:
                try:
                    cfg["invoice_amount"] = parse_amount(src.get("invoice_amount") if src.get("invoice_amount")
                                                         not in (None, "") else "1100", "low_balance.invoice_amount")
                except InputError as exc:
                    errors.update(exc.fields)
        out[block] = cfg
    if errors:
        raise InputError(errors, values)
    return out


def parse_receipt(raw: dict, today: date) -> dict:
    """An individual's receipt (inventory A §2.4.1.2): full name, address, amount, payment date
    (dd.mm.yyyy, today or later, at most a year ahead); every problem reported at once."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for field, limit, empty, long in (
            ("payer_name", MAX_PAYER_NAME, N_("Enter the payer's full name."),
             N_("The full name is too long: at most 200 characters.")),
            ("payer_address", MAX_PAYER_ADDRESS, N_("Enter the payer's address."),
             N_("The address is too long: at most 300 characters."))):
        text = " ".join(str(raw.get(field) or "").split())
        if not text:
            errors[field] = empty
        elif len(text) > limit:
            errors[field] = long
        out[field] = text
    try:
        out["amount"] = parse_amount(raw.get("amount"))
    except InputError as exc:
        errors.update(exc.fields)
    try:
        paid_on = parse_date(raw.get("pay_date"), "pay_date")
        if paid_on < today:
            errors["pay_date"] = N_("The payment date cannot be in the past.")
        elif (paid_on - today).days > RECEIPT_DAYS_AHEAD:
            errors["pay_date"] = N_("The payment date is too far ahead: at most a year from today.")
        out["pay_date"] = paid_on.isoformat()
    except InputError as exc:
        errors.update(exc.fields)
    if errors:
        raise InputError(errors)
    return out


#: destination types of the expenses filter (inventory A §2.2: city, region, country, network type)
EXPENSE_ZONES = ("local", "long_distance", "international", "mobile", "service", "free")
PRESETS = ("last_month", "month_before_last")


def parse_preset(value: Any, today: date) -> tuple[date, date] | None:
    """The expenses period presets of inventory A §2.2: «С прошлого месяца» (``last_month``: from
    the 1st of last month to today) and «С позапрошлого месяца» (``month_before_last``); None
    when no preset is asked for."""
    text = str(value or "").strip().lower()
    if not text:
        return None
    if text not in PRESETS:
        raise InputError({"preset": N_("Choose «since last month» or «since the month before last».")})
    first = today.replace(day=1)
    back = 1 if text == "last_month" else 2
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first, today


def parse_expense_filters(by: Any, pbx_id: Any, zone: Any, account_pbxes: list[int]) -> dict:
    """``{by, pbx_id, zone}`` of the expenses report. By months the report covers every PBX of the
    account, so choosing one PBX needs «by destinations» (inventory A §2.2); ``zone`` limits the
    calls to one destination type. A PBX of another account is "not found" (``LookupError``)."""
    errors: dict[str, str] = {}
    view = parse_choice(by, "by", ("months", "destinations"), "months",
                        N_("Show the expenses by months or by destinations."))
    out: dict[str, Any] = {"by": view, "pbx_id": None, "zone": None}
    raw = str(pbx_id if pbx_id is not None else "").strip()
    if raw:
        if not raw.isdigit() or len(raw) > 12:
            errors["pbx_id"] = N_("Choose the PBX from the list.")
        elif view == "months":
            errors["pbx_id"] = N_("By months the report covers every PBX of the account; show it by destinations to choose one PBX.")
        elif int(raw) not in account_pbxes:
            raise LookupError(raw)
        else:
            out["pbx_id"] = int(raw)
    z = str(zone or "").strip().lower()
    if z:
        if z not in EXPENSE_ZONES:
            errors["zone"] = N_("Choose the destination type from the list.")
        out["zone"] = z
    if errors:
        raise InputError(errors)
    return out

"""Finance input validation: amounts, periods, addresses and notification settings, each refused
with its own message (what the cabinet shows next to the field)."""
from __future__ import annotations

from datetime import date

import pytest

from web.finance.validation import (InputError, parse_amount, parse_emails, parse_notification_settings,
                                    parse_period, parse_phones)


@pytest.mark.parametrize("text,kopecks", [("12,50", 1250), ("12.50", 1250), ("1 100", 110000), ("1100,5", 110050),
                                          (7, 700), (12.5, 1250), ("0,01", 1)])
def test_amounts_accepted(text, kopecks):
    assert parse_amount(text) == kopecks


@pytest.mark.parametrize("text,message", [
    ("-5", "The amount must be greater than zero."), ("0", "The amount must be greater than zero."),
    ("0,00", "The amount must be greater than zero."),
    ("12.505", "At most two digits after the decimal point (kopecks)."),
    ("12,5051", "At most two digits after the decimal point (kopecks)."),
    ("12руб", "Enter the amount in roubles as digits, e.g. 1100 or 1100,50."),
    ("1e3", "Enter the amount in roubles as digits, e.g. 1100 or 1100,50."),
    (True, "Enter the amount in roubles as digits, e.g. 1100 or 1100,50."),
    ("", "Enter the amount."), (None, "Enter the amount."),
    ("1000000000", "The amount is too large."),
])
def test_amounts_refused_with_specific_messages(text, message):
    with pytest.raises(InputError) as err:
        parse_amount(text)
    assert err.value.fields == {"amount": message}


def test_periods():
    assert parse_period("01.11.2025", "2025-11-30") == (date(2025, 11, 1), date(2025, 11, 30))
    cases = {("30.11.2025", "01.11.2025"): {"until": "The end of the period is before its start."},
             ("31.02.2025", "x"): {"since": "There is no such date.", "until": "Enter the date as dd.mm.yyyy."},
             ("", "01.01.2025"): {"since": "Enter the date."},
             ("01.01.2024", "01.03.2025"): {"until": "The period is too long: at most 400 days."}}
    for (a, b), fields in cases.items():
        with pytest.raises(InputError) as err:
            parse_period(a, b)
        assert err.value.fields == fields


def test_addresses():
    assert parse_emails("a@x.example, B@Y.example; a@X.example", "e") == ["a@x.example", "B@y.example"]
    assert parse_phones(["+7 (916) 123-45-67", "+79161234567"], "p") == ["+79161234567"]
    for bad in ("84951234567", "+74951234567", "+3809912345678"):
        with pytest.raises(InputError) as err:
            parse_phones(f"+79161234567, {bad}", "p")
        assert err.value.values_for("p") == {"value": bad}
    with pytest.raises(InputError) as err:
        parse_emails("ok@x.example, Иван <ivan@x.example>", "e")
    assert err.value.fields["e"] == "Not a valid e-mail address: %(value)s"


def test_notification_settings_block_on_without_address_cannot_be_saved():
    with pytest.raises(InputError) as err:
        parse_notification_settings({"low_balance": {"enabled": True, "emails": " ", "mode": "manual"},
                                     "credit": {"enabled": True, "phones": "+79161234567, 123"},
                                     "block": {"enabled": False}})
    assert err.value.fields == {
        "low_balance.emails": "The notice is switched on: add an e-mail or a phone, or switch it off.",
        "credit.phones": "SMS goes only to Russian mobile numbers in the form +79xxxxxxxxx: %(value)s"}
    assert err.value.values_for("credit.phones") == {"value": "123"}


def test_notification_settings_defaults_and_auto_mode():
    out = parse_notification_settings({"low_balance": {"enabled": True, "emails": "buh@x.example", "mode": "auto",
                                                       "attach_invoice": "on", "threshold": "garbage"},
                                       "block": {"enabled": "on", "phones": "+79161234567"}})
    low = out["low_balance"]
    assert low["mode"] == "auto" and low["attach_invoice"] is True and low["invoice_amount"] == 110000
    assert out["block"] == {"enabled": True, "emails": [], "phones": ["+79161234567"]}
    assert out["credit"]["enabled"] is False
    manual = parse_notification_settings({"low_balance": {"enabled": False, "threshold": ""}})
    assert manual["low_balance"]["threshold"] == 10000

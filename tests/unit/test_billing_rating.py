"""Rating against a fixed tariff table: zones, steps, free minutes, fees, tariff-change rule."""
from datetime import date, datetime

import pytest
from hypothesis import given, strategies as st

from jobs.billing.rating import (
    BillingStep, CallToRate, Destination, RatingError, Subscription, Tariff, TariffChangeError,
    check_tariff_change, monthly_fees, normalize_number, prorate, rate_call,
)
from pult.money import amount_in_words_ru, div_half_up, format_rub, parse_rub, vat_included

DESTS = (
    Destination("7495", "local", name="Москва"),
    Destination("7499", "local", name="Москва"),
    Destination("79", "mobile", name="Мобильные РФ"),
    Destination("7", "long_distance", name="Россия"),
    Destination("7812", "long_distance", name="Санкт-Петербург"),
    Destination("49", "international", country="DE", name="Германия"),
    Destination("4915", "international", country="DE", name="Германия моб."),
    Destination("1", "international", country="US", name="США"),
    Destination("375", "international", country="BY", name="Беларусь"),
    Destination("7800", "free", name="8-800"),
    Destination("112", "service", exact=True, name="Экстренная служба"),
    Destination("101", "service", exact=True, name="Пожарная"),
)
PRICES = {"local": 120, "mobile": 190, "long_distance": 350, "international": 2500,
          "international:DE": 1500, "international:BY": 900}


def tariff(**kw):
    base = dict(id="base", name="Базовый", destinations=DESTS, prices=PRICES,
                step=BillingStep(60, 60), home_area="7495")
    base.update(kw)
    return Tariff(**base)


def out(number, billsec):
    return CallToRate("outbound", number, billsec, datetime(2025, 11, 3, 12, 0))


@pytest.mark.parametrize("raw,expected", [
    ("+7 (495) 123-45-67", "74951234567"),
    ("84951234567", "74951234567"),
    ("1234567", "74951234567"),           # city number completed with the home area
    ("9161234567", "79161234567"),
    ("8104930123456", "4930123456"),      # Russian international exit
    ("004930123456", "4930123456"),
    ("+4930123456", "4930123456"),
    ("112", "112"),
])
def test_normalize_number(raw, expected):
    assert normalize_number(raw, home_area="7495") == expected


@pytest.mark.parametrize("bad", ["", "abc", "+7-495-ABC", None])
def test_normalize_rejects_garbage(bad):
    with pytest.raises(RatingError):
        normalize_number(bad)


@pytest.mark.parametrize("number,zone,prefix,country,price", [
    ("84951234567", "local", "7495", None, 120),
    ("74991234567", "local", "7499", None, 120),
    ("89161234567", "mobile", "79", None, 190),
    ("78121234567", "long_distance", "7812", None, 350),
    ("73432345678", "long_distance", "7", None, 350),
    ("+4930123456", "international", "49", "DE", 1500),
    ("+491511234567", "international", "4915", "DE", 1500),   # longest prefix wins
    ("+12125550100", "international", "1", "US", 2500),      # no country price: zone price
    ("+375291234567", "international", "375", "BY", 900),
    ("88001234567", "free", "7800", None, 0),
    ("112", "service", "112", None, 0),
])
def test_zone_by_longest_prefix(number, zone, prefix, country, price):
    r = rate_call(out(number, 60), tariff())
    assert (r.zone, r.prefix, r.country, r.price_per_minute) == (zone, prefix, country, price)
    assert r.cost == price  # exactly one minute


def test_exact_service_number_does_not_match_longer_numbers():
    t = tariff(destinations=(Destination("112", "service", exact=True), Destination("1", "international", country="US")))
    assert rate_call(out("112", 10), t).zone == "service"
    assert rate_call(out("+11234567890", 10), t).zone == "international"


def test_unknown_destination_is_an_error_not_free():
    t = tariff(destinations=(Destination("7495", "local"),))
    with pytest.raises(RatingError, match="no destination"):
        rate_call(out("+4930123456", 60), t)


def test_missing_price_is_an_error():
    t = tariff(prices={"local": 100})
    with pytest.raises(RatingError, match="no price for mobile"):
        rate_call(out("89161234567", 60), t)


@pytest.mark.parametrize("step,billsec,rated", [
    ("60/60", 0, 0), ("60/60", 1, 60), ("60/60", 60, 60), ("60/60", 61, 120), ("60/60", 179, 180),
    ("1/1", 1, 1), ("1/1", 61, 61),
    ("6/6", 1, 6), ("6/6", 7, 12), ("6/6", 60, 60), ("6/6", 61, 66),
    ("60/1", 5, 60), ("60/1", 61, 61), ("60/1", 125, 125),
    ("30/6", 31, 36),
])
def test_billing_step(step, billsec, rated):
    assert BillingStep.parse(step).rated_seconds(billsec) == rated


@pytest.mark.parametrize("bad", ["60", "0/60", "60/0", "a/b", "60/99999"])
def test_bad_step_rejected(bad):
    with pytest.raises(RatingError):
        BillingStep.parse(bad)


def test_per_second_cost_rounds_half_up_per_call():
    t = tariff(step=BillingStep(1, 1))
    # 120 kop/min = 2 kop/s exactly
    assert rate_call(out("84951234567", 61), t).cost == 122
    # 190 kop/min: 7 s -> 22.166 -> 22 ; 3 s -> 9.5 -> 10 (half up)
    assert rate_call(out("89161234567", 7), t).cost == 22
    assert rate_call(out("89161234567", 3), t).cost == 10


def test_unanswered_and_grace():
    assert rate_call(out("84951234567", 0), tariff()).cost == 0
    t = tariff(grace_seconds=3)
    r = rate_call(out("84951234567", 3), t)
    assert (r.rated_seconds, r.cost) == (0, 0)
    assert rate_call(out("84951234567", 4), t).cost == 120


def test_internal_and_inbound_free_by_default_and_priced_when_set():
    for direction in ("internal", "inbound"):
        r = rate_call(CallToRate(direction, "101", 600), tariff())
        assert (r.zone, r.cost) == (direction, 0)
    t = tariff(inbound_price=50)
    r = rate_call(CallToRate("inbound", "88001234567", 90), t)
    assert (r.zone, r.rated_seconds, r.cost) == ("inbound", 120, 100)


def test_free_minutes_cover_then_charge_the_rest():
    t = tariff(free_minutes=5)
    whole = rate_call(out("84951234567", 100), t, free_seconds_left=300)
    assert (whole.rated_seconds, whole.free_seconds, whole.cost) == (120, 120, 0)
    crossing = rate_call(out("84951234567", 100), t, free_seconds_left=60)
    assert (crossing.free_seconds, crossing.cost) == (60, 120)   # 1 min free, 1 min paid
    empty = rate_call(out("84951234567", 100), t, free_seconds_left=0)
    assert (empty.free_seconds, empty.cost) == (0, 240)


def test_free_minutes_do_not_apply_outside_their_zones_or_to_free_numbers():
    t = tariff(free_minutes=100)
    intl = rate_call(out("+4930123456", 60), t, free_seconds_left=6000)
    assert (intl.free_seconds, intl.cost) == (0, 1500)
    free = rate_call(out("88001234567", 60), t, free_seconds_left=6000)
    assert free.free_seconds == 0


def test_pool_sequence_over_a_month():
    """Ten 1-minute local calls against a 3-minute pool: 3 free, 7 paid."""
    t = tariff(free_minutes=3)
    left, total = t.free_minutes * 60, 0
    for _ in range(10):
        r = rate_call(out("84951234567", 45), t, free_seconds_left=left)
        left -= r.free_seconds
        total += r.cost
    assert left == 0 and total == 7 * 120


def test_tariff_round_trip_and_validation():
    t = tariff(free_minutes=10, step=BillingStep(6, 6))
    assert Tariff.from_dict(t.to_dict()) == t
    with pytest.raises(TypeError):
        tariff(prices={"local": 1.2})
    with pytest.raises(RatingError, match="unknown zone"):
        Destination("7", "moon")
    with pytest.raises(RatingError, match="country"):
        Destination("49", "international")
    with pytest.raises(RatingError, match="twice"):
        tariff(destinations=(Destination("7", "local"), Destination("7", "mobile")))


@given(st.integers(0, 100_000), st.sampled_from(["60/60", "1/1", "6/6", "60/1", "30/6"]))
def test_step_never_undercharges(billsec, step):
    s = BillingStep.parse(step)
    rated = s.rated_seconds(billsec)
    assert rated >= billsec
    assert rated - billsec < max(s.first, s.step)
    assert rated == 0 or rated == s.first or (rated - s.first) % s.step == 0


@given(st.integers(0, 20_000), st.integers(0, 20_000))
def test_cost_is_int_and_pool_bounded(billsec, pool):
    r = rate_call(out("84951234567", billsec), tariff(step=BillingStep(1, 1)), free_seconds_left=pool)
    assert type(r.cost) is int and r.cost >= 0
    assert r.free_seconds <= pool and r.free_seconds <= r.rated_seconds
    assert r.cost == div_half_up((r.rated_seconds - r.free_seconds) * 120, 60)


# ------------------------------------------------------------------ fees

def test_prorate_by_days():
    assert prorate(30000, 2025, 11) == (30000, 30, 30)
    assert prorate(30000, 2025, 11, active_from=date(2025, 11, 16)) == (15000, 15, 30)
    assert prorate(31000, 2025, 12, active_until=date(2025, 12, 11)) == (10000, 10, 31)
    assert prorate(10000, 2025, 11, date(2025, 11, 5), date(2025, 11, 5)) == (0, 0, 30)
    assert prorate(10000, 2025, 2, date(2025, 2, 28)) == (357, 1, 28)  # 357.14 -> 357


def test_monthly_fees_skip_inactive_and_multiply_quantity():
    subs = [
        Subscription("edition", "Версия «Офис»", 99000, vat=False),
        Subscription("number:74951234567", "Номер", 50000, active_from=date(2025, 11, 21)),
        Subscription("service:extra_employees", "Доп. сотрудники", 10000, quantity=3),
        Subscription("service:old", "Отключена", 10000, active_until=date(2025, 10, 1)),
    ]
    fees = monthly_fees(subs, 2025, 11)
    assert [(f.key, f.amount, f.days, f.vat) for f in fees] == [
        ("edition", 99000, 30, False), ("number:74951234567", 16667, 10, True),
        ("service:extra_employees", 30000, 30, True)]


# ------------------------------------------------------------------ tariff change

def test_tariff_change_once_per_calendar_month():
    check_tariff_change(None, date(2025, 11, 15))
    check_tariff_change(date(2025, 10, 31), date(2025, 11, 1))
    with pytest.raises(TariffChangeError) as exc:
        check_tariff_change(date(2025, 12, 2), datetime(2025, 12, 31, 23, 59))
    assert exc.value.next_allowed == date(2026, 1, 1)
    assert "01.01.2026" in exc.value.message_ru and "once per calendar month" in exc.value.message_en
    assert "не чаще одного раза" in exc.value.message_ru


# ------------------------------------------------------------------ money

def test_money_helpers():
    assert parse_rub("1 100,50") == 110050
    assert parse_rub("0.1") == 10
    assert parse_rub(7) == 700
    for bad in ("1,005", "-5", "abc", "NaN"):
        with pytest.raises(ValueError):
            parse_rub(bad)
    with pytest.raises(TypeError):
        parse_rub(1.5)
    assert format_rub(110050) == "1\u00a0100,50"
    assert format_rub(-5) == "-0,05"
    assert vat_included(120000, 20) == 20000
    assert vat_included(100, 20) == 17  # 16.67
    assert vat_included(100, 0) == 0


@pytest.mark.parametrize("kop,words", [
    (110000, "Одна тысяча сто рублей 00 копеек"),
    (2102, "Двадцать один рубль 02 копейки"),
    (200, "Два рубля 00 копеек"),
    (2100001, "Двадцать одна тысяча рублей 01 копейка"),
    (0, "Ноль рублей 00 копеек"),
])
def test_amount_in_words(kop, words):
    assert amount_in_words_ru(kop) == words


def test_a_call_into_the_tenants_own_trunk_is_not_charged_by_the_platform():
    """Not carried by the platform's network: zone ``trunk``, no price, no free minutes used,
    whatever the number (even one the destination table does not know)."""
    t = tariff(free_minutes=100)
    for number in ("74991234567", "100", "+4930123456"):
        call = CallToRate("outbound", number, 125, via_trunk=True)
        r = rate_call(call, t, free_seconds_left=6000)
        assert (r.zone, r.cost, r.rated_seconds, r.free_seconds, r.price_per_minute) == ("trunk", 0, 0, 0, 0)
    assert rate_call(CallToRate("outbound", "74991234567", 125), t).cost > 0  # through the platform: charged

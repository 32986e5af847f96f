"""The seed's default Russian tariff rates what a Moscow office dials, and the monthly limit of
tariff changes is computed in the PBX's time zone."""
from datetime import date, datetime, timezone

import pytest

from jobs.billing.rating import CallToRate, Tariff, rate_call
from jobs.billing.tariffs import DEFAULT_TARIFF, next_change_from, tariff_summary


@pytest.mark.parametrize("dialled, billsec, zone, country, cost", [
    ("1234567", 60, "local", None, 100),              # a 7-digit city number: Moscow
    ("84951234567", 61, "local", None, 200),          # per minute, rounded up
    ("89161234567", 30, "mobile", None, 250),
    ("83432123456", 120, "long_distance", None, 700),  # Yekaterinburg
    ("88001234567", 600, "free", None, 0),
    ("112", 90, "service", None, 0),
    ("+49 30 1234567", 60, "international", "DE", 1200),
    ("810 77 01 234 56 78", 60, "international", "KZ", 1200),  # Kazakhstan's +77 is not Russian long distance
    ("+44 20 7946 0000", 60, "international", "GB", 1200),
    ("+33 1 23 45 67 89", 60, "international", None, None),  # France is not in the table: an error, never free
])
def test_default_tariff_rates_common_destinations(dialled, billsec, zone, country, cost):
    t = Tariff.from_dict(DEFAULT_TARIFF.to_dict())  # as stored and read back
    call = CallToRate("outbound", dialled, billsec)
    if cost is None:
        from jobs.billing.rating import RatingError
        with pytest.raises(RatingError):
            rate_call(call, t)
        return
    r = rate_call(call, t)
    assert (r.zone, r.country, r.cost) == (zone, country, cost)


def test_inbound_and_internal_calls_are_free_on_the_default_tariff():
    assert rate_call(CallToRate("inbound", "74951234567", 300), DEFAULT_TARIFF).cost == 0
    assert rate_call(CallToRate("internal", "101", 300), DEFAULT_TARIFF).cost == 0


def test_next_change_is_counted_in_the_pbx_time_zone():
    # changed at 20:30 UTC on 31 March: 23:30 in Moscow (March), 06:30 on 1 April in Vladivostok
    pbx = {"time_zone": "Asia/Vladivostok", "tariff_changed_at": datetime(2026, 3, 31, 20, 30, tzinfo=timezone.utc)}
    assert next_change_from(pbx, datetime(2026, 4, 20, tzinfo=timezone.utc)) == date(2026, 5, 1)
    assert next_change_from({**pbx, "time_zone": "Europe/Moscow"}, datetime(2026, 4, 20, tzinfo=timezone.utc)) is None
    assert next_change_from({"time_zone": "Europe/Moscow"}) is None  # never changed


def test_summary_splits_zone_and_country_prices():
    s = tariff_summary(DEFAULT_TARIFF.to_dict())
    assert s["prices"]["mobile"] == 250 and "international:DE" not in s["prices"] and s["countries"]["DE"] == 1200

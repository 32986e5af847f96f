"""The process clock (pult/clock.py): a test sets the time instead of depending on the hour."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from pult import clock
from pult.clock import FixedClock, SystemClock, use_clock

MSK = ZoneInfo("Europe/Moscow")


def test_the_system_clock_is_aware_utc_and_close_to_the_machine():
    c = SystemClock()
    t = c.now()
    assert t.tzinfo is not None and t.utcoffset() == timedelta(0)
    assert abs((t - datetime.now(timezone.utc)).total_seconds()) < 5
    assert abs(c.timestamp() - t.timestamp()) < 5


def test_a_fixed_clock_stands_still_until_moved():
    c = FixedClock("2026-12-06T22:30:00Z")
    assert c.now() == datetime(2026, 12, 6, 22, 30, tzinfo=timezone.utc) == c.now()
    c.advance(hours=2)
    assert c.now() == datetime(2026, 12, 7, 0, 30, tzinfo=timezone.utc)
    c.advance(90)
    assert c.now() == datetime(2026, 12, 7, 0, 31, 30, tzinfo=timezone.utc)
    assert c() == c.timestamp() == c.now().timestamp()  # the time.time() shape
    c.set(datetime(2026, 1, 1, 12, 0))  # naive = UTC
    assert c.now() == datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
    c.set(datetime(2026, 1, 1, 12, 0, tzinfo=MSK))  # another zone: the same instant, in UTC
    assert c.now() == datetime(2026, 1, 1, 9, tzinfo=timezone.utc) and c.now().tzinfo == timezone.utc
    with pytest.raises(TypeError):
        c.set(date(2026, 1, 1))


def test_use_clock_sets_the_process_clock_for_a_block_and_restores_it():
    before = clock.get_clock()
    with use_clock(FixedClock("2026-12-06T22:30:00+00:00")) as c:
        assert clock.get_clock() is c
        assert clock.now() == datetime(2026, 12, 6, 22, 30, tzinfo=timezone.utc)
        assert clock.timestamp() == clock.now().timestamp()
        # 22:30 UTC is already tomorrow in Moscow: the local date is the zone's, not the server's
        assert clock.today(MSK) == date(2026, 12, 7)
        assert clock.today(timezone.utc) == date(2026, 12, 6)
        assert clock.local_now(MSK).hour == 1 and clock.local_now(MSK).utcoffset() == timedelta(hours=3)
    assert clock.get_clock() is before


def test_set_clock_none_is_the_machine_clock_again():
    previous = clock.set_clock(FixedClock("2000-01-01T00:00:00Z"))
    try:
        assert clock.now().year == 2000
        clock.set_clock(None)
        assert isinstance(clock.get_clock(), SystemClock) and clock.now().year >= 2026
    finally:
        clock.set_clock(previous)

"""Day groups, schedules and scheme time blocks: seed 000 §3.1-3.2, PRODUCT.md §3, inventory A §4.4.2.1.

Errata / open points decided:

- Seed 000 §3.2 "00.00 to 23.59 (difference 1 second)": 23:59 means the end of the day, so
  00:00-23:59 covers 23:59:59; other ends are exclusive (09:00-18:00 ends at 18:00:00).
- Inventory A: "the time zone for scheme schedules is not stated": PRODUCT.md §3 sets the PBX time
  zone, default Europe/Moscow.
- Intervals crossing midnight are refused (no document allows them); the message says how to split.
- Inventory A ambiguity 12: the 2016 holiday list is data given to a day group, not code; the
  pre-holiday working Saturday 20.02.2016 is a ``workday`` special date.
"""
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from esl_control.routing.errors import RuleError
from esl_control.routing.schedules import (DayGroup, SpecialDate, check_day_group_deletable,
                                           choose_time_block, make_day_group, make_interval,
                                           make_schedule, parse_hhmm, schedule_matches,
                                           validate_timezone)

MSK = ZoneInfo("Europe/Moscow")

# Inventory A §4.2.3: RF 2016 holidays 01.01-10.01, 22.02-23.02, 07.03-08.03, 02.05-03.05, 09.05,
# 13.06, 04.11; pre-holiday (working) Saturday 20.02.
RF_2016 = ([(f"{d:02d}.01.2016", "Новогодние каникулы") for d in range(1, 11)]
           + [("22.02.2016", "День защитника Отечества (перенос)"), ("23.02.2016", "День защитника Отечества"),
              ("07.03.2016", "Международный женский день (перенос)"), ("08.03.2016", "Международный женский день"),
              ("02.05.2016", "Праздник Весны и Труда (перенос)"), ("03.05.2016", "Праздник Весны и Труда (перенос)"),
              ("09.05.2016", "День Победы"), ("13.06.2016", "День России (перенос)"),
              ("04.11.2016", "День народного единства"),
              ("20.02.2016", "Рабочая суббота", "workday")])


@pytest.fixture
def groups():
    work = make_day_group("Рабочие дни", [1, 2, 3, 4, 5], RF_2016, id="work")
    weekend = make_day_group("Выходные", [6, 7], id="weekend")
    friday = make_day_group("Пятница", ["5"], id="friday")
    return {g.id: g for g in (work, weekend, friday)}


def test_day_group_with_holidays(groups):
    work = groups["work"]
    assert work.includes(date(2016, 1, 11))          # Monday after the New Year holidays
    assert not work.includes(date(2016, 1, 5))       # Tuesday, holiday: non-working scenario
    assert not work.includes(date(2016, 2, 23))
    assert work.includes(date(2016, 2, 20))          # Saturday made a working day
    assert not work.includes(date(2016, 2, 21))      # ordinary Sunday
    assert not work.includes(date(2017, 1, 7)) and work.includes(date(2017, 1, 9))  # 2016 data only
    names = [s.name for s in work.holidays_in(2016)]
    assert len(names) == 20 and names[0] == "Новогодние каникулы"
    assert work.holidays_in(2017) == []


def test_standard_working_hours_template(groups):
    """Inventory A §4.2.3 'standard hours': weekdays 9:00-18:00, Friday 9:00-17:00."""
    mon_thu = make_day_group("Пн-Чт", [1, 2, 3, 4], id="mon_thu")
    groups = dict(groups, mon_thu=mon_thu)
    office = make_schedule("Офис", [("mon_thu", "09:00", "18:00"), ("friday", "09:00", "17:00")],
                           day_groups=groups)
    at = lambda y, m, d, hh, mm, ss=0: datetime(y, m, d, hh, mm, ss, tzinfo=MSK)
    assert office.matches(at(2024, 6, 3, 9, 0), groups)        # Monday 09:00 inclusive
    assert office.matches(at(2024, 6, 3, 17, 59, 59), groups)
    assert not office.matches(at(2024, 6, 3, 18, 0), groups)   # end exclusive
    assert not office.matches(at(2024, 6, 3, 8, 59, 59), groups)
    assert office.matches(at(2024, 6, 7, 16, 30), groups)      # Friday
    assert not office.matches(at(2024, 6, 7, 17, 30), groups)
    assert not office.matches(at(2024, 6, 8, 12, 0), groups)   # Saturday


def test_all_day_is_00_00_to_23_59(groups):
    s = make_schedule("Круглосуточно", [("weekend", "00.00", "23.59")], day_groups=groups)
    assert s.intervals[0].all_day
    assert s.matches(datetime(2024, 6, 8, 0, 0, tzinfo=MSK), groups)
    assert s.matches(datetime(2024, 6, 9, 23, 59, 59, 999999, tzinfo=MSK), groups)
    assert not s.matches(datetime(2024, 6, 10, 0, 0, tzinfo=MSK), groups)


def test_time_zone_conversion(groups):
    s = make_schedule("Офис", [("work", "09:00", "18:00")], day_groups=groups)
    utc_0630 = datetime(2024, 6, 3, 6, 30, tzinfo=timezone.utc)    # 09:30 in Moscow
    assert schedule_matches(s, utc_0630, groups)
    assert schedule_matches(s, utc_0630, groups, tz=None)          # default Europe/Moscow
    assert schedule_matches(s, utc_0630, groups, tz="Asia/Yekaterinburg")  # 11:30 there
    assert not schedule_matches(s, utc_0630, groups, tz="Europe/London")  # 07:30 there
    # naive = PBX local wall time
    assert schedule_matches(s, datetime(2024, 6, 3, 9, 30), groups, tz="Asia/Irkutsk")
    # UTC late Friday evening is already Saturday in Moscow
    assert not schedule_matches(s, datetime(2024, 6, 7, 22, 0, tzinfo=timezone.utc), groups)
    assert schedule_matches(None, utc_0630, groups)                # no schedule = always


def test_choose_time_block(groups):
    office = make_schedule("Офис", [("work", "09:00", "18:00")], day_groups=groups)
    lunch = make_schedule("Обед", [("work", "13:00", "14:00")], day_groups=groups)
    blocks = [lunch, office, None]   # last = any other time
    at = lambda hh: datetime(2024, 6, 4, hh, 30, tzinfo=MSK)
    assert choose_time_block(blocks, at(13), groups) == 0
    assert choose_time_block(blocks, at(10), groups) == 1
    assert choose_time_block(blocks, at(20), groups) == 2
    assert choose_time_block(blocks, datetime(2016, 1, 5, 10, 0, tzinfo=MSK), groups) == 2   # holiday
    assert choose_time_block([None], at(10), groups) == 0             # new scheme: "at any time"
    assert choose_time_block([office, office], at(20), groups.values()) == 1  # last is catch-all
    with pytest.raises(RuleError) as e:
        choose_time_block([], at(10), groups)
    assert e.value.code == "schedule.blocks"


@pytest.mark.parametrize("start,end,code,field", [
    ("22:00", "06:00", "schedule.crosses_midnight", "end"),
    ("09:00", "09:00", "schedule.empty_interval", "end"),
    ("24:00", "23:59", "schedule.time", "start"),
    ("9", "18:00", "schedule.time", "start"),
    ("09:00", "18:60", "schedule.time", "end"),
    ("09:00", "", "schedule.time", "end"),
])
def test_interval_refusals(groups, start, end, code, field):
    with pytest.raises(RuleError) as e:
        make_interval("work", start, end, day_groups=groups)
    assert (e.value.code, e.value.field) == (code, field)


def test_crossing_midnight_message_suggests_split(groups):
    with pytest.raises(RuleError) as e:
        make_interval("work", "22:00", "06:00")
    assert "22:00–23:59 and 00:00–06:00" in str(e.value)
    assert "22:00–23:59 и 00:00–06:00" in e.value.message("ru")


def test_schedule_refusals(groups):
    with pytest.raises(RuleError) as e:
        make_schedule("Пустой", [], day_groups=groups)
    assert e.value.code == "schedule.no_intervals" and "хотя бы один интервал" in e.value.message("ru")
    with pytest.raises(RuleError) as e:
        make_schedule("  ", [("work", "09:00", "18:00")])
    assert e.value.code == "schedule.name"
    with pytest.raises(RuleError) as e:
        make_schedule("X", [{"day_group": "nights", "start": "09:00", "end": "18:00"}], day_groups=groups)
    assert e.value.code == "schedule.unknown_day_group" and e.value.params["day_group"] == "nights"


@pytest.mark.parametrize("kwargs,code", [
    (dict(name="", weekdays=[1]), "daygroup.name"),
    (dict(name="X", weekdays=[0]), "daygroup.weekday"),
    (dict(name="X", weekdays=[8]), "daygroup.weekday"),
    (dict(name="X", weekdays=["пн"]), "daygroup.weekday"),
    (dict(name="X", weekdays=[]), "daygroup.empty"),
    (dict(name="X", weekdays=[], special_dates=[("01.01.2025", "НГ")]), "daygroup.empty"),
    (dict(name="X", weekdays=[1], special_dates=[("31.02.2025", "Нет такой")]), "daygroup.date"),
    (dict(name="X", weekdays=[1], special_dates=[("01.01.2025", " ")]), "daygroup.holiday_name"),
    (dict(name="X", weekdays=[1], special_dates=[("01.01.2025", "A"), ("2025-01-01", "B")]),
     "daygroup.duplicate_date"),
    (dict(name="X", weekdays=[1], special_dates=[("01.01.2025", "A", "vacation")]), "daygroup.special_kind"),
])
def test_day_group_refusals(kwargs, code):
    with pytest.raises(RuleError) as e:
        make_day_group(**kwargs)
    assert e.value.code == code
    assert e.value.message("ru") != e.value.message("en")


def test_group_of_only_working_dates_is_allowed():
    g = make_day_group("Отработки", [], [{"date": "2016-02-20", "name": "Рабочая суббота", "kind": "workday"}])
    assert g.includes(date(2016, 2, 20)) and not g.includes(date(2016, 2, 22))


def test_day_group_in_use_cannot_be_deleted(groups):
    office = make_schedule("Офис", [("work", "09:00", "18:00")], day_groups=groups, id="s1")
    night = make_schedule("Ночь", [("weekend", "00:00", "08:00"), ("work", "00:00", "08:00")], id="s2")
    with pytest.raises(RuleError) as e:
        check_day_group_deletable(groups["work"], [office, night])
    assert e.value.code == "daygroup.in_use"
    assert "Офис, Ночь" in e.value.message("ru")
    check_day_group_deletable(groups["friday"], [office, night])   # unused: no error


def test_timezone_validation():
    assert validate_timezone(None).key == "Europe/Moscow"
    assert validate_timezone("Asia/Yekaterinburg").key == "Asia/Yekaterinburg"
    assert validate_timezone(" Europe/Moscow ").key == "Europe/Moscow"
    for bad in ("Moscow", "Europe/Nowhere", "../etc/passwd", "Europe/Moscow/x"):
        with pytest.raises(RuleError) as e:
            validate_timezone(bad)
        assert e.value.code == "schedule.timezone"


def test_parse_hhmm_accepts_time_objects():
    assert parse_hhmm(time(9, 5, 33)) == time(9, 5)
    assert parse_hhmm("9:05") == time(9, 5)


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
       st.integers(0, 23 * 60 + 58), st.integers(1, 23 * 60 + 59))
def test_interval_covers_exactly_its_minutes(moment, a, b):
    if a == b:
        return
    lo, hi = min(a, b), max(a, b)
    groups = {"all": DayGroup("all", "Все дни", frozenset(range(1, 8)))}
    iv = make_interval("all", f"{lo // 60:02d}:{lo % 60:02d}", f"{hi // 60:02d}:{hi % 60:02d}")
    minute = moment.hour * 60 + moment.minute
    expected = lo <= minute < hi or (hi == 23 * 60 + 59 and minute >= lo)
    assert iv.covers(moment, groups) == expected


def test_special_date_kind_default():
    assert SpecialDate(date(2025, 1, 1), "НГ").kind == "holiday"

"""Day groups, schedules and "which time block of a scheme applies now".

Sources:

- Seed 000 §3.1 «Группы дней»: a day group is a set of weekdays ("working days", "weekends") plus
  holidays or other special dates, each with a date and a name; "on holidays the calls follow the
  non-working-time scenario"; a day group used by a schedule cannot be deleted.
- Seed 000 §3.2 «Временные графики»: a named schedule has at least one interval made of a day
  group and a from-to time in hours:minutes; round the clock is "from 00.00 to 23.59 (difference
  1 second)".
- PRODUCT.md §3: schedules are reused by scheme time blocks, contact methods and widgets; they are
  evaluated in the PBX time zone (a PBX setting, default Europe/Moscow); holidays of a year are
  data, not code.
- Inventory A §4.4.2.1: a scheme's time blocks are an ordered first-match list whose last block is
  "at any other time".

Decisions (the documents are silent):

- Interval ends are exclusive (09:00-18:00 is over at 18:00:00), except that 23:59 means "to the
  end of the day", which is what seed 000's all-day 00:00-23:59 "difference 1 second" says.
- An interval crossing midnight (22:00-06:00) is refused: nothing in the documents allows it and
  a day group names the day the interval starts AND ends in; the message suggests the split
  22:00-23:59 plus 00:00-06:00 (the second part belongs to the next day's day group).
- A special date is a ``holiday`` (the group does not apply that day although the weekday is in
  it: seed 000) or a ``workday`` (the group applies that day although the weekday is not in it:
  the Russian calendar's working Saturdays, e.g. the pre-holiday Saturday 20.02.2016 of
  inventory A §4.2.3).
- Weekdays are ISO numbers 1 (Monday) to 7 (Sunday).
- A naive datetime passed to the evaluators is taken as PBX-local wall time (the dry-run simulator
  passes those); an aware one is converted to the PBX zone.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from esl_control.routing.errors import RuleError

DEFAULT_TIMEZONE = "Europe/Moscow"
HOLIDAY = "holiday"
WORKDAY = "workday"
WORKING_DAYS = frozenset({1, 2, 3, 4, 5})
WEEKEND = frozenset({6, 7})
ALL_WEEK = frozenset(range(1, 8))
DAY_END = time(23, 59)
"""An interval ending at 23:59 lasts to the end of the day (seed 000 §3.2)."""

_TIME = re.compile(r"(\d{1,2})[:.](\d{2})", re.ASCII)


@dataclass(frozen=True)
class SpecialDate:
    """A holiday (the group does not apply) or an extra working day (it does), with its name."""

    date: date
    name: str
    kind: str = HOLIDAY


@dataclass(frozen=True)
class DayGroup:
    """Weekdays plus special dates; build and validate with :func:`make_day_group`."""

    id: str
    name: str
    weekdays: frozenset[int]
    special_dates: tuple[SpecialDate, ...] = ()
    _by_date: Mapping[date, SpecialDate] = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self):
        object.__setattr__(self, "_by_date", {s.date: s for s in self.special_dates})

    def includes(self, day: date) -> bool:
        """Does this group apply on ``day`` (a local calendar date)?"""
        special = self._by_date.get(day)
        if special is not None:
            return special.kind == WORKDAY
        return day.isoweekday() in self.weekdays

    def holidays_in(self, year: int) -> list[SpecialDate]:
        """Special dates of ``year`` in date order (the cabinet shows them by year)."""
        return sorted((s for s in self.special_dates if s.date.year == year), key=lambda s: s.date)


def _text(raw: Any, code: str, field: str | None = None, **params: Any) -> str:
    """A stripped text value; ``None`` is empty text; any other JSON type (a list, a number, an
    object) breaks the rule ``code`` (raised with ``params``) instead of failing in ``.strip()``."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise RuleError(code, field=field, **params)
    return raw.strip()


def parse_date(value: date | str) -> date:
    """``dd.mm.yyyy`` (the cabinet's format, inventory A §0) or ISO ``yyyy-mm-dd``."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value, "daygroup.date", "date", value=value)
    try:
        if re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{4}", text):
            d, m, y = text.split(".")
            return date(int(y), int(m), int(d))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise RuleError("daygroup.date", field="date", value=value)


def make_day_group(name: str, weekdays: Iterable[int | str],
                   special_dates: Iterable[SpecialDate | tuple | Mapping] = (), *,
                   id: str | None = None) -> DayGroup:
    """Validate form values into a :class:`DayGroup`.

    ``special_dates`` items are :class:`SpecialDate`, ``(date, name[, kind])`` tuples or mappings
    with ``date``, ``name`` and optional ``kind``; dates may be ``dd.mm.yyyy`` strings.
    """
    name = _text(name, "daygroup.name", "name")
    if not name:
        raise RuleError("daygroup.name", field="name")
    days: set[int] = set()
    for w in weekdays:
        try:
            n = int(w)
        except (TypeError, ValueError):
            n = 0
        if not 1 <= n <= 7 or isinstance(w, bool):
            raise RuleError("daygroup.weekday", field="weekdays", value=w)
        days.add(n)
    specials: list[SpecialDate] = []
    seen: set[date] = set()
    for item in special_dates:
        if isinstance(item, SpecialDate):
            d, label, kind = item.date, item.name, item.kind
        elif isinstance(item, Mapping):
            d, label, kind = item.get("date"), item.get("name"), item.get("kind", HOLIDAY)
        else:
            d, label, kind = (tuple(item) + (HOLIDAY,))[:3]
        d = parse_date(d)
        label = _text(label, "daygroup.holiday_name", "special_dates", date=d.strftime("%d.%m.%Y"))
        if not label:
            raise RuleError("daygroup.holiday_name", field="special_dates", date=d.strftime("%d.%m.%Y"))
        if kind not in (HOLIDAY, WORKDAY):
            raise RuleError("daygroup.special_kind", field="special_dates", kind=kind)
        if d in seen:
            raise RuleError("daygroup.duplicate_date", field="special_dates", date=d.strftime("%d.%m.%Y"),
                            name=name)
        seen.add(d)
        specials.append(SpecialDate(d, label, kind))
    if not days and not any(s.kind == WORKDAY for s in specials):
        raise RuleError("daygroup.empty", field="weekdays", name=name)
    specials.sort(key=lambda s: s.date)
    return DayGroup(id or name, name, frozenset(days), tuple(specials))


def parse_hhmm(value: time | str) -> time:
    """``HH:MM`` (or seed 000's ``HH.MM``) from 00:00 to 23:59."""
    if isinstance(value, time):
        return value.replace(second=0, microsecond=0, tzinfo=None)
    m = _TIME.fullmatch(_text(value, "schedule.time", value=value))
    if m and int(m.group(1)) <= 23 and int(m.group(2)) <= 59:
        return time(int(m.group(1)), int(m.group(2)))
    raise RuleError("schedule.time", value=value)


@dataclass(frozen=True)
class Interval:
    """A day group and a from-to time of day; see the module notes for the end rule."""

    day_group: str
    start: time
    end: time

    @property
    def all_day(self) -> bool:
        return self.start == time(0, 0) and self.end == DAY_END

    def covers(self, local: datetime, day_groups: Mapping[str, DayGroup]) -> bool:
        group = day_groups.get(self.day_group)
        if group is None or not group.includes(local.date()):
            return False
        t = local.time().replace(tzinfo=None)
        if t < self.start:
            return False
        if self.end == DAY_END:
            return True
        return t < self.end


def make_interval(day_group: str, start: time | str, end: time | str, *,
                  day_groups: Mapping[str, DayGroup] | None = None) -> Interval:
    """Validate one interval; with ``day_groups`` given, the day group must exist."""
    s = _field(parse_hhmm, start, "start")
    e = _field(parse_hhmm, end, "end")
    text_s, text_e = s.strftime("%H:%M"), e.strftime("%H:%M")
    if e == s:
        raise RuleError("schedule.empty_interval", field="end", start=text_s, end=text_e)
    if e < s:
        raise RuleError("schedule.crosses_midnight", field="end", start=text_s, end=text_e)
    if day_groups is not None and (not isinstance(day_group, str) or day_group not in day_groups):
        raise RuleError("schedule.unknown_day_group", field="day_group", day_group=day_group)
    return Interval(day_group, s, e)


def _field(fn, value, name):
    try:
        return fn(value)
    except RuleError as exc:
        raise exc.for_field(name)


@dataclass(frozen=True)
class Schedule:
    """A named, reusable schedule: it applies when any of its intervals covers the moment."""

    name: str
    intervals: tuple[Interval, ...]
    id: str | None = None

    def matches(self, at: datetime, day_groups: Mapping[str, DayGroup] | Iterable[DayGroup],
                tz: str | ZoneInfo = DEFAULT_TIMEZONE) -> bool:
        local = to_local(at, tz)
        groups = _group_map(day_groups)
        return any(i.covers(local, groups) for i in self.intervals)


def make_schedule(name: str, intervals: Iterable[Interval | tuple | Mapping], *,
                  day_groups: Mapping[str, DayGroup] | Iterable[DayGroup] | None = None,
                  id: str | None = None) -> Schedule:
    """Validate a schedule: a name and at least one interval ``(day_group, from, to)``."""
    name = _text(name, "schedule.name", "name")
    if not name:
        raise RuleError("schedule.name", field="name")
    groups = None if day_groups is None else _group_map(day_groups)
    built = []
    for item in intervals:
        if isinstance(item, Interval):
            item = (item.day_group, item.start, item.end)
        if isinstance(item, Mapping):
            item = (item.get("day_group"), item.get("start"), item.get("end"))
        built.append(make_interval(*item, day_groups=groups))
    if not built:
        raise RuleError("schedule.no_intervals", field="intervals", name=name)
    return Schedule(name, tuple(built), id)


def _group_map(day_groups) -> Mapping[str, DayGroup]:
    if isinstance(day_groups, Mapping):
        return day_groups
    return {g.id: g for g in day_groups}


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def validate_timezone(name: str | ZoneInfo | None) -> ZoneInfo:
    """A PBX time zone setting: an IANA name such as ``Europe/Moscow``; ``None`` gives the default."""
    if isinstance(name, ZoneInfo):
        return name
    text = _text(name, "schedule.timezone", "timezone", value=name) or DEFAULT_TIMEZONE
    try:
        if not re.fullmatch(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*", text):
            raise ValueError(text)
        return _zone(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise RuleError("schedule.timezone", field="timezone", value=name) from None


def to_local(at: datetime, tz: str | ZoneInfo | None = DEFAULT_TIMEZONE) -> datetime:
    """``at`` as PBX-local wall time (naive ``at`` is taken as already local)."""
    zone = validate_timezone(tz)
    if at.tzinfo is None:
        return at.replace(tzinfo=zone)
    return at.astimezone(zone)


def schedule_matches(schedule: Schedule | None, at: datetime,
                     day_groups: Mapping[str, DayGroup] | Iterable[DayGroup],
                     tz: str | ZoneInfo | None = DEFAULT_TIMEZONE) -> bool:
    """Does ``schedule`` apply at ``at``? ``None`` (no schedule set) means always."""
    if schedule is None:
        return True
    return schedule.matches(at, day_groups, tz or DEFAULT_TIMEZONE)


def choose_time_block(schedules: Sequence[Schedule | None], at: datetime,
                      day_groups: Mapping[str, DayGroup] | Iterable[DayGroup],
                      tz: str | ZoneInfo | None = DEFAULT_TIMEZONE) -> int:
    """Index of the scheme time block that applies at ``at``.

    ``schedules`` lists the blocks' schedules in order; the last block is "at any other time" and
    its entry is ignored (pass ``None``). The first earlier block whose schedule matches wins.
    """
    if not schedules:
        raise RuleError("schedule.blocks")
    groups = _group_map(day_groups)
    local = to_local(at, tz)
    for index, schedule in enumerate(schedules[:-1]):
        if schedule is not None and any(i.covers(local, groups) for i in schedule.intervals):
            return index
    return len(schedules) - 1


def schedules_using(day_group_id: str, schedules: Iterable[Schedule]) -> list[Schedule]:
    """The schedules that refer to a day group."""
    return [s for s in schedules if any(i.day_group == day_group_id for i in s.intervals)]


def check_day_group_deletable(group: DayGroup, schedules: Iterable[Schedule]) -> None:
    """Seed 000 §3.1: a day group used by a schedule cannot be deleted (``daygroup.in_use``)."""
    users = schedules_using(group.id, schedules)
    if users:
        raise RuleError("daygroup.in_use", name=group.name,
                        schedules=", ".join(s.name for s in users))

"""Day groups and schedules: form input -> stored documents, using the rules of
:mod:`esl_control.routing.schedules` (which own every check and message).

Stored day group: ``{name, name_norm, weekdays: [1..7], special_dates: [{date: "YYYY-MM-DD",
name, kind: holiday|workday}]}``. Stored schedule: ``{name, name_norm, intervals: [{day_group:
<day group id>, start: "HH:MM", end: "HH:MM"}]}``.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Mapping

from esl_control.model.common import NAME_MAX, clean_id, clean_list, clean_mapping, norm_name
from esl_control.model.references import referrer
from esl_control.routing.errors import RuleError
from esl_control.routing.schedules import (DayGroup, Schedule, SpecialDate, make_day_group,
                                           make_schedule)


def clean_day_group(data: Mapping[str, Any]) -> dict:
    data = clean_mapping(data, "body", optional=False)
    specials = clean_list(data.get("special_dates"), "special_dates")
    for item in specials:
        clean_mapping(item, "special_dates", optional=False)
    group = make_day_group(data.get("name") or "", clean_list(data.get("weekdays"), "weekdays"), specials)
    if len(group.name) > NAME_MAX:
        raise RuleError("value.too_long", field="name", max=NAME_MAX)
    return {"name": group.name, "name_norm": norm_name(group.name), "weekdays": sorted(group.weekdays),
            "special_dates": [{"date": s.date.isoformat(), "name": s.name, "kind": s.kind}
                              for s in group.special_dates]}


def to_day_group(doc: Mapping[str, Any]) -> DayGroup:
    """The rules' :class:`DayGroup` of a stored document (id = document id)."""
    return DayGroup(doc["_id"], doc["name"], frozenset(doc.get("weekdays", ())),
                    tuple(SpecialDate(date.fromisoformat(s["date"]), s["name"], s.get("kind", "holiday"))
                          for s in doc.get("special_dates", ())))


def clean_schedule(data: Mapping[str, Any], day_groups: Mapping[str, DayGroup]) -> dict:
    """Validate a schedule; ``day_groups`` are this PBX's groups by id (unknown ids are refused)."""
    data = clean_mapping(data, "body", optional=False)
    intervals = clean_list(data.get("intervals"), "intervals")
    for item in intervals:
        clean_mapping(item, "intervals", optional=False)
        # not text is bad input (422); text that names no day group of the PBX is a clash with
        # the PBX's state (schedule.unknown_day_group, 409 over the API)
        clean_id(item.get("day_group"), "day_group")
    schedule = make_schedule(data.get("name") or "", intervals, day_groups=day_groups)
    if len(schedule.name) > NAME_MAX:
        raise RuleError("value.too_long", field="name", max=NAME_MAX)
    return {"name": schedule.name, "name_norm": norm_name(schedule.name),
            "intervals": [{"day_group": i.day_group, "start": i.start.strftime("%H:%M"),
                           "end": i.end.strftime("%H:%M")} for i in schedule.intervals]}


def to_schedule(doc: Mapping[str, Any]) -> Schedule:
    return make_schedule(doc["name"], doc.get("intervals", ()), id=doc["_id"])


@referrer("schedule")
def refs_of_schedule(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    for i in doc.get("intervals", ()):
        yield ("day_group", i["day_group"], "intervals")

"""REST API of day groups and schedules (``/api/v1/telephony/day-groups``, ``…/schedules``).

Rights: section ``call_handling`` (schedules belong to call handling: schemes, contact methods
and group members choose them). A day group used by a schedule, or a schedule used by a contact
method, a group member or a scheme block, is not deleted: 409 with the referrers.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from esl_control.model.calendars.services import DayGroupService, ScheduleService
from esl_control.routing.schedules import HOLIDAY, WORKDAY
from pult import clock
from pult.i18n import N_
from web.api_base import Param, operation
from web.api_fields import DATE_PATTERN, ORDER_EXTENSION, UNIQUE_EXTENSION, Int, Name, RefId, choice
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import OBJECT_ID, CollectionApi, Out, TelApi, crud, id_param

#: a time of day, 00:00 to 23:59
HourMinute = Annotated[str, StringConstraints(pattern="^([01][0-9]|2[0-3]):[0-5][0-9]$")]

SECTION = "call_handling"
TAG = "telephony: calendars"


class SpecialDateIO(Strict):
    date: Annotated[str, StringConstraints(pattern=DATE_PATTERN)] = Field(description="YYYY-MM-DD (dd.mm.yyyy accepted)")
    name: Name = Field(description="The day's name (a holiday's, or why it is a working day)")
    kind: choice((HOLIDAY, WORKDAY)) = HOLIDAY


class DayGroupIn(Strict):
    # each special date once (a rule the property-based run reads)
    model_config = ConfigDict(extra="forbid", regex_engine="python-re",
                              json_schema_extra={UNIQUE_EXTENSION: {"special_dates": ["date"]}})

    name: Name = Field(description="Unique in the PBX")
    # documented with at least one weekday: a group of no weekday and no extra working day never
    # applies and is refused (special_dates may still add working days)
    weekdays: list[Int(1, 7)] = Field(min_length=1, max_length=7, description="1 (Monday) … 7 (Sunday)")
    special_dates: list[SpecialDateIO] = Field(default_factory=list,
                                               description="Holidays (never match) and extra working days")


class DayGroupOut(Out):
    id: str
    name: str
    weekdays: list[int]
    special_dates: list[dict]
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class IntervalIO(Strict):
    # the end is later than the start: a rule of two fields (the property-based run reads it)
    model_config = ConfigDict(extra="forbid", regex_engine="python-re",
                              json_schema_extra={ORDER_EXTENSION: [["start", "end"]]})

    day_group: RefId = Field(description="Day group id")
    start: HourMinute = Field(description="HH:MM")
    end: HourMinute = Field(description="HH:MM, later than start (all day: 00:00–23:59)")


class ScheduleIn(Strict):
    name: Name
    intervals: list[IntervalIO] = Field(min_length=1, description="When the schedule applies: any interval matches")


class ScheduleOut(Out):
    id: str
    name: str
    intervals: list[dict]
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class HolidaysOut(Out):
    year: int
    items: list[SpecialDateIO]


crud("/api/v1/telephony/day-groups", "DayGroup", section=SECTION, tag=TAG, service_cls=DayGroupService,
     in_model=DayGroupIn, out_model=DayGroupOut, id_name="Day group id",
     list_params=[Param("q", description="Text to find in the name")],
     summaries={"list": N_("Day groups of the PBX"), "create": N_("Create a day group"),
                "get": N_("One day group"), "put": N_("Replace a day group"),
                "patch": N_("Change some fields of a day group"),
                "delete": N_("Delete a day group (refused while a schedule uses it)")})

class ScheduleCollection(CollectionApi):
    async def filter_items(self, items: list[dict]) -> list[dict]:
        items = await super().filter_items(items)
        day_group = self.text_arg("day_group")
        if day_group:
            items = [s for s in items if any(i.get("day_group") == day_group for i in s.get("intervals", ()))]
        return items


crud("/api/v1/telephony/schedules", "Schedule", section=SECTION, tag=TAG, service_cls=ScheduleService,
     in_model=ScheduleIn, out_model=ScheduleOut, id_name="Schedule id", collection_base=ScheduleCollection,
     list_params=[Param("q", description="Text to find in the name"),
                  Param("day_group", description="Only schedules using this day group id")],
     summaries={"list": N_("Schedules of the PBX"), "create": N_("Create a schedule"),
                "get": N_("One schedule"), "put": N_("Replace a schedule"),
                "patch": N_("Change some fields of a schedule"),
                "delete": N_("Delete a schedule (refused while something uses it)")})


@route("/api/v1/telephony/day-groups/{id}/holidays", access="tenant", section=SECTION, params={"id": OBJECT_ID})
class DayGroupHolidaysApi(TelApi):
    @operation(N_("Holidays and working dates of a day group in one year"), response=HolidaysOut, tags=[TAG],
               params=[id_param("id", "Day group id"),
                       Param("year", schema={"type": "integer", "minimum": 1970, "maximum": 2100},
                             description="Year (default: this year)")],
               errors=(400, 401, 403, 404))
    async def get(self, id: str) -> None:
        year = self.int_arg("year", clock.today(self.tz()).year, minimum=1970, maximum=2100)
        items = await self.service(DayGroupService).holidays(id, year)
        self.reply_model(HolidaysOut, {"year": year, "items": items})

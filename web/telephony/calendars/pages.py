"""Cabinet pages of calendars: day groups (weekdays, holidays and special dates by year) and
schedules (rows of intervals "day group, from, to").

Rights: section ``call_handling`` (as the REST API), view to read, edit to change.
"""
from __future__ import annotations

from collections import defaultdict

from esl_control.model.calendars.services import DayGroupService, ScheduleService
from esl_control.routing.errors import RuleError
from esl_control.routing.schedules import make_day_group, make_schedule
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.pages_common import FormPage, TelPage, locate_row, object_pages

SECTION = "call_handling"
WEEKDAYS = ((1, N_("Mon")), (2, N_("Tue")), (3, N_("Wed")), (4, N_("Thu")), (5, N_("Fri")), (6, N_("Sat")),
            (7, N_("Sun")))
KINDS = (("holiday", N_("Holiday (day off)")), ("workday", N_("Extra working day")))

register_section(Section("tel_schedules", N_("Schedules"), "/telephony/schedules", order=130, audience="tenant",
                         right="call_handling.view", icon="◷"))


class CalendarPage(TelPage):
    section = "tel_schedules"
    rights_key = SECTION
    template_values = {"weekdays": WEEKDAYS, "date_kinds": KINDS}
    list_url = "/telephony/schedules"


@route("/telephony/schedules", access="tenant", section=SECTION, name="tel_schedules")
class SchedulesPage(CalendarPage):
    """Schedules and day groups side by side: a schedule is built from day groups."""

    async def get(self) -> None:
        schedules = await self.service(ScheduleService).list()
        groups = await self.service(DayGroupService).list()
        names = {g["id"]: g["name"] for g in groups}
        self.show("telephony/schedules.html", schedules=schedules, groups=groups, group_names=names)


# --- day groups ----------------------------------------------------------------------------------
class DayGroupPage(CalendarPage):
    service_cls = DayGroupService
    object_type = "day_group"


class DayGroupForm(FormPage, DayGroupPage):
    form_template = "telephony/day_group.html"
    item_url = "/telephony/day-groups/{id}"

    async def blank(self) -> dict:
        return {"name": "", "weekdays": [1, 2, 3, 4, 5], "special_dates": []}

    async def form_context(self, id, values: dict) -> dict:
        by_year: dict[str, list] = defaultdict(list)
        for s in sorted(values["special_dates"], key=lambda s: s.get("date") or ""):
            if len(s.get("date") or "") >= 4:
                by_year[s["date"][:4]].append(s)
        return {"by_year": sorted(by_year.items())}

    def form_values(self) -> dict:
        weekdays = [int(w) if w.isdigit() else w for w in self.fields("weekdays")]
        specials = [{"date": r.get("date", "").strip(), "name": r.get("name", "").strip(),
                     "kind": r.get("kind") or "holiday"} for r in self.rows("sd", ("date", "name"))]
        return {"name": self.field("name"), "weekdays": weekdays, "special_dates": specials}

    async def form_errors(self, exc: RuleError, data: dict) -> dict:
        if exc.field in ("date", "special_dates"):
            exc = locate_row(exc, data["special_dates"], lambda row: make_day_group("x", [1], [row]), "special_dates")
        return self.rule_errors(exc)


object_pages("/telephony/day-groups", "tel_day_group", SECTION, form=DayGroupForm, delete=DayGroupPage)


# --- schedules -----------------------------------------------------------------------------------
class SchedulePage(CalendarPage):
    service_cls = ScheduleService
    object_type = "schedule"


class ScheduleForm(FormPage, SchedulePage):
    form_template = "telephony/schedule.html"
    item_url = "/telephony/schedules/{id}"

    async def blank(self) -> dict:
        groups = await self.service(DayGroupService).list()
        first = groups[0]["id"] if groups else ""
        return {"name": "", "intervals": [{"day_group": first, "start": "09:00", "end": "18:00"}]}

    async def form_context(self, id, values: dict) -> dict:
        return {"groups": await self.service(DayGroupService).list()}

    def form_values(self) -> dict:
        return {"name": self.field("name"),
                "intervals": [{"day_group": r.get("day_group", ""), "start": r.get("start", "").strip(),
                               "end": r.get("end", "").strip()} for r in self.rows("iv", ("start", "end"))]}

    async def form_errors(self, exc: RuleError, data: dict) -> dict:
        if exc.field in ("start", "end", "day_group"):
            groups = await self.svc().day_groups()
            exc = locate_row(exc, data["intervals"], lambda row: make_schedule("x", [row], day_groups=groups),
                             "intervals")
        return self.rule_errors(exc)


object_pages("/telephony/schedules", "tel_schedule", SECTION, form=ScheduleForm, delete=SchedulePage)

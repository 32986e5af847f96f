"""Cabinet pages of calendars: day groups (weekdays, holidays and special dates by year) and
schedules (rows of intervals "day group, from, to").

Rights: section ``call_handling`` (as the REST API), view to read, edit to change.
"""
from __future__ import annotations

from collections import defaultdict

from esl_control.routing.errors import RuleError
from esl_control.routing.schedules import make_day_group, make_schedule
from web.routes import route
from web.sections import N_, Section, register_section
from web.telephony.api_common import OBJECT_ID
from web.telephony.calendars.services import DayGroupService, ScheduleService
from web.telephony.pages_common import DeletePage, TelPage, locate_row

SECTION = "call_handling"
ID = {"id": OBJECT_ID}
WEEKDAYS = ((1, N_("Mon")), (2, N_("Tue")), (3, N_("Wed")), (4, N_("Thu")), (5, N_("Fri")), (6, N_("Sat")),
            (7, N_("Sun")))
KINDS = (("holiday", N_("Holiday (day off)")), ("workday", N_("Extra working day")))

register_section(Section("tel_schedules", N_("Schedules"), "/telephony/schedules", order=130, audience="tenant",
                         right="call_handling.view", icon="◷"))


class CalendarPage(TelPage):
    section = "tel_schedules"
    rights_key = SECTION

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(weekdays=WEEKDAYS, date_kinds=KINDS)
        return ns


@route("/telephony/schedules", access="tenant", section=SECTION, name="tel_schedules")
class SchedulesPage(CalendarPage):
    """Schedules and day groups side by side: a schedule is built from day groups."""

    async def get(self) -> None:
        schedules = await self.service(ScheduleService).list()
        groups = await self.service(DayGroupService).list()
        names = {g["id"]: g["name"] for g in groups}
        self.show("telephony/schedules.html", schedules=schedules, groups=groups, group_names=names)


# --- day groups ----------------------------------------------------------------------------------
@route("/telephony/day-groups/new", access="tenant", section=SECTION, level="edit", name="tel_day_group_new")
class DayGroupNewPage(CalendarPage):
    async def get(self) -> None:
        self.form_page(None, {"name": "", "weekdays": [1, 2, 3, 4, 5], "special_dates": []})

    def form_page(self, id, values: dict, errors: dict | None = None, status: int = 200) -> None:
        by_year: dict[str, list] = defaultdict(list)
        for s in sorted(values["special_dates"], key=lambda s: s.get("date") or ""):
            if len(s.get("date") or "") >= 4:
                by_year[s["date"][:4]].append(s)
        self.show("telephony/day_group.html", status, id=id, values=values, errors=errors or {},
                  by_year=sorted(by_year.items()), readonly=not self.can_edit())

    def form_values(self) -> dict:
        weekdays = []
        for w in self.fields("weekdays"):
            weekdays.append(int(w) if w.isdigit() else w)
        specials = [{"date": r.get("date", "").strip(), "name": r.get("name", "").strip(),
                     "kind": r.get("kind") or "holiday"} for r in self.rows("sd", ("date", "name"))]
        return {"name": self.field("name"), "weekdays": weekdays, "special_dates": specials}

    async def save(self, id: str | None) -> None:
        values = self.form_values()
        svc = self.service(DayGroupService)
        try:
            doc = await (svc.update(id, values) if id else svc.create(values))
        except RuleError as exc:
            if exc.field in ("date", "special_dates"):
                exc = locate_row(exc, values["special_dates"],
                                 lambda row: make_day_group("x", [1], [row]), "special_dates")
            self.form_page(id, values, self.rule_errors(exc), 422)
            return
        self.redirect(f"/telephony/day-groups/{doc['id']}?done=saved")

    async def post(self) -> None:
        await self.save(None)


@route("/telephony/day-groups/{id}", access="tenant", section=SECTION, params=ID, name="tel_day_group")
class DayGroupPage(DayGroupNewPage):
    async def get(self, id: str) -> None:
        self.form_page(id, await self.service(DayGroupService).get(id))

    async def post(self, id: str) -> None:
        await self.service(DayGroupService).get(id)
        await self.save(id)


@route("/telephony/day-groups/{id}/delete", access="tenant", section=SECTION, level="edit", params=ID,
       name="tel_day_group_delete")
class DayGroupDeletePage(DeletePage, CalendarPage):
    service_cls = DayGroupService
    list_url = "/telephony/schedules"
    object_type = "day_group"


# --- schedules -----------------------------------------------------------------------------------
@route("/telephony/schedules/new", access="tenant", section=SECTION, level="edit", name="tel_schedule_new")
class ScheduleNewPage(CalendarPage):
    async def get(self) -> None:
        groups = await self.service(DayGroupService).list()
        first = groups[0]["id"] if groups else ""
        await self.form_page(None, {"name": "", "intervals": [{"day_group": first, "start": "09:00", "end": "18:00"}]})

    async def form_page(self, id, values: dict, errors: dict | None = None, status: int = 200) -> None:
        groups = await self.service(DayGroupService).list()
        self.show("telephony/schedule.html", status, id=id, values=values, errors=errors or {}, groups=groups,
                  readonly=not self.can_edit())

    def form_values(self) -> dict:
        rows = self.rows("iv", ("start", "end"))
        return {"name": self.field("name"),
                "intervals": [{"day_group": r.get("day_group", ""), "start": r.get("start", "").strip(),
                               "end": r.get("end", "").strip()} for r in rows]}

    async def save(self, id: str | None) -> None:
        values = self.form_values()
        svc = self.service(ScheduleService)
        try:
            doc = await (svc.update(id, values) if id else svc.create(values))
        except RuleError as exc:
            if exc.field in ("start", "end", "day_group"):
                groups = await svc._day_groups()
                exc = locate_row(exc, values["intervals"],
                                 lambda row: make_schedule("x", [row], day_groups=groups), "intervals")
            await self.form_page(id, values, self.rule_errors(exc), 422)
            return
        self.redirect(f"/telephony/schedules/{doc['id']}?done=saved")

    async def post(self) -> None:
        await self.save(None)


@route("/telephony/schedules/{id}", access="tenant", section=SECTION, params=ID, name="tel_schedule")
class SchedulePage(ScheduleNewPage):
    async def get(self, id: str) -> None:
        await self.form_page(id, await self.service(ScheduleService).get(id))

    async def post(self, id: str) -> None:
        await self.service(ScheduleService).get(id)
        await self.save(id)


@route("/telephony/schedules/{id}/delete", access="tenant", section=SECTION, level="edit", params=ID,
       name="tel_schedule_delete")
class ScheduleDeletePage(DeletePage, CalendarPage):
    service_cls = ScheduleService
    list_url = "/telephony/schedules"
    object_type = "schedule"

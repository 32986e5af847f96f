"""Cabinet pages of conference rooms: number (an extension, the next free from 1000 when left
empty), seats, who may join, PIN. Rights: section ``conferences``."""
from __future__ import annotations

from esl_control.routing.errors import RuleError
from web.routes import route
from web.sections import N_, Section, register_section
from web.telephony.api_common import OBJECT_ID
from web.telephony.conferences.schemas import MAX_SEATS
from web.telephony.conferences.services import ConferenceRoomService
from web.telephony.pages_common import DeletePage, TelPage, int_or_raw

SECTION = "conferences"
ID = {"id": OBJECT_ID}
JOIN = (("all", N_("Everyone")), ("employees", N_("Employees only")), ("external", N_("External callers only")))
PIN_FOR = (("all", N_("Everyone")), ("external", N_("External callers only")))

register_section(Section("tel_conferences", N_("Conferences"), "/telephony/conferences", order=150, audience="tenant",
                         right="conferences.view", icon="◎"))


class RoomPage(TelPage):
    section = "tel_conferences"
    rights_key = SECTION

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(join_titles=JOIN, pin_for_titles=PIN_FOR, max_seats=MAX_SEATS)
        return ns


@route("/telephony/conferences", access="tenant", section=SECTION, name="tel_conferences")
class RoomsPage(RoomPage):
    async def get(self) -> None:
        self.show("telephony/conferences.html", items=await self.service(ConferenceRoomService).list())


@route("/telephony/conferences/new", access="tenant", section=SECTION, level="edit", name="tel_conference_new")
class RoomNewPage(RoomPage):
    async def get(self) -> None:
        self.form_page(None, {"name": "", "extension": "", "seats": 10, "join": "all", "pin": "", "pin_for": "all"})

    def form_page(self, id, values: dict, errors: dict | None = None, status: int = 200) -> None:
        self.show("telephony/conference.html", status, id=id, values=values, errors=errors or {},
                  readonly=not self.can_edit())

    async def save(self, id: str | None) -> None:
        values = {"name": self.field("name"), "extension": self.field("extension").strip() or None,
                  "seats": int_or_raw(self.field("seats")), "join": self.field("join", "all"),
                  "pin": self.field("pin").strip() or None, "pin_for": self.field("pin_for", "all")}
        svc = self.service(ConferenceRoomService)
        try:
            await (svc.update(id, values) if id else svc.create(values))
        except RuleError as exc:
            self.form_page(id, {**values, "extension": values["extension"] or "", "pin": values["pin"] or ""},
                           self.rule_errors(exc), 422)
            return
        self.redirect("/telephony/conferences?done=saved")

    async def post(self) -> None:
        await self.save(None)


@route("/telephony/conferences/{id}", access="tenant", section=SECTION, params=ID, name="tel_conference")
class RoomEditPage(RoomNewPage):
    async def get(self, id: str) -> None:
        doc = await self.service(ConferenceRoomService).get(id)
        self.form_page(id, {**doc, "pin": doc.get("pin") or ""})

    async def post(self, id: str) -> None:
        await self.service(ConferenceRoomService).get(id)
        await self.save(id)


@route("/telephony/conferences/{id}/delete", access="tenant", section=SECTION, level="edit", params=ID,
       name="tel_conference_delete")
class RoomDeletePage(DeletePage, RoomPage):
    service_cls = ConferenceRoomService
    list_url = "/telephony/conferences"
    object_type = "room"

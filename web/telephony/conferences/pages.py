"""Cabinet pages of conference rooms: number (an extension, the next free from 1000 when left
empty), seats, who may join, PIN. Rights: section ``conferences``."""
from __future__ import annotations

from esl_control.model.conferences.schemas import MAX_SEATS
from esl_control.model.conferences.services import ConferenceRoomService
from esl_control.model.names import room_name, typed_room_name
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.pages_common import DeletePage, FormPage, ListPage, TelPage, int_or_raw, object_pages

SECTION = "conferences"
JOIN = (("all", N_("Everyone")), ("employees", N_("Employees only")), ("external", N_("External callers only")))
PIN_FOR = (("all", N_("Everyone")), ("external", N_("External callers only")))

register_section(Section("tel_conferences", N_("Conferences"), "/telephony/conferences", order=150, audience="tenant",
                         right="conferences.view", icon="◎"))


class RoomPage(TelPage):
    section = "tel_conferences"
    rights_key = SECTION
    template_values = {"join_titles": JOIN, "pin_for_titles": PIN_FOR, "max_seats": MAX_SEATS}
    service_cls = ConferenceRoomService
    list_url = "/telephony/conferences"
    object_type = "room"


@route("/telephony/conferences", access="tenant", section=SECTION, name="tel_conferences")
class RoomsPage(ListPage, RoomPage):
    list_template = "telephony/conferences.html"

    async def items(self) -> list[dict]:
        return [{**d, "name": room_name(d, self._)} for d in await self.svc().list()]


class RoomForm(FormPage, RoomPage):
    form_template = "telephony/conference.html"

    async def blank(self) -> dict:
        return {"name": "", "extension": "", "seats": 10, "join": "all", "pin": "", "pin_for": "all"}

    async def load(self, id: str) -> dict:
        self.loaded = await super().load(id)
        return self.loaded

    def values_of(self, doc: dict) -> dict:
        return {**doc, "name": room_name(doc, self._), "pin": doc.get("pin") or ""}

    def form_values(self) -> dict:
        return {"name": typed_room_name(getattr(self, "loaded", None), self.field("name"), self._), "extension": self.field("extension").strip() or None,
                "seats": int_or_raw(self.field("seats")), "join": self.field("join", "all"),
                "pin": self.field("pin").strip() or None, "pin_for": self.field("pin_for", "all")}

    def redisplay(self, data: dict, errors: dict) -> dict:
        return {**data, "extension": data["extension"] or "", "pin": data["pin"] or ""}


class RoomDeletePage(DeletePage, RoomPage):
    def name_of(self, doc: dict) -> str:
        return room_name(doc, self._) or super().name_of(doc)


object_pages("/telephony/conferences", "tel_conference", SECTION, form=RoomForm, delete=RoomDeletePage)

"""REST API of conference rooms (``/api/v1/telephony/conference-rooms``).

The room number is an extension of the PBX (shared with employees and groups), the next free one
from 1000 when not given. Rights: section ``conferences``.
"""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from esl_control.model.conferences.schemas import JOIN, MAX_SEATS, PIN_FOR, PIN_PATTERN
from esl_control.model.conferences.services import ConferenceRoomService
from pult.i18n import N_
from web.api_base import Param
from web.api_fields import Extension, Int, Name, choice
from web.api_models import Strict, UtcDatetime
from web.telephony.api_common import Out, crud

TAG = "telephony: conferences"


class RoomIn(Strict):
    name: Name | None = Field(None, description="Default: «Комната конференции N» (N = the room's sequence number)")
    extension: Extension | None = Field(None, description="Default: the next free extension from 1000")
    seats: Int(2, MAX_SEATS) | None = Field(None, description="Default 10")
    join: choice(JOIN) | None = Field(None, description="Default all")
    pin: Annotated[str, StringConstraints(pattern=f"^({PIN_PATTERN})?$")] | None = Field(
        None, description="Empty = no PIN")
    pin_for: choice(PIN_FOR) | None = Field(None, description="Default all")


class RoomOut(Out):
    id: str
    name: str
    extension: str
    seats: int
    join: str
    pin: str | None = None
    pin_for: str
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


crud("/api/v1/telephony/conference-rooms", "ConferenceRoom", section="conferences", tag=TAG,
     service_cls=ConferenceRoomService, in_model=RoomIn, out_model=RoomOut, id_name="Room id",
     list_params=[Param("q", description="Text to find in the name or number")],
     summaries={"list": N_("Conference rooms of the PBX"), "create": N_("Create a conference room"),
                "get": N_("One conference room"), "put": N_("Replace a conference room"),
                "patch": N_("Change some fields of a conference room"), "delete": N_("Delete a conference room")})

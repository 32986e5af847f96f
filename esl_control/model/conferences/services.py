"""Conference rooms of one PBX (inventory D §4.6.4.2): the room number is an extension of the
PBX namespace, auto-assigned from 1000 (the next free one) when not given."""
from __future__ import annotations

from typing import Any, Mapping

from esl_control.model.common import new_id, next_free_extension, norm_name, now, public
from esl_control.model.conferences.schemas import DEFAULT_NAME, FIRST_ROOM, clean_room
from esl_control.model.quotas import check_creation, require_feature
from esl_control.model.service import TenantService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from storage.repos.telephony import ConferenceRooms

NO_CONFERENCES = N_("Conferences are not included in your PBX edition, so conference rooms cannot be created.")


class ConferenceRoomService(TenantService):
    repo_cls = ConferenceRooms
    object_type = "room"
    section = "telephony.conferences"
    owns_extension = True

    async def list(self) -> list[dict]:
        return [public(d) for d in await self.repo.find({}, sort=[("extension", 1)])]

    async def _default_name(self) -> str:
        """«Комната конференции N»: N the room's sequence number (the next one not yet a name)."""
        taken = {d.get("name_norm") for d in await self.repo.find({}, projection={"name_norm": 1})}
        n = len(taken) + 1
        while norm_name(DEFAULT_NAME.format(n=n)) in taken:
            n += 1
        return DEFAULT_NAME.format(n=n)

    async def create(self, data: Mapping[str, Any]) -> dict:
        """A new room; refused (409 ``edition_feature``) when the edition has no ``conferences``
        (checked after the form's own validation, before the seat quota and any write)."""
        doc = clean_room(data)
        await require_feature(self.db, self.pbx_id, "conferences", NO_CONFERENCES)
        if doc["name"] is None:
            doc["name"] = await self._default_name()
            doc["name_norm"] = norm_name(doc["name"])
        doc.update(_id=new_id(), created_at=now())
        await check_creation(self.db, self.pbx_id, "conference_seats", value=doc["seats"])
        auto = doc["extension"] is None
        for _attempt in range(5):
            if auto:
                doc["extension"] = await next_free_extension(self.db, self.scope, FIRST_ROOM)
            try:
                await self._create_with_extension(doc)
                break
            except RuleError as exc:  # an auto number taken by a concurrent create: take the next
                if not (auto and exc.code == "extension.taken"):
                    raise
        else:
            raise RuleError("extension.none_free", field="extension", start=FIRST_ROOM)
        await self._audit("create", None, doc)
        return public(doc)

    async def _clean(self, data: Mapping[str, Any], before: Mapping[str, Any] | None) -> dict:
        """On update, a number or name not given stays as it was."""
        clean = clean_room(data)
        if before is not None and clean["extension"] is None:
            clean["extension"] = before["extension"]
        if before is not None and clean["name"] is None:
            clean["name"], clean["name_norm"] = before["name"], before.get("name_norm") or norm_name(before["name"])
        return clean

    async def _check(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        """More seats need the edition's seat quota."""
        if doc["seats"] > int((before or {}).get("seats") or 0):
            await check_creation(self.db, self.pbx_id, "conference_seats", value=doc["seats"])

    async def _check_delete(self, doc: Mapping[str, Any]) -> None:
        """A room is referred to by its extension only (checked as its extension is released)."""

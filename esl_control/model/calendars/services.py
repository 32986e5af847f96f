"""Day groups and schedules of one PBX.

A day group used by a schedule cannot be deleted (seed 000 §3.1; the rule is
:func:`esl_control.routing.schedules.check_day_group_deletable`). A schedule used by a contact
method, a group member or a scheme time block cannot be deleted either (generic reference check).
Both are single-document writes.
"""
from __future__ import annotations

from typing import Any, Mapping

from esl_control.model.calendars.schemas import (clean_day_group, clean_schedule, to_day_group,
                                                 to_schedule)
from esl_control.model.common import InUse, Reference
from esl_control.model.service import TenantService
from esl_control.routing.errors import RuleError
from esl_control.routing.schedules import check_day_group_deletable
from storage.repos.telephony import DayGroups, Schedules


class DayGroupService(TenantService):
    repo_cls = DayGroups
    object_type = "day_group"
    section = "telephony.calendars"

    cleaner = clean_day_group

    async def _check_delete(self, doc: Mapping[str, Any]) -> None:
        users = await Schedules(self.db, self.scope).find({"intervals.day_group": doc["_id"]})
        try:
            check_day_group_deletable(to_day_group(doc), [to_schedule(s) for s in users])
        except RuleError as exc:
            raise InUse(doc["name"], [Reference("schedule", s["_id"], s["name"], "intervals") for s in users],
                        code=exc.code, schedules=exc.params["schedules"]) from None

    async def holidays(self, id: str, year: int) -> list[dict]:
        """Special dates of one year, in date order (the cabinet shows holidays by year)."""
        group = to_day_group(await self._doc(id))
        return [{"date": s.date.isoformat(), "name": s.name, "kind": s.kind} for s in group.holidays_in(year)]


class ScheduleService(TenantService):
    repo_cls = Schedules
    object_type = "schedule"
    section = "telephony.calendars"

    async def day_groups(self) -> dict:
        """The PBX's day groups as rule objects, by id (what a schedule's intervals name)."""
        return {d["_id"]: to_day_group(d) for d in await DayGroups(self.db, self.scope).find()}

    async def _clean(self, data: Mapping[str, Any], before: Mapping[str, Any] | None) -> dict:
        return clean_schedule(data, await self.day_groups())

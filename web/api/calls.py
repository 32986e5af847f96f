"""Call history, scoped: a PBX user sees their PBX's calls within the reach of their role in the
section «Call history» (``rights.reach("calls")``); an operator sees every call. Which calls a
reach covers, and the queries, are the use case's (:mod:`esl_control.model.call_history`), which
the API, the call history page and the dashboard all call; this module turns the request's user
into a reach and the records into the API's shape.
"""
from __future__ import annotations

from datetime import datetime, time as dtime, timezone

from pydantic import BaseModel, Field

from esl_control.model.call_history import NEWEST_FIRST, CallHistory
from esl_control.model.reach import EVERYTHING
from pult import clock
from pult.i18n import N_
from web.api_base import AFTER_PARAM, PAGE_PARAMS, ApiHandler, Param, operation, page_of
from web.api_models import CallOut, UtcDatetime
from web.enforce import request_reach, request_rights
from web.routes import route

__all__ = ["NEWEST_FIRST", "call_history", "call_out", "call_stats"]


def call_out(rec: dict) -> CallOut:
    start, end = rec.get("start"), rec.get("end")
    duration = rec.get("duration")
    if duration is None and isinstance(start, datetime) and isinstance(end, datetime):
        duration = max(0, int((end - start).total_seconds()))
    billsec = rec.get("billsec")
    result = rec.get("result") or rec.get("hangup_cause")
    return CallOut(uuid=str(rec["uuid"]), pbx_id=rec.get("pbx_id"), start=start, end=end,
                   caller=rec.get("caller"), callee=rec.get("callee"),
                   direction=rec.get("direction"),
                   duration=int(duration) if duration is not None else None,
                   billsec=int(billsec) if billsec is not None else None,
                   result=result, node=rec.get("node"))


async def call_history(handler) -> CallHistory:
    """The call history of the request's user: their scope, within their reach in «Call
    history» (an operator: everything; a role without it: nothing). One per request."""
    cached = getattr(handler, "_call_history", None)
    if cached is None:
        user = handler.current_user or {}
        if user.get("kind") == "operator":
            reach = EVERYTHING
        else:
            rights = await request_rights(handler)
            reach = None if rights.reach("calls") is None and not rights.operator \
                else await request_reach(handler, "calls")
        cached = handler._call_history = CallHistory(handler.ctx.store.db, handler.scope(), reach)
    return cached


async def call_stats(handler, recent: int = 5) -> dict:
    """The dashboard's figures (:meth:`CallHistory.summary`) from midnight in the user's time zone,
    with ``since`` (that midnight, UTC) and the ``recent`` newest calls as :class:`CallOut` — the
    cabinet's dashboard and ``GET /api/v1/dashboard`` alike."""
    tz = handler.tz()
    since = datetime.combine(clock.local_now(tz).date(), dtime.min, tzinfo=tz).astimezone(timezone.utc)
    stats, docs = await (await call_history(handler)).summary(since, recent)
    return {**stats, "since": since, "recent": [call_out(d) for d in docs]}


class DashboardOut(BaseModel):
    since: UtcDatetime = Field(description="Midnight of today in the user's time zone: «today» counts from it")
    today: int = Field(description="Calls since midnight")
    answered: int = Field(description="Of them answered (some seconds of conversation)")
    unanswered: int = Field(description="Of them not answered")
    total: int = Field(description="Every call in the history")
    recent: list[CallOut] = Field(description="The latest five calls, newest first")


@route("/api/v1/dashboard", access="user", section="dashboard")
class DashboardApi(ApiHandler):
    @operation(N_("Call statistics of today and the latest calls (the cabinet's dashboard)"),
               response=DashboardOut, tags=["calls"], errors=(401, 403),
               description="Counted over the calls the user may see in «Call history» (a PBX user: "
                           "within the reach of their role; an API key: its role's).")
    async def get(self) -> None:
        self.reply(DashboardOut(**await call_stats(self)))


@route("/api/v1/calls", access="user", section="calls")
class CallsApi(ApiHandler):
    @operation(N_("Call history, newest first"), response=page_of(CallOut), tags=["calls"],
               params=[*PAGE_PARAMS, AFTER_PARAM,
                       Param("pbx_id", schema={"type": "integer", "minimum": 1},
                             description="Operators: only this PBX (PBX users always see their own)")],
               errors=(400, 401, 403),
               description="A PBX user sees the calls within the reach of their role in «Call history»: "
                           "own calls, the calls of their groups or supervised groups, or all calls of the PBX.")
    async def get(self) -> None:
        page, per_page = self.pagination()
        pbx_id = self.int_arg("pbx_id", 0, minimum=0) or None
        after = self.after_arg(NEWEST_FIRST)
        res, total = await (await call_history(self)).page(page, per_page, pbx_id, after)
        self.reply_page([call_out(d).model_dump(mode="json") for d in res.docs], page, per_page, total, res.older)


@route("/api/v1/calls/{uuid}", access="user", section="calls", params={"uuid": "[A-Za-z0-9._:-]{1,80}"})
class CallApi(ApiHandler):
    @operation(N_("One call record"), response=CallOut, tags=["calls"], errors=(401, 403, 404),
               params=[Param("uuid", "path", description="Channel uuid of the call", required=True)])
    async def get(self, uuid: str) -> None:
        self.reply(call_out(await (await call_history(self)).get(uuid)))

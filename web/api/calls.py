"""Call history, scoped: a PBX user sees their PBX's calls, an operator sees every call."""
from __future__ import annotations

from datetime import datetime

from storage.repos.base import Scope
from storage.repos.calls import CallRecords
from web.api.base import PAGE_PARAMS, ApiHandler, Param, operation, page_of
from web.api.models import CallOut
from web.handlers import AppError
from web.routes import route
from web.sections import N_

NEWEST_FIRST = [("start", -1), ("uuid", -1)]


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


async def call_page(handler, scope: Scope, page: int, per_page: int,
                    pbx_id: int | None = None) -> tuple[list[dict], int]:
    """One page of call records in ``scope`` (newest first) and the total count."""
    repo = CallRecords(handler.ctx.store.db, scope)
    flt = {"pbx_id": pbx_id} if pbx_id is not None else {}
    total = await repo.count(flt)
    docs = await repo.find(flt, sort=NEWEST_FIRST, skip=(page - 1) * per_page, limit=per_page)
    return docs, total


@route("/api/v1/calls", access="user")
class CallsApi(ApiHandler):
    @operation(N_("Call history, newest first"), response=page_of(CallOut), tags=["calls"],
               params=[*PAGE_PARAMS,
                       Param("pbx_id", schema={"type": "integer", "minimum": 1},
                             description="Operators: only this PBX (PBX users always see their own)")],
               errors=(400, 401, 403))
    async def get(self) -> None:
        page, per_page = self.pagination()
        pbx_id = self.int_arg("pbx_id", 0, minimum=0) or None
        docs, total = await call_page(self, self.scope(), page, per_page, pbx_id)
        self.reply_page([call_out(d).model_dump(mode="json") for d in docs], page, per_page, total)


@route("/api/v1/calls/{uuid}", access="user", params={"uuid": "[A-Za-z0-9._:-]{1,80}"})
class CallApi(ApiHandler):
    @operation(N_("One call record"), response=CallOut, tags=["calls"], errors=(401, 403, 404),
               params=[Param("uuid", "path", description="Channel uuid of the call", required=True)])
    async def get(self, uuid: str) -> None:
        rec = await CallRecords(self.ctx.store.db, self.scope()).find_one({"uuid": uuid})
        if rec is None:
            raise AppError(404, "not_found", N_("No such call."))
        self.reply(call_out(rec))

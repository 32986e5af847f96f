"""Call history, scoped: a PBX user sees their PBX's calls within the reach of their role in the
section «Call history» (``rights.reach("calls")``); an operator sees every call. Which calls a
reach covers, and the queries, are the use case's (:mod:`esl_control.model.call_history`), which
the API, the call history page and the dashboard all call; this module turns the request's user
into a reach and the records into the API's shape.
"""
from __future__ import annotations

from datetime import datetime, time as dtime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from esl_control.model import vocabulary as vocab
from esl_control.model.call_history import (NEWEST_FIRST, CallHistory, ended_by, leg_result, leg_ringing,
                                           legs_in_order, stages)
from esl_control.model.reach import EVERYTHING
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from web.api_base import AFTER_PARAM, PAGE_PARAMS, ApiHandler, Param, list_of, operation, page_of
from web.api_models import CallDetailOut, CallLegOut, CallOut, CallStagesOut, UtcDatetime
from web.formats import iso
from web.enforce import request_reach, request_rights
from web.routes import route

__all__ = ["NEWEST_FIRST", "call_detail_out", "call_history", "call_json", "call_out", "call_stats"]


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
                   result=result, node=rec.get("node"),
                   cost=(rec.get("rated") or {}).get("cost") if isinstance(rec.get("rated"), dict) else None,
                   legs=[CallLegOut(uuid=str(leg.get("uuid")), target=(leg.get("vars") or {}).get(vocab.LEG_TARGET),
                                    callee=leg.get("callee"), start=leg.get("start"), answer=leg.get("answer"),
                                    end=leg.get("end"), duration=leg.get("duration"), billsec=leg.get("billsec"),
                                    result=leg.get("hangup_cause"), ringing=leg_ringing(leg),
                                    outcome=leg_result(leg))
                         for leg in rec.get("legs") or () if isinstance(leg, dict) and leg.get("uuid")])


_STR = (str, type(None))
_INT = (int, type(None))


def _plain_leg(leg: dict) -> dict | None:
    """One leg as :class:`CallLegOut` dumps it, or None when a value is not of the plain type its
    field takes (then the model decides: converts, or refuses)."""
    out = {"uuid": str(leg.get("uuid")), "target": (leg.get("vars") or {}).get(vocab.LEG_TARGET),
           "callee": leg.get("callee"), "start": leg.get("start"), "answer": leg.get("answer"),
           "end": leg.get("end"), "duration": leg.get("duration"), "billsec": leg.get("billsec"),
           "result": leg.get("hangup_cause"), "ringing": leg_ringing(leg), "outcome": leg_result(leg)}
    for k in ("target", "callee", "result"):
        if type(out[k]) not in _STR:
            return None
    for k in ("duration", "billsec", "ringing"):
        if type(out[k]) not in _INT:
            return None
    for k in ("start", "answer", "end"):
        v = out[k]
        if v is not None:
            if type(v) is not datetime:
                return None
            out[k] = iso(v)
    return out


def call_json(rec: dict) -> dict:
    """``call_out(rec).model_dump(mode="json")`` — what ``GET /api/v1/calls`` lists — built
    directly when every value already has its field's plain type (a page of 50 calls through the
    model cost about 1 ms of the event loop); anything else goes through the model, which converts
    or refuses as it always did."""
    get = rec.get
    start, end = get("start"), get("end")
    duration = get("duration")
    if duration is None and isinstance(start, datetime) and isinstance(end, datetime):
        duration = max(0, int((end - start).total_seconds()))
    billsec = get("billsec")
    rated = get("rated")
    pbx_id, caller, callee, direction = get("pbx_id"), get("caller"), get("callee"), get("direction")
    result, node = get("result") or get("hangup_cause"), get("node")
    cost = (rated or {}).get("cost") if isinstance(rated, dict) else None
    out = {"uuid": str(rec["uuid"]), "pbx_id": pbx_id, "start": start, "end": end,
           "caller": caller, "callee": callee, "direction": direction,
           "duration": int(duration) if duration is not None else None,
           "billsec": int(billsec) if billsec is not None else None,
           "result": result, "node": node, "cost": cost, "legs": []}
    if not (type(pbx_id) in _INT and type(cost) in _INT and type(caller) in _STR and type(callee) in _STR
            and type(direction) in _STR and type(result) in _STR and type(node) in _STR):
        return call_out(rec).model_dump(mode="json")
    if start is not None:
        if type(start) is not datetime:
            return call_out(rec).model_dump(mode="json")
        out["start"] = iso(start)
    if end is not None:
        if type(end) is not datetime:
            return call_out(rec).model_dump(mode="json")
        out["end"] = iso(end)
    legs = get("legs")
    if legs:
        for leg in legs:
            if isinstance(leg, dict) and leg.get("uuid"):
                leg_out = _plain_leg(leg)
                if leg_out is None:
                    return call_out(rec).model_dump(mode="json")
                out["legs"].append(leg_out)
    return out


#: the fields of a call record :func:`call_json` (and :func:`call_out`) read: a page of the list
#: reads only these (a record's channel variables and the engine's path stay in the store)
CALL_JSON_FIELDS = ("uuid", "pbx_id", "start", "end", "caller", "callee", "direction", "duration", "billsec",
                    "result", "hangup_cause", "node", "rated", "legs")


def call_detail_out(rec: dict) -> CallDetailOut:
    """One call in detail (GET /api/v1/calls/{uuid} and the cabinet's call page): the record as in
    the list, its legs in the order rung, its stage timings, who ended it and the engine's path."""
    base = call_out({**rec, "legs": legs_in_order(rec)})
    path = [e for e in rec.get("path") or () if isinstance(e, dict)]
    return CallDetailOut(**dict(base), hangup_cause=rec.get("hangup_cause"), ended_by=ended_by(rec),
                         stages=CallStagesOut(**stages(rec)), path=path)


async def call_history(handler, section: str = "calls") -> CallHistory:
    """The call history of the request's user: their scope, within their reach in «Call
    history» (an operator: everything; a role without it: nothing) — or in another section whose
    reach is over calls (``messages``: the voice mail and faxes calls left). One per request and
    section."""
    cache = handler.__dict__.setdefault("_call_histories", {})
    if section not in cache:
        user = handler.current_user or {}
        if user.get("kind") == "operator":
            reach = EVERYTHING
        else:
            rights = await request_rights(handler)
            reach = None if rights.reach(section) is None and not rights.operator \
                else await request_reach(handler, section)
        cache[section] = CallHistory(handler.ctx.store.db, handler.scope(), reach)
    return cache[section]


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
        res, total = await (await call_history(self)).page(page, per_page, pbx_id, after, fields=CALL_JSON_FIELDS,
                                                           newer=False)  # the API answers «next» only
        self.reply_page([call_json(d) for d in res.docs], page, per_page, total, res.older)


@route("/api/v1/calls/{uuid}", access="user", section="calls", params={"uuid": "[A-Za-z0-9._:-]{1,80}"})
class CallApi(ApiHandler):
    @operation(N_("One call record in detail: its legs, stage timings, who hung up, the scheme path"),
               response=CallDetailOut, tags=["calls"], errors=(401, 403, 404),
               params=[Param("uuid", "path", description="Channel uuid of the call", required=True)],
               description="Within the reach of the user's role in «Call history», like the list (the cabinet's "
                           "call page shows the same).")
    async def get(self, uuid: str) -> None:
        self.reply(call_detail_out(await (await call_history(self)).get(uuid)))


# --- voice mail and faxes of a call ------------------------------------------------------------------
MEDIA_SECTION = "messages"  # «Voice mail and faxes»: its reach decides whose calls' messages a user gets
MEDIA_FORMATS = ("original", "pdf")


class CallMediaOut(BaseModel):
    id: str = Field(description="Pass it to GET /api/v1/calls/{uuid}/media/{media_id}")
    kind: Literal["voicemail", "fax"]
    content_type: str = Field(description="Of the original: audio/wav (voice mail), image/tiff (fax)")
    size: int | None = Field(description="Bytes of the original")
    duration: float | None = Field(None, description="Voice mail: seconds, when known")
    pages: int | None = Field(None, description="Fax: pages, when known")
    received: bool | None = Field(None, description="Fax: whether the fax machine reported success, when known")
    pdf: bool = Field(description="Fax: a PDF copy can be downloaded (format=pdf)")
    stored_at: UtcDatetime | None


def media_out(entry: dict) -> CallMediaOut:
    return CallMediaOut(id=str(entry["id"]), kind=entry["kind"], content_type=entry.get("content_type") or "",
                        size=entry.get("size"), duration=entry.get("duration"), pages=entry.get("pages"),
                        received=entry.get("received"), pdf=bool(entry.get("pdf_id")),
                        stored_at=entry.get("stored_at"))


_UUID = Param("uuid", "path", description="Channel uuid of the call", required=True)


@route("/api/v1/calls/{uuid}/media", access="user", section=MEDIA_SECTION, params={"uuid": "[A-Za-z0-9._:-]{1,80}"})
class CallMediaListApi(ApiHandler):
    @operation(N_("The voice mail and faxes a call left"), response=list_of(CallMediaOut), tags=["calls"],
               errors=(401, 403, 404), params=[_UUID],
               description="Within the reach of the user's role in «Voice mail and faxes» (an API key: its "
                           "role's). A file appears once the worker has moved it from the switch's spool.")
    async def get(self, uuid: str) -> None:
        rec = await (await call_history(self, MEDIA_SECTION)).get(uuid)
        items = [media_out(m) for m in rec.get("media") or [] if m.get("id") and m.get("kind") in ("voicemail", "fax")]
        self.reply({"items": [i.model_dump(mode="json") for i in items], "total": len(items)})


@route("/api/v1/calls/{uuid}/media/{media_id}", access="user", section=MEDIA_SECTION,
       params={"uuid": "[A-Za-z0-9._:-]{1,80}", "media_id": "[0-9a-f]{1,64}"})
class CallMediaFileApi(ApiHandler):
    @operation(N_("Download a voice mail (WAV) or a fax (TIFF, or PDF with format=pdf)"), tags=["calls"],
               errors=(400, 401, 403, 404), media_types=("audio/wav", "image/tiff", "application/pdf"),
               params=[_UUID, Param("media_id", "path", description="The id listed by …/media", required=True),
                       Param("format", schema={"type": "string", "enum": list(MEDIA_FORMATS), "default": "original"},
                             description="original (WAV / TIFF) or pdf (faxes)")],
               description="The file itself (audio/wav, image/tiff or application/pdf) as an attachment, "
                           "with ETag and byte ranges (206).")
    async def get(self, uuid: str, media_id: str) -> None:
        from storage.media import MediaNotFound
        from web.media.serve import send_media

        fmt = self.get_query_argument("format", "original")
        if fmt not in MEDIA_FORMATS:
            raise AppError(400, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={"format": N_("This value is not supported.")})
        rec = await (await call_history(self, MEDIA_SECTION)).get(uuid)
        entry = next((m for m in rec.get("media") or [] if str(m.get("id")) == media_id), None)
        if entry is None:
            raise AppError(404, "not_found", N_("No such file."))
        kind = entry["kind"]
        file_id, content_type, ext = entry["id"], {"voicemail": "audio/wav", "fax": "image/tiff"}.get(kind), \
            {"voicemail": "wav", "fax": "tif"}.get(kind)
        if content_type is None:  # (the spool stores only these two kinds)
            raise AppError(404, "not_found", N_("No such file."))
        if fmt == "pdf":
            if not entry.get("pdf_id"):
                raise AppError(404, "not_found", N_("There is no PDF of this file."))
            file_id, content_type, ext = entry["pdf_id"], "application/pdf", "pdf"
        try:
            await send_media(self, self.ctx.store, int(rec["pbx_id"]), str(file_id), content_type=content_type,
                             cache_control="private, max-age=0", download_name=f"{kind}-{uuid}.{ext}")
        except MediaNotFound:  # (raised before any header of the file is set)
            raise AppError(404, "not_found", N_("No such file.")) from None

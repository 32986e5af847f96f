"""What happens to a call, in PRODUCT.md §4.1's order, and internal calls (§4.5).

Inbound to a number: the number → its PBX (the dialplan found it; an unknown number never gets
here) → a blocked PBX hears the notice and is hung up → over the PBX's concurrent-call limit:
busy → the black/white list decision (busy when refused) → the first active client-number rule
rings its target (answered: done; else on) → the number's active scheme: the first time block
whose schedule matches now in the PBX's time zone, its steps in order; no scheme: the default
group (extension 6), then voice mail.

Internal (a tenant phone dialling an extension): the employee (with the PBX's "if unavailable"
handling), or the group; an unknown short number hears "extension invalid". A blocked PBX still
makes internal calls. Anything else a phone dials is an outbound call (:mod:`.outbound`).
"""
from __future__ import annotations

from typing import Callable

from esl_control.routing.directions import is_emergency
from esl_control.routing.lists import list_decision, match_client_rule

from .channel import BUSY
from .engine import END, CallContext, Engine
from .mailbox import leave_voicemail
from .targets import forward

__all__ = ["run_inbound", "run_internal", "choose_block", "DEFAULT_GROUP_EXTENSION"]

DEFAULT_GROUP_EXTENSION = "6"


def choose_block(ctx: CallContext, scheme: dict) -> tuple[int, dict] | None:
    """The first time block whose schedule matches ``ctx.at``; the last block is "any other time"."""
    blocks = scheme.get("blocks") or []
    if not blocks:
        return None
    for i, block in enumerate(blocks[:-1]):
        sid = block.get("schedule_id")
        if sid and ctx.snapshot.schedule(sid) is None:
            ctx.note("problem", reason="schedule_missing", block=i, schedule_id=sid)
        if sid and ctx.snapshot.in_schedule(sid, ctx.at):
            return i, block
    return len(blocks) - 1, blocks[-1]


async def _finish(ctx: CallContext, cause: str = "NORMAL_CLEARING") -> None:
    if not ctx.channel.gone:
        await ctx.channel.hangup(cause)


async def run_inbound(ctx: CallContext, engine: Engine, *, scheme_id: str | None = None,
                      over_limit: Callable[[], bool] | None = None) -> None:
    snap, ch = ctx.snapshot, ctx.channel
    number = ctx.number
    ctx.note("inbound", number=(number or {}).get("number") or ctx.destination, caller=ctx.caller,
             pbx_id=snap.pbx_id)
    if snap.blocked and not is_emergency(ctx.destination or ""):
        ctx.note("blocked", reasons=list(snap.state.reasons))
        await ch.answer()
        await ctx.say("pbx_blocked")
        await _finish(ctx, "CALL_REJECTED")
        return
    if over_limit is not None and over_limit():
        ctx.note("limit", max_calls=snap.max_calls, result="busy")
        await _finish(ctx, "USER_BUSY")
        return
    if ctx.via_trunk and scheme_id is None and number is None and _passes_through(ctx):
        # a user of the customer's own PBX calls through its trunk (inventory D §5.6): an
        # extension of this PBX rings as a phone's call to it would (Ex. 1); any other number
        # goes out through the platform with the trunk's caller id (Ex. 4)
        if snap.owner_of_extension(ctx.destination or "") is not None:
            await run_internal(ctx, engine)
        else:
            from .outbound import run_from_trunk
            await run_from_trunk(ctx)
            await _finish(ctx)
        return
    mode = snap.list_mode
    decision = list_decision(mode, snap.list_entries.get(mode or "", []), ctx.caller,
                             unknown_allowed=snap.unknown_allowed)
    ctx.note("list", mode=mode, allowed=decision.allowed, reason=decision.reason,
             entry=decision.entry.value if decision.entry else None)
    if not decision.allowed:
        await _finish(ctx, "USER_BUSY")
        return
    rule = match_client_rule(snap.client_rules, ctx.caller)
    if rule is not None:
        ctx.note("client_rule", rule_id=rule.id, entry=rule.entry.value, target=f"{rule.target_kind}:{rule.target}")
        target = ({"type": "external", "value": rule.target} if rule.target_kind == "external" else
                  {"type": rule.target_kind, "id": rule.target, "method": rule.contact_method or "card"})
        result = await forward(ctx, target, rule.ring_time)
        if (result is not None and result.answered) or ch.gone:
            await _finish(ctx)
            return
    scheme = snap.scheme(scheme_id or (number or {}).get("scheme_id"))
    if scheme is None:
        await _default_route(ctx)
        return
    chosen = choose_block(ctx, scheme)
    if chosen is None:
        ctx.note("problem", reason="scheme_empty", scheme_id=scheme.get("_id"))
        await _default_route(ctx)
        return
    index, block = chosen
    ctx.note("scheme", scheme_id=scheme.get("_id"), name=scheme.get("name"), block=index,
             schedule_id=block.get("schedule_id"))
    outcome = await engine.run_scheme_block(block.get("steps") or [], ctx)
    if outcome != END and not ch.gone:
        ctx.note("hangup", cause="NORMAL_CLEARING", reason="end_of_block")
    await _finish(ctx)


def _passes_through(ctx: CallContext) -> bool:
    """A call from a trunk whose destination is none of the PBX's own numbers: neither a number
    of that trunk (those are the trunk's "receive" numbers, with or without a scheme) nor a number
    of the PBX (``+`` or not)."""
    dest = (ctx.destination or "").lstrip("+")
    trunk = ctx.snapshot.trunks.get(ctx.via_trunk) or {}
    if not dest or dest in {str(n.get("number") or "").lstrip("+") for n in trunk.get("numbers") or ()}:
        return False
    return ctx.snapshot.number(number=dest) is None


async def _default_route(ctx: CallContext) -> None:
    """No scheme: the default group (extension 6), then voice mail."""
    ctx.note("scheme", scheme_id=None, reason="no_scheme")
    group = ctx.snapshot.group_by_extension(DEFAULT_GROUP_EXTENSION)
    if group is not None:
        result = await forward(ctx, {"type": "group", "id": group["_id"]}, None)
        if (result is not None and result.answered) or ctx.channel.gone:
            await _finish(ctx)
            return
    else:
        ctx.note("problem", reason="default_group_missing", extension=DEFAULT_GROUP_EXTENSION)
    await leave_voicemail(ctx)
    await _finish(ctx)


async def _join_room(ctx: CallContext, room_id: str) -> None:
    """A phone of the PBX dialled a conference room: join it (a room open to external callers
    only refuses; the PIN is asked of internal callers only when the room wants it of all)."""
    room = ctx.snapshot.rooms.get(room_id)
    if room is None or room.get("join") == "external":
        ctx.note("conference", room=room_id, result="refused",
                 reason="room_missing" if room is None else "external_only")
        await ctx.channel.answer()
        await ctx.say("extension_invalid")
        await _finish(ctx)
        return
    pin = room.get("pin") if room.get("pin_for", "all") == "all" else None
    ctx.note("conference", room=room_id, pin=bool(pin))
    await ctx.channel.conference(room_id, pin)
    await _finish(ctx)


async def run_internal(ctx: CallContext, engine: Engine) -> None:
    """A tenant phone dialled ``ctx.destination``."""
    snap, ch = ctx.snapshot, ctx.channel
    dialled = ctx.destination or ""
    ctx.note("internal", dialled=dialled, caller=ctx.caller, pbx_id=snap.pbx_id)
    owner = snap.owner_of_extension(dialled)
    from .outbound import goes_to_a_trunk, run_outbound
    if owner is None and (not (dialled.isdigit() and len(dialled) <= 5 and not is_emergency(dialled))
                          or goes_to_a_trunk(ctx, ctx.caller_employee)):
        # not an extension: an outbound call (§4.5) — also a short number the route rules send
        # into a trunk (another PBX's extensions behind a prefix or a mask, D §5.6)
        await run_outbound(ctx, ctx.caller_employee)
        await _finish(ctx)
        return
    if owner is not None and owner[0] == "room":
        await _join_room(ctx, owner[1])
        return
    if owner is None or owner[0] not in ("employee", "group"):
        ctx.note("problem", reason="extension_unknown" if owner is None else "extension_not_supported",
                 target=dialled)
        await ch.answer()
        await ctx.say("extension_invalid")
        await _finish(ctx, "UNALLOCATED_NUMBER" if owner is None else "NORMAL_CLEARING")
        return
    result = await forward(ctx, {"type": "extension", "value": dialled}, None, unavailable_action=True)
    if result is not None and not result.answered and not ch.gone and result.status == BUSY:
        await _finish(ctx, "USER_BUSY")
        return
    await _finish(ctx)

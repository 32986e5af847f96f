"""Outbound calls of a tenant phone (PRODUCT.md §4.5), on the route rules of
:func:`esl_control.routing.outbound.choose_route`: an extension → internal call; else the longest
trunk prefix; else the first active mask; else the employee's outgoing number's trunk; else the
platform gateways, within the allowed directions (emergency always passes; a demo PBX cannot
call abroad); a trunk whose lines are all in use says "line busy". Each refusal is spoken (a
clear phrase per reason), then the call is hung up.
"""
from __future__ import annotations

from esl_control.model import vocabulary as vocab
from esl_control.routing.directions import RUSSIA_ONLY, Direction, effective_directions
from esl_control.routing.errors import RuleError
from esl_control.routing.outbound import (PLATFORM, REFUSED, TRUNK, RouteDecision, Trunk, TrunkMask, TrunkNumber,
                                          choose_route, trunk_caller_id)

from .channel import Leg
from .engine import CallContext
from .targets import _ring, _ringback

__all__ = ["run_outbound", "run_from_trunk", "goes_to_a_trunk", "REFUSAL_PHRASES"]

#: what the caller hears for each refusal of the route choice
REFUSAL_PHRASES = {
    "direction_barred": "direction_forbidden",
    "no_outgoing_number": "no_outgoing_number",
    "invalid_number": "number_invalid",
    "empty_number": "number_invalid",
    "empty_transformation": "number_invalid",
    "pbx_blocked": "pbx_blocked",
    "demo_international": "demo_international",
    # the platform route with no platform gateway enabled (the operator's console)
    "no_platform_gateway": "call_failed",
}


def _trunks(ctx: CallContext) -> list[Trunk]:
    out = []
    for d in ctx.snapshot.trunks.values():
        out.append(Trunk(d["_id"], d.get("name", ""), bool(d.get("active", True)), d.get("prefix") or None,
                         tuple(TrunkNumber(n.get("number", ""), bool(n.get("receive", True)), bool(n.get("call", True)))
                               for n in d.get("numbers") or ()),
                         d.get("default_number"), bool(d.get("allow_number_change"))))
    return out


def _masks(ctx: CallContext) -> list[TrunkMask]:
    return [TrunkMask(m.get("mask", ""), m.get("transformation", ""), m.get("trunk_id"), bool(m.get("active", True)),
                      m.get("id")) for m in ctx.snapshot.settings.get("trunk_masks") or ()]


async def _refuse(ctx: CallContext, reason: str) -> None:
    ctx.note("outbound", result="refused", reason=reason)
    await ctx.channel.answer()
    await ctx.say(REFUSAL_PHRASES.get(reason, "call_failed"))
    await ctx.channel.hangup("CALL_REJECTED")


def _directions(ctx: CallContext, employee: dict | None) -> tuple[frozenset, tuple[str, ...]]:
    """The allowed directions (the PBX's, the employee's override; a demo PBX: Russia only) and
    the PBX's home area codes."""
    snap = ctx.snapshot
    security = snap.settings.get("security") or {}
    try:
        allowed = effective_directions(security.get("allowed_directions"), (employee or {}).get("directions"))
    except RuleError:
        allowed = frozenset()
    if snap.is_demo:
        allowed = allowed & RUSSIA_ONLY
    home = (snap.settings.get("call_handling") or {}).get("home_area_codes") or ("495", "499")
    return allowed, tuple(home)


def _decide(ctx: CallContext, employee: dict | None) -> RouteDecision:
    """The route of ``ctx.destination`` dialled by ``employee`` (raises :class:`RuleError` for a
    mask saved before validation)."""
    snap = ctx.snapshot
    allowed, home = _directions(ctx, employee)
    return choose_route(ctx.destination or "", extensions=snap.extensions.keys(), trunks=_trunks(ctx),
                        masks=_masks(ctx), outgoing_number=(employee or {}).get("outgoing_number"),
                        employee_extension=(employee or {}).get("extension"), allowed_directions=allowed,
                        home_area_codes=home, pbx_blocked=snap.blocked)


def goes_to_a_trunk(ctx: CallContext, employee: dict | None) -> bool:
    """Whether the route rules send ``ctx.destination`` into one of the PBX's trunks (a prefix, a
    mask — also one whose transformation leaves nothing —, the employee's trunk number): a short
    number that is no extension of this PBX can be one of the customer's own PBX (D §5.6)."""
    try:
        return _decide(ctx, employee).trunk_id is not None
    except RuleError:
        return False


async def run_outbound(ctx: CallContext, employee: dict | None) -> None:
    """Route ``ctx.destination`` dialled by ``employee`` (``None``: a SIP account without one)."""
    try:
        decision = _decide(ctx, employee)
    except RuleError as exc:  # a mask saved before validation
        ctx.note("problem", reason="route_rule_invalid", detail=exc.code)
        await _refuse(ctx, "invalid_number")
        return
    await _place(ctx, decision)


async def run_from_trunk(ctx: CallContext) -> None:
    """A user of the customer's own PBX, calling through its trunk (``ctx.via_trunk``), dialled a
    number that is neither one of this PBX's numbers nor an extension: out to the public network
    through the platform (inventory D §5.6 Ex. 4), never back into a trunk, within the PBX's
    allowed directions, with the trunk's caller id (D §5.3.3: its default outgoing number; with
    "allow number change" the number the customer's PBX sent when it is one of this PBX's
    platform numbers). No such caller id: refused aloud («no outgoing number»)."""
    snap = ctx.snapshot
    doc = snap.trunks.get(ctx.via_trunk) or {}
    trunk = Trunk(ctx.via_trunk, doc.get("name", ""), default_caller_id=doc.get("default_number"),
                  allow_caller_id_change=bool(doc.get("allow_number_change")))
    own = [n.get("number") for n in snap.numbers.values() if n.get("kind") == "platform" and n.get("number")]
    allowed, home = _directions(ctx, None)
    decision = choose_route(ctx.destination or "", extensions=(), outgoing_number=trunk_caller_id(trunk, ctx.caller, own),
                            allowed_directions=allowed, home_area_codes=home, pbx_blocked=snap.blocked)
    await _place(ctx, decision)


async def _place(ctx: CallContext, decision: RouteDecision) -> None:
    """Place (or refuse, aloud) the call the route decision names."""
    snap = ctx.snapshot
    ctx.note("route", kind=decision.kind, reason=decision.reason, number=decision.number,
             trunk_id=decision.trunk_id, direction=str(decision.direction) if decision.direction else None)
    if decision.kind == REFUSED:
        reason = decision.reason
        if (reason == "direction_barred" and snap.is_demo and decision.direction is Direction.INTERNATIONAL):
            reason = "demo_international"
        await _refuse(ctx, reason)
        return
    ring_time = snap.ring_time(None)  # an outbound call rings for the PBX's default answer time
    if decision.kind == TRUNK:
        leg = Leg("trunk", decision.number, ring_time, f"trunk:{decision.trunk_id}",
                  gateway=vocab.trunk_gateway(decision.trunk_id))
    elif decision.kind == PLATFORM:
        if not snap.platform_gateways:
            await _refuse(ctx, "no_platform_gateway")
            return
        leg = Leg("external", decision.number, ring_time, f"external:{decision.number}")
    else:  # internal: handled by the caller of this function
        return
    line_key = f"trunk:{decision.trunk_id}" if decision.kind == TRUNK else None
    if line_key is not None and ctx.shared is not None:  # the trunk's lines (D §5.3.1)
        lines = int((snap.trunks.get(decision.trunk_id) or {}).get("lines") or 0)
        busy = await ctx.shared.enter(line_key, ctx.channel.uuid)
        if lines and busy is not None and busy > lines:
            await ctx.shared.leave(line_key, ctx.channel.uuid)
            ctx.note("outbound", result="refused", reason="trunk_lines", lines=lines)
            await ctx.channel.answer()
            await ctx.say("trunk_busy")
            await ctx.channel.hangup("USER_BUSY")
            return
    try:
        result = await _ring(ctx, leg.label, [leg], simultaneous=False, ringback=_ringback(ctx),
                             caller_id=decision.caller_id)
    finally:
        if line_key is not None and ctx.shared is not None:
            await ctx.shared.leave(line_key, ctx.channel.uuid)
    if not result.answered and not ctx.channel.gone:
        await ctx.channel.answer()
        await ctx.say("trunk_busy" if result.status == "busy" and decision.kind == TRUNK else
                      "unavailable" if result.status in ("no_answer", "busy") else "call_failed")
    if not ctx.channel.gone:
        await ctx.channel.hangup("NORMAL_CLEARING" if result.answered else "USER_BUSY" if result.status == "busy"
                                 else "NORMAL_CLEARING")

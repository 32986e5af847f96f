"""Who rings, in which order, for how long: groups, employees, external numbers, trunks, extensions.

Groups (PRODUCT.md §4.3, without the queue): ``sequential`` (list order, each member alone for
its ring time), ``random`` (a random order, each once), ``priority`` (all members of the best
priority together, then the next priority), ``simultaneous`` (everyone at once), ``uniform``
(longest idle first, then as sequential). ``attempts`` passes over the list with
``attempt_pause`` seconds of the pause melody between them; the ringback is the group's melody,
else the PBX's menu melody when the call came through a menu. An external member rings only
inside its schedule and while one of its ``lines`` is free: the calls of this PBX ringing or
talking to that number are counted in the state shared by the Pult instances
(:mod:`esl_control.flow.shared`, counter ``line:<pbx>:<number>``); a member whose lines are all
taken is skipped for that round (noted ``lines_busy``). An employee member rings as in the employee's card (or the chosen contact
method): their legs ring together as one member.

Employees (§4.4): reception mode ``main`` (the first active in-schedule method), ``sequential``
(each in turn, each for its own ring time), ``simultaneous`` (all at once). A call that reached
the employee by extension (an internal call, a dialled extension) then gets the PBX's "if
unavailable" handling after the unavailable message: busy, voice mail, or another extension. In
a scheme, a forward that is not answered goes on with the scheme's next step instead.
"""
from __future__ import annotations

import random
from dataclasses import replace
from typing import Any, Iterable, Sequence

from esl_control.model import vocabulary as vocab

from .channel import BUSY, CALLER_GONE, FAILED, NO_ANSWER, Leg, Media, RingResult
from .engine import CallContext
from .mailbox import leave_voicemail

__all__ = ["forward", "ring_group", "ring_employee", "employee_legs", "unavailable", "member_key", "line_key",
           "GATEWAY_TRUNK_PREFIX"]

GATEWAY_TRUNK_PREFIX = vocab.GATEWAY_TRUNK_PREFIX  # a trunk's gateway, as fs_config names it


def _split_extension(value: str) -> tuple[str, str | None]:
    if "(" in value and value.endswith(")"):
        number, _, ext = value[:-1].partition("(")
        return number, ext or None
    return value, None


def _external_leg(value: str, timeout: int, label: str) -> Leg:
    number, dtmf = _split_extension(str(value))
    kind = "sip_uri" if "@" in number else "external"
    return Leg(kind, number, timeout, label, dtmf=dtmf)


def _method_leg(ctx: CallContext, emp_id: str, method: dict, timeout: int) -> Leg | None:
    label = f"employee:{emp_id}/{method.get('id')}"
    kind = method.get("kind")
    if kind == "sip_account":
        acc = ctx.snapshot.sip_accounts.get(method.get("account_id"))
        if acc is None:
            ctx.note("problem", reason="sip_account_missing", target=label)
            return None
        return Leg("sip_user", f"{acc['login']}@{acc['domain']}", timeout, label)
    if kind in ("phone", "sip_uri") and method.get("value"):
        return _external_leg(method["value"], timeout, label)
    return None


def employee_legs(ctx: CallContext, emp: dict, method_id: str | None, ring_time: Any) -> tuple[str, list[Leg]]:
    """The reception mode and the legs to ring for an employee (``method_id``: one method, or
    ``None``/``"card"`` for the card's settings). ``ring_time`` overrides the methods' own."""
    methods = emp.get("contact_methods") or []
    if method_id and method_id != "card":
        chosen = [m for m in methods if m.get("id") == method_id]
        if not chosen:
            ctx.note("problem", reason="contact_method_missing", target=f"employee:{emp['_id']}/{method_id}")
        mode, methods = "main", chosen
    else:
        mode = emp.get("reception_mode") or "main"
        methods = [m for m in methods if m.get("active", True)
                   and ctx.snapshot.in_schedule(m.get("schedule_id"), ctx.at)]
        if mode == "main":
            methods = methods[:1]
    legs = []
    for m in methods:
        timeout = ctx.snapshot.ring_time(ring_time if ring_time is not None else m.get("ring_time"))
        leg = _method_leg(ctx, emp["_id"], m, timeout)
        if leg is not None:
            legs.append(leg)
    return mode, legs


def _ringback(ctx: CallContext, group: dict | None = None) -> Media | None:
    if group is not None and group.get("ringback"):
        media = ctx.sound(group["ringback"], "ringback")
        if media is not None:
            return media
    if ctx.from_menu and ctx.snapshot.menu_ringback:
        return ctx.sound(ctx.snapshot.menu_ringback, "ringback")
    return None


def from_outside(ctx: CallContext) -> bool:
    """A call from outside the PBX (to one of its numbers), not one of its own phones' calls."""
    return ctx.caller_employee is None and ctx.number is not None


def _presented(ctx: CallContext, legs: Sequence[Leg]) -> list[Leg]:
    """The PBX's "caller id on incoming calls" (A §4.4.2.2) on each leg of a call from outside:
    ``caller`` — every phone shows the caller; ``line`` — the PBX number the call came to;
    ``auto`` — SIP phones (the PBX's accounts) the caller, ordinary phones the line."""
    line = (ctx.number or {}).get("number")
    if not from_outside(ctx) or not line:
        return list(legs)
    mode = ctx.snapshot.incoming_caller_id
    if mode == "caller":
        return list(legs)
    return [leg if mode == "auto" and leg.kind == "sip_user" else replace(leg, caller_id=line) for leg in legs]


def _announce(ctx: CallContext, group: dict | None = None) -> Media | None:
    """Say the caller's number to whoever answers: a group's own switch, or the PBX-wide
    setting (A §4.4.1.2) for calls from outside."""
    if (group is not None and group.get("announce_caller")) or (ctx.snapshot.announce_caller and from_outside(ctx)):
        return ctx.phrase("caller_announce")
    return None


async def _ring(ctx: CallContext, what: str, legs: Sequence[Leg], *, simultaneous: bool,
                ringback: Media | None, caller_id: str | None = None, attempt: int | None = None,
                announce: Media | None = None) -> RingResult:
    if not ctx.snapshot.platform_gateways and any(leg.kind == "external" for leg in legs):
        # no platform gateway enabled: a phone number cannot be dialled (the operator's console)
        for leg in legs:
            if leg.kind == "external":
                ctx.note("skip", target=leg.label, reason="no_platform_gateway")
        legs = [leg for leg in legs if leg.kind != "external"]
        if not legs:
            return RingResult(FAILED, (), None, "NO_ROUTE_DESTINATION")
    if caller_id is None:  # a group showing its line to everyone overrides the PBX setting
        legs = _presented(ctx, legs)
    # noted before ringing (the live channel keeps the path on the switch before it bridges, so
    # the call record knows who was rung even when the call ends in that bridge), completed after
    entry = ctx.note("ring", target=what, attempt=attempt, simultaneous=simultaneous and len(legs) > 1,
                     legs=[{"target": leg.label, "kind": leg.kind, "address": leg.address, "timeout": leg.timeout,
                            "result": "ringing", **({"caller_id": leg.caller_id} if leg.caller_id else {})}
                           for leg in legs], result="ringing")
    result = await ctx.channel.ring(legs, simultaneous=simultaneous and len(legs) > 1, ringback=ringback,
                                    caller_id_number=caller_id or ctx.caller, announce=announce)
    entry.update(legs=[r.to_dict() for r in result.legs], result=result.status)
    if result.answered_by is not None:
        entry["answered_by"] = result.answered_by.label
    return result


def _combine(results: Iterable[RingResult]) -> RingResult:
    results = list(results)
    legs = tuple(leg for r in results for leg in r.legs)
    if any(r.status == CALLER_GONE for r in results):
        return RingResult(CALLER_GONE, legs, None, "ORIGINATOR_CANCEL")
    if legs and all(r.result == BUSY for r in legs):
        return RingResult(BUSY, legs, None, "USER_BUSY")
    if legs and all(r.result == FAILED for r in legs):
        return RingResult(FAILED, legs, None, "CALL_REJECTED")
    return RingResult(NO_ANSWER, legs, None, "NO_ANSWER")


async def ring_employee(ctx: CallContext, emp: dict, method_id: str | None = None,
                        ring_time: Any = None) -> RingResult:
    mode, legs = employee_legs(ctx, emp, method_id, ring_time)
    what = f"employee:{emp['_id']}"
    if not legs:
        ctx.note("ring", target=what, result=FAILED, reason="no_active_contact_method")
        return RingResult(FAILED, (), None, "NO_ROUTE_DESTINATION")
    ringback = _ringback(ctx)
    announce = _announce(ctx)
    if mode == "sequential":
        results = []
        for leg in legs:
            r = await _ring(ctx, what, [leg], simultaneous=False, ringback=ringback, announce=announce)
            if r.answered or r.status == CALLER_GONE:
                return r
            results.append(r)
        return _combine(results)
    return await _ring(ctx, what, legs, simultaneous=True, ringback=ringback, announce=announce)


def _member_legs(ctx: CallContext, group: dict, member: dict, ring_time: int) -> list[Leg]:
    if member.get("kind") == "external":
        if not ctx.snapshot.in_schedule(member.get("schedule_id"), ctx.at):
            ctx.note("skip", target=f"external:{member.get('value')}", reason="out_of_schedule")
            return []
        return [_external_leg(member.get("value", ""), ring_time, f"external:{member.get('value')}")]
    emp = ctx.snapshot.employee(member.get("employee_id"))
    if emp is None:
        ctx.note("problem", reason="employee_missing", target=f"employee:{member.get('employee_id')}")
        return []
    mode, legs = employee_legs(ctx, emp, member.get("method"), ring_time)
    return legs


async def _order(ctx: CallContext, group: dict, members: list[dict]) -> list[list[dict]]:
    """The members in batches: each batch rings together."""
    strategy = group.get("strategy") or "sequential"
    if strategy == "simultaneous":
        return [members]
    if strategy == "priority":
        prios = sorted({int(m.get("priority") or 1) for m in members})
        return [[m for m in members if int(m.get("priority") or 1) == p] for p in prios]
    if strategy == "random":
        shuffled = list(members)
        (ctx.random or random).shuffle(shuffled)
        return [[m] for m in shuffled]
    if strategy == "uniform" and ctx.shared is not None:  # longest idle first (shared clock)
        since = await ctx.shared.idle_since(ctx.snapshot.pbx_id, [member_key(m) for m in members])
        return [[m] for m in sorted(members, key=lambda m: since.get(member_key(m), 0.0))]
    return [[m] for m in members]


def line_key(pbx_id: int, value: str) -> str:
    """The shared counter of an external number's lines in a PBX (its extension suffix aside)."""
    return f"line:{pbx_id}:{_split_extension(str(value))[0]}"


async def _take_lines(ctx: CallContext, batch: list[dict]) -> tuple[list[dict], list[str]]:
    """The members of ``batch`` that may ring now, and the line counters this call took for
    them (to give back once their ring is over). External members whose lines are all taken by
    other calls are left out."""
    if ctx.shared is None:
        return batch, []
    free: list[dict] = []
    taken: list[str] = []
    for m in batch:
        if (m.get("kind") != "external" or not m.get("value")
                or not ctx.snapshot.in_schedule(m.get("schedule_id"), ctx.at)):
            free.append(m)  # (an out-of-schedule member is noted by _member_legs)
            continue
        key = line_key(ctx.snapshot.pbx_id, m["value"])
        lines = max(1, int(m.get("lines") or 1))
        count = await ctx.shared.enter(key, ctx.channel.uuid)
        if count is not None and count > lines:
            await ctx.shared.leave(key, ctx.channel.uuid)
            ctx.note("skip", target=f"external:{m['value']}", reason="lines_busy", lines=lines)
            continue
        taken.append(key)
        free.append(m)
    return free, taken


async def _give_back(ctx: CallContext, taken: list[str]) -> None:
    for key in taken:
        await ctx.shared.leave(key, ctx.channel.uuid)


def member_key(member: dict) -> str:
    """Who a group member is, for the idle clock (``employee:<id>`` / ``external:<number>``, as
    the first part of the leg labels)."""
    return f"employee:{member['employee_id']}" if member.get("employee_id") else f"external:{member.get('value')}"


async def ring_group(ctx: CallContext, group: dict, ring_time: Any = None) -> RingResult:
    what = f"group:{group['_id']}"
    per_member = ctx.snapshot.ring_time(ring_time if ring_time is not None else group.get("ring_time"))
    members = list(group.get("members") or [])
    attempts = max(1, int(group.get("attempts") or 1))
    pause = int(group.get("attempt_pause") or 0)
    ringback = _ringback(ctx, group)
    caller_id = None
    if group.get("caller_id") == "line" and ctx.number is not None:
        caller_id = ctx.number.get("number")
    announce = _announce(ctx, group)
    ctx.note("group", target=what, strategy=group.get("strategy") or "sequential", members=len(members),
             attempts=attempts, ring_time=per_member)
    if not members:
        ctx.note("ring", target=what, result=FAILED, reason="no_members")
        return RingResult(FAILED, (), None, "NO_ROUTE_DESTINATION")
    results: list[RingResult] = []
    for attempt in range(1, attempts + 1):
        for batch in await _order(ctx, group, members):
            batch, taken = await _take_lines(ctx, batch)
            try:  # a line is taken while its member rings and, if it answers, talks
                legs = [leg for m in batch for leg in _member_legs(ctx, group, m, per_member)]
                if not legs:
                    continue
                r = await _ring(ctx, what, legs, simultaneous=len(legs) > 1, ringback=ringback,
                                caller_id=caller_id, attempt=attempt, announce=announce)
            finally:
                await _give_back(ctx, taken)
            if r.answered or r.status == CALLER_GONE or ctx.channel.gone:
                return r
            results.append(r)
        if attempt < attempts and pause > 0:
            melody = ctx.sound(group.get("pause_melody"), "pause_melody")
            ctx.note("pause", seconds=pause, melody=melody.label if melody else None)
            await ctx.channel.pause(pause, melody)
            if ctx.channel.gone:
                return RingResult(CALLER_GONE, (), None, "ORIGINATOR_CANCEL")
    if not results:
        ctx.note("ring", target=what, result=FAILED, reason="no_reachable_member")
        return RingResult(FAILED, (), None, "NO_ROUTE_DESTINATION")
    return _combine(results)


def trunk_line_member(ctx: CallContext, trunk_id: str) -> str:
    """Who holds a line of trunk ``trunk_id`` in the shared counter ``trunk:<id>``: the call's
    uuid, or ``<uuid>/out`` for the second line a call that came in through that very trunk
    takes when it is sent back out through it."""
    uuid = ctx.channel.uuid
    return f"{uuid}/out" if ctx.via_trunk == trunk_id else uuid


async def _ring_trunk(ctx: CallContext, trunk: dict, leg: Leg) -> RingResult:
    """Ring ``leg`` into a tenant's trunk, holding one of its ``lines`` (D §5.3.1, counted in
    the state shared by the instances like an outbound call's) while it rings and talks; with
    every line in use the trunk is not dialled (busy: the scheme goes on with its next step)."""
    key, member = f"trunk:{trunk['_id']}", trunk_line_member(ctx, trunk["_id"])
    lines = int(trunk.get("lines") or 0)
    if ctx.shared is not None:
        busy = await ctx.shared.enter(key, member)
        if lines and busy is not None and busy > lines:
            await ctx.shared.leave(key, member)
            ctx.note("skip", target=leg.label, reason="trunk_lines", lines=lines)
            return RingResult(BUSY, (), None, "USER_BUSY")
    try:
        return await _ring(ctx, leg.label, [leg], simultaneous=False, ringback=_ringback(ctx))
    finally:
        if ctx.shared is not None:
            await ctx.shared.leave(key, member)


async def unavailable(ctx: CallContext) -> RingResult | None:
    """The PBX's "if unavailable" handling after the unavailable message (§4.4)."""
    snap = ctx.snapshot
    await ctx.channel.answer()
    if snap.unavailable_message:  # the PBX's message (the catalogue's phrase if its file cannot play)
        await ctx.channel.play(ctx.sound(snap.unavailable_message, "unavailable_message") or ctx.phrase("unavailable"))
    # «none» (A §4.4.3): no message, straight to the "if unavailable" action
    action = snap.unavailable_action
    ctx.note("unavailable", action=action, message=False if not snap.unavailable_message else None)
    if action == "busy":
        await ctx.channel.hangup("USER_BUSY")
        return None
    if action == "extension":
        return await forward(ctx, {"type": "extension", "value": snap.unavailable_extension}, None,
                             unavailable_action=False)
    await leave_voicemail(ctx)
    await ctx.channel.hangup("NORMAL_CLEARING")
    return None


async def forward(ctx: CallContext, target: dict, ring_time: Any, *,
                  unavailable_action: bool = False) -> RingResult | None:
    """Ring a forward target (a scheme step's, a client rule's). ``None``: nothing to ring."""
    snap = ctx.snapshot
    kind = target.get("type")
    ctx.note("forward", target=f"{kind}:{target.get('id') or target.get('value')}", ring_time=ring_time)
    if kind == "group":
        group = snap.group(target.get("id"))
        if group is None:
            ctx.note("problem", reason="group_missing", target=target.get("id"))
            return None
        return await ring_group(ctx, group, ring_time)
    if kind == "employee":
        emp = snap.employee(target.get("id"))
        if emp is None:
            ctx.note("problem", reason="employee_missing", target=target.get("id"))
            return None
        result = await ring_employee(ctx, emp, target.get("method"), ring_time)
        if unavailable_action and not result.answered and not ctx.channel.gone:
            return await unavailable(ctx) or result
        return result
    if kind == "external":
        leg = _external_leg(target.get("value", ""), snap.ring_time(ring_time), f"external:{target.get('value')}")
        return await _ring(ctx, leg.label, [leg], simultaneous=False, ringback=_ringback(ctx))
    if kind == "trunk":
        trunk = snap.trunks.get(target.get("id"))
        if trunk is None:
            ctx.note("problem", reason="trunk_missing", target=target.get("id"))
            return None
        if not trunk.get("active", True):  # switched off (D §5.4): its gateway is not even provisioned
            ctx.note("skip", target=f"trunk:{trunk['_id']}", reason="trunk_inactive")
            return None
        number = target.get("value") or ctx.destination or ""
        leg = Leg("trunk", number, snap.ring_time(ring_time), f"trunk:{trunk['_id']}",
                  gateway=vocab.trunk_gateway(trunk["_id"]))
        return await _ring_trunk(ctx, trunk, leg)
    if kind == "extension":
        owner = snap.owner_of_extension(str(target.get("value")))
        if owner is None:
            ctx.note("problem", reason="extension_unknown", target=target.get("value"))
            return None
        owner_type, owner_id = owner
        if owner_type == "employee":
            return await forward(ctx, {"type": "employee", "id": owner_id, "method": "card"}, ring_time,
                                 unavailable_action=unavailable_action)
        if owner_type == "group":
            return await forward(ctx, {"type": "group", "id": owner_id}, ring_time)
        ctx.note("problem", reason="extension_not_supported", owner=owner_type, target=target.get("value"))
        return None
    ctx.note("problem", reason="target_unknown", target=kind)
    return None


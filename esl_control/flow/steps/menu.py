"""Menu: the caller chooses an item by its digits (PRODUCT.md §4.2, inventory A §4.4.2.1).

The prompt of a menu is what was played just before it (the greeting); replaying the menu
replays that prompt. Digits pressed during an interruptible greeting count as the start of the
input. Processing rules (each only while its own schedule is in effect):

- ``disa`` {min_length, max_length}: the caller may dial an extension of those lengths (also the
  PBX's "callers may dial extensions" setting when the menu has no such rule);
- ``fax_detect``: a fax tone → fax reception (if the PBX's fax detection is on); the channel
  listens for the tone while the menu (and the greeting just before it) plays and waits, and
  stops listening when the call leaves the menu;
- ``no_input`` {timeout, steps}: nothing pressed within ``timeout`` (default 5 s);
- ``other_input`` {steps}: input that matches no item and no extension;
- ``wrong_input`` {count, steps}: after ``count`` wrong inputs (default 3), each before it
  answered with "invalid choice" and a replay;
- ``wrong_password`` {count, steps}: ``count`` wrong passwords for a protected item.

An unset rule replays the menu once, then the call goes on with the next step.
"""
from __future__ import annotations

from ..channel import Collected, Media
from ..engine import END, NEXT, CallContext, Enter, step_runner

DEFAULT_TIMEOUT = 5
DEFAULT_COUNT = 3
DIGIT_TIMEOUT = 3.0


def fax_rule(step: dict, ctx: CallContext) -> dict | None:
    """The menu's fax rule if a fax tone would lead to fax reception now: the rule is in
    effect (its schedule) and the PBX's fax detection is on."""
    rule = (step.get("rules") or {}).get("fax_detect")
    if rule is None or not ctx.snapshot.fax_auto_detect:
        return None
    return rule if ctx.snapshot.in_schedule(rule.get("schedule_id"), ctx.at) else None


async def _collect(ctx: CallContext, prompt: Media | None, max_len: int, timeout: float,
                   children: dict) -> Collected:
    if ctx.channel.fax_detected:
        return Collected("", "fax")
    pending, ctx.pending = ctx.pending, ""
    if pending:
        longer = any(k != pending and k.startswith(pending) for k in children)
        if len(pending) >= max_len or not longer:
            return Collected(pending[:max_len], "digits")
        more = await ctx.channel.collect(None, min_digits=1, max_digits=max_len - len(pending),
                                         timeout=DIGIT_TIMEOUT, digit_timeout=DIGIT_TIMEOUT)
        if more.reason in ("hangup", "fax"):
            return more
        return Collected(pending + more.digits, "digits")
    return await ctx.channel.collect(prompt, min_digits=1, max_digits=max_len, timeout=timeout,
                                     digit_timeout=DIGIT_TIMEOUT)


async def _password_ok(ctx: CallContext, expected: str, attempts: int) -> bool:
    prompt = ctx.sound(ctx.snapshot.password_prompt, "password_prompt") or ctx.phrase("enter_password")
    for attempt in range(attempts):
        got = await ctx.channel.collect(prompt, min_digits=1, max_digits=max(len(expected), 1) + 1,
                                        timeout=DEFAULT_TIMEOUT, digit_timeout=DIGIT_TIMEOUT)
        if got.reason == "hangup":
            return False
        if got.digits == expected:
            return True
        ctx.note("password", ok=False, attempt=attempt + 1)
        if attempt + 1 < attempts:
            await ctx.say("password_wrong")
    return False


def _extension_reachable(ctx: CallContext, digits: str, disa: dict | None) -> bool:
    if disa is not None:
        lo, hi = disa.get("min_length", 2), disa.get("max_length", 5)
    else:
        setting = ctx.snapshot.dial_extensions
        if not setting.get("enabled"):
            return False
        lo, hi = setting.get("min_length", 2), setting.get("max_length", 5)
    owner = ctx.snapshot.owner_of_extension(digits)
    return lo <= len(digits) <= hi and owner is not None and owner[0] in ("employee", "group")


async def run(step: dict, ctx: CallContext):
    try:
        return await _run(step, ctx)
    finally:  # the call goes elsewhere (a group, voice mail, the fax): no more listening
        if not ctx.channel.gone:
            await ctx.channel.unwatch_fax()


async def _run(step: dict, ctx: CallContext):
    snap = ctx.snapshot
    ch = ctx.channel
    children: dict = step.get("children") or {}
    rules = {kind: rule for kind, rule in (step.get("rules") or {}).items()
             if rule is not None and snap.in_schedule(rule.get("schedule_id"), ctx.at)}
    ctx.from_menu = True
    await ch.answer()
    if fax_rule(step, ctx) is not None:
        await ch.watch_fax()
    disa = rules.get("disa")
    setting = snap.dial_extensions
    max_len = max([len(d) for d in children] or [1])
    if disa is not None:
        max_len = max(max_len, int(disa.get("max_length", 5)))
    elif setting.get("enabled"):
        max_len = max(max_len, int(setting.get("max_length", 5)))
    no_input = rules.get("no_input")
    timeout = float((no_input or {}).get("timeout") or DEFAULT_TIMEOUT)
    wrong = 0
    replayed = False
    # the greeting just played is the prompt; a menu without one says "please choose"
    fallback = ctx.phrase("menu_timeout")
    prompt: Media | None = None if ctx.last_prompt is not None else fallback
    while True:
        got = await _collect(ctx, prompt, max_len, timeout, children)
        prompt = ctx.last_prompt or fallback
        if ch.fax_detected and got.reason != "hangup" and not ch.gone:
            got = Collected("", "fax")  # the tone stopped the menu: what was pressed is the machine's
        if got.reason == "hangup" or ch.gone:
            ctx.note("menu", input=None, result="caller_hung_up")
            return END
        if got.reason == "fax":
            fax = rules.get("fax_detect")
            if fax is not None and snap.fax_auto_detect:
                ctx.note("menu", input="fax_tone", rule="fax_detect")
                return Enter([{"kind": "fax", "emails": fax.get("emails") or []}], "fax_detect")
            got = Collected("", "timeout")
        digits = got.digits
        if not digits:
            if no_input is not None:
                ctx.note("menu", input=None, rule="no_input")
                return Enter(no_input.get("steps") or [{"kind": "hangup"}], "no_input")
            if not replayed:
                replayed = True
                ctx.note("menu", input=None, result="replay")
                continue
            ctx.note("menu", input=None, result="next_step")
            return NEXT
        item = children.get(digits)
        if item is not None:
            password = item.get("password")
            if password:
                rule = rules.get("wrong_password")
                attempts = int((rule or {}).get("count") or DEFAULT_COUNT)
                if not await _password_ok(ctx, password, attempts):
                    if ch.gone:
                        return END
                    if rule is not None:
                        ctx.note("menu", input=digits, rule="wrong_password")
                        return Enter(rule.get("steps") or [{"kind": "hangup"}], "wrong_password")
                    ctx.note("menu", input=digits, result="wrong_password")
                    await ctx.say("password_wrong")
                    return NEXT
            ctx.note("menu", input=digits, item=digits)
            return Enter(item.get("steps") or [{"kind": "hangup"}], f"item {digits}")
        if _extension_reachable(ctx, digits, disa):
            ctx.note("menu", input=digits, rule="disa" if disa is not None else "dial_extension")
            forward = step_runner("forward")
            return await forward({"kind": "forward", "target": {"type": "extension", "value": digits},
                                  "ring_time": None}, ctx)
        other = rules.get("other_input")
        if other is not None:
            ctx.note("menu", input=digits, rule="other_input")
            return Enter(other.get("steps") or [{"kind": "hangup"}], "other_input")
        wrong_rule = rules.get("wrong_input")
        if wrong_rule is not None:
            wrong += 1
            if wrong >= int(wrong_rule.get("count") or DEFAULT_COUNT):
                ctx.note("menu", input=digits, rule="wrong_input", count=wrong)
                return Enter(wrong_rule.get("steps") or [{"kind": "hangup"}], "wrong_input")
            ctx.note("menu", input=digits, result="invalid", count=wrong)
            await ctx.say("menu_invalid")
            continue
        if not replayed:
            replayed = True
            ctx.note("menu", input=digits, result="invalid_replay")
            await ctx.say("menu_invalid")
            continue
        ctx.note("menu", input=digits, result="next_step")
        return NEXT

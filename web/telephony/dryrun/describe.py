"""The engine's decision path (``esl_control.flow.dryrun``) told in words, in the user's language.

:func:`describe` turns each path entry into a line of the "Check a call" page; :func:`heard`
lists what the caller hears (the prompt catalogue's text of each phrase, the name of each sound
file); :func:`headline` is the one line "Now: scheme «Day» → greeting → menu" of the scheme list
and the number pages. ``_(message, **values)`` translates (``PageHandler._``). Names of groups,
employees, trunks and schedules come from the PBX's snapshot the dry run used.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from esl_control.model.effective import PbxSnapshot
from esl_control.model.names import group_name
from esl_control.prompts.phrases import PHRASES
from pult.i18n import N_
from web.telephony.dryrun.check import what_now

__all__ = ["describe", "heard", "headline", "target_name", "RESULTS", "ENDED_BY"]

T = Callable[..., str]

RESULTS = {"answered": N_("answered"), "no_answer": N_("no answer"), "busy": N_("busy"),
           "failed": N_("failed"), "ringing": N_("ringing"), "caller_gone": N_("the caller hung up")}
STRATEGIES = {"sequential": N_("in turn"), "random": N_("in random order"),
              "priority": N_("by priority"), "parallel": N_("by priority"),
              "simultaneous": N_("all at once"), "uniform": N_("longest idle first")}
LIST_MODES = {"black": N_("black list"), "white": N_("white list")}
RULES = {"disa": N_("Dialling an extension"), "dial_extension": N_("Dialling an extension"),
         "fax_detect": N_("Fax detection"), "no_input": N_("No input"), "other_input": N_("Any other input"),
         "wrong_input": N_("Wrong input"), "wrong_password": N_("Wrong password")}
MENU_RESULTS = {"replay": N_("the menu is played again"), "next_step": N_("on to the next step"),
                "invalid": N_("wrong input, the caller hears so"),
                "invalid_replay": N_("wrong input, the menu is played again"),
                "wrong_password": N_("wrong password"), "caller_hung_up": N_("the caller hung up")}
UNAVAILABLE = {"busy": N_("busy signal"), "extension": N_("forward to the extension"),
               "voicemail": N_("voice mail")}
PROBLEMS = {
    "sound_unavailable": N_("a sound file is missing or not converted yet, it is skipped"),
    "schedule_missing": N_("the schedule of a time block was deleted, the block is skipped"),
    "group_missing": N_("the group was deleted, the step is skipped"),
    "employee_missing": N_("the employee was deleted, the step is skipped"),
    "trunk_missing": N_("the trunk was deleted, the step is skipped"),
    "extension_unknown": N_("no such extension"),
    "default_group_missing": N_("the PBX has no default group (extension 6)"),
    "scheme_empty": N_("the scheme has no time blocks"),
    "contact_method_missing": N_("the contact method was deleted"),
    "sip_account_missing": N_("the SIP account was deleted"),
}
ENDED_BY = {"caller": N_("the caller"), "far_end": N_("the other side"), "pult": N_("the PBX")}


def target_name(snapshot: PbxSnapshot | None, target: str | None, _: T) -> str:
    """``group:<id>`` → «Sales», ``employee:<id>/<method>`` → «Petrov», ``external:<n>`` → n."""
    kind, _sep, rest = (target or "").partition(":")
    ident = rest.split("/")[0]
    if snapshot is not None:
        if kind == "group":
            doc = snapshot.group(ident)
            if doc:
                return _("group «%(name)s»", name=group_name(doc, _) or ident)
        if kind == "employee":
            doc = snapshot.employee(ident)
            if doc:
                return _("employee «%(name)s»", name=doc.get("name") or ident)
        if kind == "trunk":
            doc = snapshot.trunks.get(ident)
            if doc:
                return _("trunk «%(name)s»", name=doc.get("name") or ident)
    if kind == "external":
        return _("number %(number)s", number=rest)
    if kind == "extension":
        return _("extension %(number)s", number=rest)
    return target or "—"


def _schedule_name(snapshot: PbxSnapshot | None, sid: Any) -> str | None:
    if snapshot is None or not sid:
        return None
    sched = snapshot.schedule(sid)
    return getattr(sched, "name", None) if sched is not None else None


def _line(entry: Mapping[str, Any], snap: PbxSnapshot | None, _: T) -> str:
    step = entry.get("step")
    if step == "inbound":
        caller = entry.get("caller")
        return (_("A call to %(number)s from %(caller)s", number=entry.get("number") or "—", caller=caller)
                if caller else _("A call to %(number)s from a hidden number", number=entry.get("number") or "—"))
    if step == "internal":
        return _("A call from %(caller)s to %(dialled)s", caller=entry.get("caller") or "—",
                 dialled=entry.get("dialled") or "—")
    if step == "route":
        kind = entry.get("kind")
        if kind == "trunk":
            return _("Outbound through %(trunk)s to %(number)s",
                     trunk=target_name(snap, f"trunk:{entry.get('trunk_id')}", _), number=entry.get("number") or "—")
        if kind == "platform":
            return _("Outbound through the platform to %(number)s", number=entry.get("number") or "—")
        if kind == "internal":
            return _("%(number)s is an extension of the PBX", number=entry.get("number") or "—")
        return _("Outbound routing refuses the call (%(reason)s)", reason=entry.get("reason") or "—")
    if step == "outbound":
        return _("The call is refused (%(reason)s): the caller hears why and the call ends",
                 reason=entry.get("reason") or "—")
    if step == "blocked":
        return _("The PBX is blocked: the caller hears the notice and the call ends")
    if step == "limit":
        return _("All %(count)s lines of the PBX are busy: busy signal", count=entry.get("max_calls"))
    if step == "list":
        mode = entry.get("mode")
        if not mode:
            return _("Black and white lists: not in use")
        name = _(LIST_MODES.get(mode, mode))
        if not entry.get("allowed"):
            return _("The %(list)s refuses the caller (entry %(entry)s): busy signal", list=name,
                     entry=entry.get("entry") or "—")
        if entry.get("entry"):
            return _("The %(list)s lets the caller through (entry %(entry)s)", list=name, entry=entry["entry"])
        return _("The %(list)s lets the caller through", list=name)
    if step == "client_rule":
        return _("Client rule for %(entry)s: to %(target)s", entry=entry.get("entry"),
                 target=target_name(snap, entry.get("target"), _))
    if step == "scheme":
        if not entry.get("scheme_id"):
            return _("No active scheme: the default group (extension 6), then voice mail")
        block = int(entry.get("block") or 0) + 1
        sched = _schedule_name(snap, entry.get("schedule_id"))
        when = _("schedule «%(name)s»", name=sched) if sched else _("at any other time")
        return _("Scheme «%(name)s», time block %(block)s (%(when)s)", name=entry.get("name") or "—",
                 block=block, when=when)
    if step == "greeting":
        if entry.get("played") is False:
            return _("Greeting without a sound file: skipped")
        text = _("Greeting «%(sound)s»", sound=entry.get("sound") or "—")
        if entry.get("wait_end"):
            text += _(", played to the end")
        if entry.get("pressed"):
            text += _(", the caller presses %(digits)s during it", digits=entry["pressed"])
        return text
    if step == "menu":
        given = entry.get("input")
        pressed = (_("the caller presses %(digits)s", digits=given) if given and given != "fax_tone" else
                   _("a fax tone") if given == "fax_tone" else _("the caller presses nothing"))
        if entry.get("item") is not None:
            return _("Voice menu: %(pressed)s → item %(item)s", pressed=pressed, item=entry["item"])
        if entry.get("rule"):
            return _("Voice menu: %(pressed)s → rule «%(rule)s»", pressed=pressed,
                     rule=_(RULES.get(entry["rule"], entry["rule"])))
        result = entry.get("result")
        return _("Voice menu: %(pressed)s → %(result)s", pressed=pressed,
                 result=_(MENU_RESULTS.get(result, result or "—")))
    if step == "password":
        return _("Wrong password (attempt %(attempt)s)", attempt=entry.get("attempt"))
    if step == "forward":
        if entry.get("skipped"):
            return _("Forward without a target: skipped")
        text = _("Forward to %(target)s", target=target_name(snap, entry.get("target"), _))
        if entry.get("ring_time") not in (None, ""):
            text += _(", ring time %(seconds)s s", seconds=entry["ring_time"])
        return text
    if step == "group":
        return _("%(group)s: %(members)s members %(strategy)s, %(attempts)s attempts",
                 group=target_name(snap, entry.get("target"), _), members=entry.get("members"),
                 strategy=_(STRATEGIES.get(entry.get("strategy"), entry.get("strategy") or "")),
                 attempts=entry.get("attempts"))
    if step == "ring":
        legs = entry.get("legs") or []
        if not legs:
            reason = entry.get("reason")
            return _("Nobody to ring for %(target)s (%(reason)s)", target=target_name(snap, entry.get("target"), _),
                     reason=reason or _(RESULTS.get(entry.get("result"), "")))
        parts = [_("%(address)s for %(seconds)s s — %(result)s", address=leg.get("address"),
                   seconds=leg.get("timeout") if leg.get("timeout") else "∞",
                   result=_(RESULTS.get(leg.get("result"), leg.get("result") or "")))
                 for leg in legs]
        head = _("Rings at once") if entry.get("simultaneous") else _("Rings")
        if entry.get("attempt"):
            head += " " + _("(attempt %(attempt)s)", attempt=entry["attempt"])
        return f"{head}: " + "; ".join(parts)
    if step == "pause":
        return _("Pause of %(seconds)s s before the next attempt", seconds=entry.get("seconds"))
    if step == "skip":
        if entry.get("reason") == "no_platform_gateway":
            return _("%(target)s is skipped: the platform has no gateway for external numbers",
                     target=target_name(snap, entry.get("target"), _))
        if entry.get("reason") in ("lines_busy", "trunk_lines"):
            return _("%(target)s is skipped: all its lines are busy", target=target_name(snap, entry.get("target"), _))
        if entry.get("reason") == "trunk_inactive":
            return _("%(target)s is skipped: it is switched off", target=target_name(snap, entry.get("target"), _))
        return _("%(target)s is skipped: outside its schedule", target=target_name(snap, entry.get("target"), _))
    if step == "unavailable":
        if entry.get("message") is False:  # the PBX's unavailable message is «none»
            return _("Unavailable: no message, then %(action)s",
                     action=_(UNAVAILABLE.get(entry.get("action"), entry.get("action") or "—")))
        return _("Unavailable: the caller hears the message, then %(action)s",
                 action=_(UNAVAILABLE.get(entry.get("action"), entry.get("action") or "—")))
    if step == "voicemail":
        return _("Voice mail: the caller may leave a message of up to %(seconds)s s", seconds=entry.get("max_seconds"))
    if step == "fax":
        return _("Receives a fax")
    if step == "return_to_main":
        return _("Back to the main menu")
    if step == "hangup":
        return _("Hangs up")
    if step == "conference":
        return _("Conference room")
    if step == "problem":
        reason = entry.get("reason") or ""
        return _("Problem: %(what)s", what=_(PROBLEMS[reason]) if reason in PROBLEMS else reason)
    return str(step)


def describe(result: Mapping[str, Any], snapshot: PbxSnapshot | None, _: T) -> list[dict]:
    """``[{step, text}]``: each step of the path in words."""
    return [{"step": e.get("step"), "text": _line(e, snapshot, _)} for e in result.get("path") or ()]


def heard(result: Mapping[str, Any], lang: str, snapshot: PbxSnapshot | None = None, _: T | None = None) -> list[str]:
    """What the caller hears, in order: each prompt's text (in ``lang``), each sound file's name
    (a built-in's in the reader's language when ``snapshot`` and ``_`` are given)."""
    from jobs.builtin_media import sound_name

    by_name: dict[str, list[dict]] = {}
    if snapshot is not None and _ is not None:
        for doc in snapshot.sounds.values():
            by_name.setdefault(str(doc.get("name") or ""), []).append(doc)
    out: list[str] = []
    for action in result.get("actions") or ():
        media = action.get("media") if action.get("verb") in ("play", "collect", "pause") else None
        if not media:
            continue
        kind, _sep, value = str(media).partition(":")
        if kind == "phrase":
            text = PHRASES.get(value, {}).get(lang) or value
            out.append(f"«{text}»")
        else:
            docs = by_name.get(value) or []
            if kind == "sound" and len(docs) == 1 and docs[0].get("builtin"):  # the engine names it as stored
                value = sound_name(docs[0], _)
            out.append(f"«{value}»")
    return out


def ended(result: Mapping[str, Any], _: T) -> str | None:
    end = result.get("ended")
    if not end:
        return None
    by = end.get("by")
    return _("The call ends (%(cause)s), hung up by %(by)s", cause=end.get("cause"),
             by=_(ENDED_BY[by]) if by in ENDED_BY else (by or "—"))


#: the steps the headline names, and how
_SHORT = {"greeting": N_("greeting"), "menu": N_("menu"), "voicemail": N_("voice mail"),
          "fax": N_("fax"), "hangup": N_("hang up")}


def headline(result: Mapping[str, Any] | None, snapshot: PbxSnapshot | None, _: T) -> str:
    """One line: what a call to the number does now, up to the first menu (no digits pressed)."""
    if not result:
        return _("Now: —")
    parts: list[str] = []
    for e in result.get("path") or ():
        step = e.get("step")
        if step == "blocked":
            parts.append(_("the PBX is blocked, the caller hears the notice"))
            break
        if step == "list" and e.get("allowed") is False:
            parts.append(_("the caller is refused by the list"))
            break
        if step == "client_rule":
            parts.append(_("client rule → %(target)s", target=target_name(snapshot, e.get("target"), _)))
        elif step == "scheme":
            parts.append(_("scheme «%(name)s»", name=e.get("name")) if e.get("scheme_id")
                         else _("no scheme"))
        elif step == "forward" and not e.get("skipped"):
            parts.append(target_name(snapshot, e.get("target"), _))
        elif step in _SHORT:
            if step == "hangup" and parts:
                break
            parts.append(_(_SHORT[step]))
            if step == "menu":
                break
    if not parts:
        return _("Now: —")
    deduped = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return _("Now: %(path)s", path=" → ".join(deduped))


async def now_headlines(handler, pbx_id: int, numbers) -> dict[str, str]:
    """``{number: "Now: …"}`` of the numbers of a page (one snapshot, one dry run per number)."""
    snapshot, results = await what_now(handler.ctx.store.db, pbx_id, numbers)
    return {number: headline(result, snapshot, handler._) for number, result in results.items()}

"""The dry run: the engine over the recording :class:`FakeChannel`, for "what would a call do".

    result = await dry_run(snapshot, number="74951234567", caller="79161234567",
                           at=datetime(...), digits=["1"], answers={"external:7916...": "answered"})
    result["path"]     # the decision path, step by step (what the call record would keep)
    result["actions"]  # what the channel was told: answer, play, collect, ring …
"""
from __future__ import annotations

import random
import re
from datetime import datetime
from typing import Any, Iterable

from esl_control.model.effective import PbxSnapshot
from esl_control.routing.errors import RuleError, _register
from pult.i18n import N_

from .channel import FakeChannel
from .engine import CallContext, Engine
from .inbound import run_inbound, run_internal

__all__ = ["dry_run"]


async def dry_run(snapshot: PbxSnapshot, *, number: str | None, caller: str | None, at: datetime,
                  digits: Iterable[str | None] = (), answers: Any = None, internal: bool = False,
                  seed: int = 0) -> dict:
    """Run one simulated call and return ``{path, actions, ended: {cause, by}}``."""
    channel = FakeChannel(caller=caller, destination=number, digits=digits, answers=answers)
    num = snapshot.number(number=number) if number and not internal else None
    ctx = CallContext(snapshot, channel, at, caller, number, number=num, random=random.Random(seed))
    if internal and caller:  # an internal call is placed by the employee of that extension
        owner = snapshot.owner_of_extension(caller)
        ctx.caller_employee = snapshot.employee(owner[1]) if owner and owner[0] == "employee" else None
    engine = Engine()
    if internal:
        await run_internal(ctx, engine)
    else:
        await run_inbound(ctx, engine)
    ended = next((a for a in reversed(channel.actions) if a["verb"] == "hangup"), None)
    return {"path": ctx.path, "actions": channel.actions,
            "ended": {"cause": ended["cause"], "by": ended["by"]} if ended else None}


# --- the request of the dry-run API (validated here; the web layer only translates HTTP) -------

_register({
    "dry_run.number": N_("This PBX has no number {value}. Choose one of the PBX's numbers."),
    "dry_run.number_empty": N_("Give the number that is called (one of the PBX's numbers, or an extension for an internal call)."),
    "dry_run.at": N_('Expected a date and time in ISO 8601, e.g. 2026-12-07T12:00:00+03:00.'),
    "dry_run.digits": N_('Expected a list of inputs, each of digits, * and # (at most 20 characters), "" for no input or "fax" for a fax tone; at most 20 inputs.'),
    "dry_run.answers": N_('Expected an object: target (number, SIP login or employee:<id>/<method>) → answered, no_answer, busy or failed (or a list of those by attempt).'),
    "dry_run.caller": N_("The caller's number is too long or contains line breaks."),
})

INPUT_PATTERN = r"!?[0-9*#]{0,20}"
_INPUT = re.compile(INPUT_PATTERN)
RESULTS = ("answered", "no_answer", "busy", "failed")
_RESULTS = RESULTS


def parse_request(snapshot: PbxSnapshot, body: dict, *, now: datetime) -> dict:
    """Validate a dry-run request ``{number, caller, at, digits, answers, internal}`` against the
    PBX: the keyword arguments of :func:`dry_run` (a :class:`RuleError` names the bad field)."""
    internal = bool(body.get("internal"))
    number = str(body.get("number") or "").strip()
    if not number:
        raise RuleError("dry_run.number_empty", field="number")
    if not internal and snapshot.number(number=number) is None:
        raise RuleError("dry_run.number", field="number", value=number[:32])
    caller = body.get("caller")
    if caller is not None and (not isinstance(caller, str) or len(caller) > 64 or "\n" in caller):
        raise RuleError("dry_run.caller", field="caller")
    at_raw = body.get("at")
    if at_raw in (None, ""):
        at = now
    else:
        try:
            at = datetime.fromisoformat(str(at_raw).replace("Z", "+00:00"))
        except ValueError:
            raise RuleError("dry_run.at", field="at") from None
    digits = body.get("digits") or []
    if not isinstance(digits, list) or len(digits) > 20 or not all(
            d is None or (isinstance(d, str) and (d == "fax" or _INPUT.fullmatch(d))) for d in digits):
        raise RuleError("dry_run.digits", field="digits")
    answers = body.get("answers") or {}
    if not isinstance(answers, dict) or len(answers) > 200 or not all(
            isinstance(k, str) and (v in _RESULTS or (isinstance(v, list) and len(v) <= 10 and all(x in _RESULTS for x in v)))
            for k, v in answers.items()):
        raise RuleError("dry_run.answers", field="answers")
    return {"number": number, "caller": caller, "at": at, "digits": digits, "answers": answers,
            "internal": internal}

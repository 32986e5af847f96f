"""Cabinet page "Check a call" (issue 12): what a call to one of the PBX's numbers would do.

``/telephony/check-call``
    A form — the number (one of the PBX's), the caller, the date and time in the PBX's time zone
    (default: now), what the caller presses (inputs separated by spaces or commas; ``-`` for no
    input, ``fax`` for a fax tone) and who answers (one ``target = result`` per line) — and, once
    submitted, the decision path in words: which list rule matched, which client rule, which time
    block, which menu item, who rings in which order for how long, what the caller hears, where
    the call ends. It runs the same use case as ``POST /api/v1/telephony/dry-run``
    (:func:`web.telephony.dryrun.check.check_call`): the engine over the recording fake; nothing
    is dialled or stored, so the form is a plain ``GET`` (a bookmarkable check). Bad input: the
    form again (422) with the field's error in the user's language.

Rights: section ``call_handling``, view (a check changes nothing). It stands in the menu right
after the call schemes.
"""
from __future__ import annotations

import re
from datetime import timezone
from zoneinfo import ZoneInfo

from esl_control.model.effective import load_snapshot
from esl_control.routing.errors import RuleError
from pult import clock
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.dryrun.check import run_checked
from web.telephony.dryrun.describe import describe, ended, heard
from web.telephony.pages_common import TelPage

URL = "/telephony/check-call"
RESULTS = ("answered", "no_answer", "busy", "failed")

register_section(Section("schemes_check", N_("Check a call"), URL, order=300, audience="tenant",
                         right="call_handling.view", icon="✓"))


def parse_digits(text: str) -> list[str]:
    """``"1 2#, -, fax"`` → ``["1", "2#", "", "fax"]`` (``-`` is "presses nothing")."""
    return ["" if part == "-" else part for part in re.split(r"[\s,;]+", text.strip()) if part]


def parse_answers(text: str) -> dict:
    """One ``target = result`` per line (``result`` may be a comma-separated list by attempt);
    a line that is not of that form is refused with the API's own message for ``answers``."""
    out: dict = {}
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        target, sep, value = line.partition("=")
        results = [v.strip().lower().replace(" ", "_") for v in value.split(",") if v.strip()]
        if not sep or not target.strip() or not results:
            raise RuleError("dry_run.answers", field="answers")
        out[target.strip()] = results[0] if len(results) == 1 else results
    return out


@route(URL, access="tenant", section="call_handling", level="view", name="check_call")
class CheckCallPage(TelPage):
    section = "schemes_check"  # (the menu key: sorted right after "schemes", order 300)
    rights_key = "call_handling"

    async def get(self) -> None:
        snapshot = await load_snapshot(self.db, self.pbx_id)
        tz = ZoneInfo(snapshot.timezone) if snapshot is not None else timezone.utc
        numbers = sorted((n.get("number") for n in (snapshot.numbers.values() if snapshot else ())
                          if n.get("number")))
        args = self.request.query_arguments
        values = {k: self.get_query_argument(k, "").strip() for k in ("number", "caller", "at", "digits", "answers")}
        values["answers"] = self.get_query_argument("answers", "")
        if not values["at"]:
            values["at"] = clock.local_now(tz).strftime("%Y-%m-%dT%H:%M")
        if not values["number"] and numbers:
            values["number"] = numbers[0]
        errors: dict[str, str] = {}
        lines = hears = end = None
        status = 200
        if "run" in args and snapshot is not None:
            try:
                body = {"number": values["number"], "caller": values["caller"] or None,
                        "at": values["at"], "digits": parse_digits(values["digits"]),
                        "answers": parse_answers(values["answers"])}
                result = await run_checked(snapshot, body)
            except RuleError as exc:
                errors = self.rule_errors(exc)
                status = 422
            else:
                lines = describe(result, snapshot, self._)
                hears = heard(result, self.lang, snapshot, self._)
                end = ended(result, self._)
        self.show("telephony/check_call.html", status, numbers=numbers, values=values, errors=errors,
                  lines=lines, hears=hears, end=end, tz_name=str(tz), results=RESULTS)

"""Black/white lists and client-number routing rules: entry syntax, matching and decisions.

Sources:

- PRODUCT.md §3 (black / white list, client-number routing) and §4.1 steps 3-4 (order: the list
  decision first, then the client-number rules).
- Inventory A §4.4.5: lists are mutually exclusive; the decision table (reproduced in
  :func:`list_decision`); "unknown caller" allowed/forbidden is set with the active list;
  rejected calls hear busy.
- Inventory A §4.4.4 (the same entry syntax): international form without ``(``, ``)``, ``+``,
  ``-`` (``-`` only in a range); range ends of the same length (``74952009000-74952009999`` valid,
  ``749520-74952009999`` invalid); ``#`` one arbitrary digit/character (``7495#555555``); ``*`` an
  arbitrary run (``7495200*``); SIP ``user@domain`` (``ivanov@mangosip.ru``, ...). "If the number
  cannot be determined the tool does not work"; no match -> the other PBX settings.
- Seed 000 §4.3: "exact match" unticked turns ``7343`` into "every number starting with 7343".

Decisions (PRODUCT.md settles the inventory's open points):

- ``*`` matches any run including the empty one (PRODUCT.md §3), so ``7495200*`` matches
  ``7495200`` and longer numbers too, not only the 11-digit ones of the manual's example
  (inventory A ambiguity 7).
- "Exact match" unticked means the entry matches the beginning of the caller's number, whatever
  its form: a number becomes a prefix, a range ``A-B`` matches numbers whose first ``len(A)``
  digits are in the range, a mask matches a prefix.
- SIP entries and SIP callers compare case-insensitively (a tenant admin types domains and user
  names without caring about case).
- Client-number rules are ordered; the first *active* matching rule wins (PRODUCT.md §3).
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from esl_control.routing.errors import RuleError
from esl_control.routing.numbers import CallerId, _russian_national, normalize_caller_id

PHONE = "phone"
SIP = "sip"
BLACK = "black"
WHITE = "white"
MAX_ENTRY_LENGTH = 255
MAX_COMMENT_LENGTH = 255
MAX_RING_TIME = 3600
"""Contact-method ring time cap (PRODUCT.md §3: 0 = until the caller hangs up, capped at 1 h)."""
TARGET_KINDS = ("group", "employee", "external")


def _glob(pattern: str, text: str, *, prefix: bool) -> bool:
    """Match ``#`` (one character) and ``*`` (any run, may be empty) without backtracking blow-up.

    The classic two-pointer wildcard algorithm: linear in practice, O(len(pattern) x len(text)) at
    worst, whatever the number of ``*``. ``prefix`` lets the text continue after the pattern.
    """
    if prefix:
        pattern = pattern + "*"
    p = t = 0
    star_p, star_t = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] != "*" and (pattern[p] == "#" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            p = star_p + 1
            star_t += 1
            t = star_t
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


@dataclass(frozen=True)
class ListEntry:
    """One validated entry of a black/white list or of a client-number rule.

    ``form`` is ``"number"``, ``"range"``, ``"mask"`` (phone entries) or ``"sip"``; ``value`` is the
    canonical text to store and show.
    """

    kind: str
    value: str
    exact: bool = True
    comment: str = ""
    form: str = "number"
    range_start: str | None = field(default=None, repr=False)
    range_end: str | None = field(default=None, repr=False)

    def matches(self, caller: CallerId | str | None) -> bool:
        """Does this entry cover ``caller`` (a :class:`CallerId` or a raw caller id string)?"""
        if not isinstance(caller, CallerId):
            caller = normalize_caller_id(caller)
        if self.kind == SIP:
            return caller.sip is not None and _glob(self.value, caller.sip.lower(), prefix=not self.exact)
        number = caller.number
        if number is None:
            return False
        if self.form == "range":
            width = len(self.range_start)
            if len(number) < width or (self.exact and len(number) != width):
                return False
            head = number[:width]
            return self.range_start <= head <= self.range_end   # same width: string order = numeric
        if self.form == "number":
            return number == self.value if self.exact else number.startswith(self.value)
        return _glob(self.value, number, prefix=not self.exact)


def parse_entry(value: str, *, kind: str | None = None, exact: bool = True, comment: str = "") -> ListEntry:
    """Validate a list / client-rule entry as typed in the cabinet and return it in canonical form.

    ``kind`` is ``"phone"`` or ``"sip"`` (the form's switch); ``None`` guesses from ``@``.
    Raises :class:`RuleError` with a ``list_entry.*`` code (``field="value"``).
    """
    text = unicodedata.normalize("NFKC", (value or "").strip())
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise RuleError("comment.too_long", field="comment", max=MAX_COMMENT_LENGTH)
    if not text:
        raise RuleError("list_entry.empty", field="value")
    if len(text) > MAX_ENTRY_LENGTH:
        raise RuleError("list_entry.too_long", field="value", max=MAX_ENTRY_LENGTH)
    if kind is None:
        kind = SIP if "@" in text else PHONE
    if kind not in (PHONE, SIP):
        raise RuleError("list_entry.kind", field="kind", kind=kind)
    for ch in text:
        if "\u0400" <= ch <= "\u04ff":
            raise RuleError("list_entry.cyrillic", field="value", part=ch)
    if kind == SIP:
        return _parse_sip_entry(text, exact, comment)
    return _parse_phone_entry(text, exact, comment)


def _parse_phone_entry(text: str, exact: bool, comment: str) -> ListEntry:
    if "+" in text:
        raise RuleError("list_entry.plus", field="value")
    for ch in text:
        if ch not in "0123456789#*-":
            raise RuleError("list_entry.chars", field="value", part=ch)
    if "-" in text:
        start, sep, end = text.partition("-")
        if not start or not end or "-" in end:
            raise RuleError("list_entry.dash", field="value")
        if not (start.isdigit() and end.isdigit()):
            raise RuleError("list_entry.range_chars", field="value", value=text)
        if len(start) != len(end):
            raise RuleError("list_entry.range_length", field="value", start=start, end=end,
                            start_length=len(start), end_length=len(end))
        if len(start) > 15:
            raise RuleError("list_entry.length", field="value")
        if start > end:
            raise RuleError("list_entry.range_order", field="value", start=start, end=end)
        for bound in (start, end):
            _no_national_prefix(bound)
        return ListEntry(PHONE, f"{start}-{end}", exact, comment, "range", start, end)
    if len(text.replace("*", "")) > 15:
        raise RuleError("list_entry.length", field="value")
    if "#" in text or "*" in text:
        canonical = _collapse_stars(text)
        return ListEntry(PHONE, canonical, exact, comment, "mask")
    if exact:
        _no_national_prefix(text)
    return ListEntry(PHONE, text, exact, comment, "number")


def _no_national_prefix(digits: str) -> None:
    """Callers arrive normalised to ``7…``; an entry ``8…`` (Russian national) would never match."""
    if len(digits) == 11 and digits[0] == "8":
        suggestion = _russian_national(digits)
        if suggestion:
            raise RuleError("number.national_prefix", field="value", suggestion=suggestion)


def _collapse_stars(text: str) -> str:
    out = []
    for ch in text:
        if ch == "*" and out and out[-1] == "*":
            continue
        out.append(ch)
    return "".join(out)


def _parse_sip_entry(text: str, exact: bool, comment: str) -> ListEntry:
    low = text.lower()
    for scheme in ("sip:", "sips:"):
        if low.startswith(scheme):
            low = low[len(scheme):]
            break
    if "-" in low and "@" not in low:
        raise RuleError("list_entry.range_sip", field="value")
    if low.count("@") != 1:
        raise RuleError("list_entry.sip_format", field="value", value=text)
    user, host = low.split("@")
    allowed_user = set("abcdefghijklmnopqrstuvwxyz0123456789._-+!~'#*")
    allowed_host = set("abcdefghijklmnopqrstuvwxyz0123456789.-#*")
    if not user or not host or any(c not in allowed_user for c in user) or any(c not in allowed_host for c in host):
        raise RuleError("list_entry.sip_format", field="value", value=text)
    if "*" not in host and "#" not in host and ("." not in host or host.startswith(".") or host.endswith(".")):
        raise RuleError("list_entry.sip_format", field="value", value=text)
    return ListEntry(SIP, _collapse_stars(low), exact, comment, "sip")


@dataclass(frozen=True)
class ListDecision:
    """Outcome of the black/white list check (PRODUCT.md §4.1 step 3).

    ``allowed`` false means: answer busy. ``reason`` is one of ``no_list``, ``in_white_list``,
    ``not_in_white_list``, ``in_black_list``, ``not_in_black_list``, ``unknown_allowed``,
    ``unknown_forbidden``; ``entry`` is the entry that matched, if any.
    """

    allowed: bool
    reason: str
    entry: ListEntry | None = None


def list_decision(mode: str | None, entries: Iterable[ListEntry], caller: CallerId | str | None, *,
                  unknown_allowed: bool) -> ListDecision:
    """Apply the inventory A §4.4.5 decision table.

    ====================  ==========================================  ===========
    Active list           Caller number                               Result
    ====================  ==========================================  ===========
    white                 determined, in the list                     continue
    white                 determined, not in the list                 busy
    black                 determined, in the list                     busy
    black                 determined, not in the list                 continue
    black or white        not determined, unknown allowed             continue
    black or white        not determined, unknown forbidden           busy
    none                  anything                                    continue
    ====================  ==========================================  ===========

    ``mode`` is ``"black"``, ``"white"`` or ``None`` (no list active).
    """
    if mode is None or mode == "":
        return ListDecision(True, "no_list")
    if mode not in (BLACK, WHITE):
        raise RuleError("list.mode", field="mode", mode=mode)
    if not isinstance(caller, CallerId):
        caller = normalize_caller_id(caller)
    if caller.unknown:
        return (ListDecision(True, "unknown_allowed") if unknown_allowed
                else ListDecision(False, "unknown_forbidden"))
    hit = next((e for e in entries if e.matches(caller)), None)
    if mode == WHITE:
        return ListDecision(True, "in_white_list", hit) if hit else ListDecision(False, "not_in_white_list")
    return ListDecision(False, "in_black_list", hit) if hit else ListDecision(True, "not_in_black_list")


def validate_list(entries: Sequence[ListEntry]) -> list[ListEntry]:
    """Refuse the same entry twice in one list (same kind, value and exactness)."""
    seen: set[tuple[str, str, bool]] = set()
    for e in entries:
        key = (e.kind, e.value, e.exact)
        if key in seen:
            raise RuleError("list.duplicate", field="value", value=e.value)
        seen.add(key)
    return list(entries)


@dataclass(frozen=True)
class ClientNumberRule:
    """A «Переадресация по номеру клиента» rule (inventory A §4.4.4).

    ``target_kind`` is ``group`` / ``employee`` / ``external``; ``target`` the id of the group or
    employee, or the external number / SIP address; ``contact_method`` optionally one method of the
    employee; ``ring_time`` seconds (0 = until the caller hangs up), ``None`` = PBX default.
    """

    entry: ListEntry
    target_kind: str
    target: str
    ring_time: int | None = None
    contact_method: str | None = None
    active: bool = True
    comment: str = ""
    id: Any = None


def validate_client_rule(value: str, *, target_kind: str, target: str, kind: str | None = None,
                         exact: bool = True, ring_time: int | None = None,
                         contact_method: str | None = None, active: bool = True,
                         comment: str = "", id: Any = None,
                         short_pattern: str | None = None) -> ClientNumberRule:
    """Build a client-number rule from form values, validating the entry, target and ring time.

    An external target is validated as a phone number / short SIP number / SIP URI
    (:func:`esl_control.routing.numbers.parse_destination`) and stored canonically.
    """
    entry = parse_entry(value, kind=kind, exact=exact)
    if target_kind not in TARGET_KINDS or not (target or "").strip():
        raise RuleError("rule.target", field="target")
    target = target.strip()
    if target_kind == "external":
        from esl_control.routing.numbers import parse_destination
        try:
            target = parse_destination(target, short_pattern=short_pattern).value
        except RuleError as exc:
            raise exc.for_field("target")
    if ring_time is not None and not (isinstance(ring_time, int) and 0 <= ring_time <= MAX_RING_TIME):
        raise RuleError("rule.ring_time", field="ring_time", max=MAX_RING_TIME)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_LENGTH:
        raise RuleError("comment.too_long", field="comment", max=MAX_COMMENT_LENGTH)
    return ClientNumberRule(entry, target_kind, target, ring_time, contact_method, active, comment, id)


def match_client_rule(rules: Iterable[ClientNumberRule], caller: CallerId | str | None) -> ClientNumberRule | None:
    """The first active rule whose entry matches the caller; ``None`` for a hidden caller or no match."""
    if not isinstance(caller, CallerId):
        caller = normalize_caller_id(caller)
    if caller.unknown:
        return None
    for rule in rules:
        if rule.active and rule.entry.matches(caller):
            return rule
    return None

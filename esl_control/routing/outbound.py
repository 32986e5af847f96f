"""The outbound route choice for a call an employee dials, and the trunk caller-id rules.

Sources:

- PRODUCT.md §4.5 (the order, which settles inventory D §5.3.4 "derived outbound routing order"
  and appendix item 2): an extension -> internal call; else the longest trunk prefix (stripped)
  -> that trunk; else the first active mask, top-down over the PBX's ONE ordered list -> that
  mask's trunk with its transformation; else the employee's outgoing number is a trunk number
  -> that trunk; else the platform gateways with the employee's outgoing number as caller id.
- PRODUCT.md §4.5: allowed directions, "no outgoing number" = no external calls, emergency always
  passes. PRODUCT.md §2: a blocked PBX still makes emergency and internal calls.
- Inventory D §5.3.3: trunk prefix 1-9999 (Ex. 4: ``88123456`` -> ``123456`` into the trunk with
  prefix 88); masks (Ex. 5); the trunk's default outgoing number and "allow number change"
  (Ex. 1-3); lines 5-100; trunk numbers E.164, comment at most 50 characters. D §5.3.4 Ex. 1-3
  and §5.6 Ex. 6 (an extension never goes to a trunk).

Decisions:

- Overlapping prefixes (8 and 88): the longest wins (PRODUCT.md). A dialled number equal to a
  prefix (nothing left after stripping) does not use that prefix.
- Inactive trunks are skipped by prefixes, masks and the outgoing-number rule.
- The allowed-directions and "no outgoing number" checks apply to the platform route only (D
  §5.3.4 step 5: "PSTN through the platform, subject to the allowed directions"): prefix and
  mask routes are the admin's explicit routing into the tenant's own PBX, and the outgoing-number
  trunk sends the call to the tenant's PBX, which applies its own rules.
- A mask whose transformation yields an empty number (``350|7(\\d{8})`` with ``$1`` for 350) makes
  the call fail with the reason ``empty_transformation`` rather than silently trying other
  routes: the admin's first matching rule decides, and the reason shows what to fix.
- Caller id into a trunk by prefix or mask: the employee's outgoing number when it is a "call"
  number of that trunk, else the employee's extension (the customer's PBX sees the internal
  caller).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from esl_control.routing.directions import (DEFAULT_HOME_AREA_CODES, EMERGENCY_NUMBERS, Direction,
                                            check_outbound)
from esl_control.routing.errors import RuleError
from esl_control.routing.masks import MaskRule, validate_mask_rule
from esl_control.routing.numbers import normalize_caller_id, parse_phone

MIN_TRUNK_LINES = 5
MAX_TRUNK_LINES = 100
MAX_TRUNK_PREFIX = 9999
MAX_TRUNK_NUMBER_COMMENT = 50

INTERNAL = "internal"
TRUNK = "trunk"
PLATFORM = "platform"
REFUSED = "refused"


@dataclass(frozen=True)
class TrunkNumber:
    """A number of another operator reached through the trunk (D §5.3.2)."""

    number: str
    receive: bool = True
    call: bool = True
    comment: str = ""


@dataclass(frozen=True)
class Trunk:
    """What the route choice needs of a SIP trunk (D §5.3)."""

    id: Any
    name: str = ""
    active: bool = True
    prefix: str | None = None
    numbers: tuple[TrunkNumber, ...] = ()
    default_caller_id: str | None = None
    allow_caller_id_change: bool = False

    @property
    def call_numbers(self) -> frozenset[str]:
        return frozenset(n.number for n in self.numbers if n.call)


@dataclass(frozen=True)
class TrunkMask:
    """One row of the PBX's ordered routing-rules list (D §5.4.2): mask, transformation, trunk, active."""

    mask: str
    transformation: str
    trunk_id: Any
    active: bool = True
    id: Any = None
    _rule: MaskRule | None = field(default=None, repr=False, compare=False)

    @property
    def rule(self) -> MaskRule:
        """The validated rule (raises :class:`RuleError` for a mask saved before validation)."""
        if self._rule is None:
            object.__setattr__(self, "_rule", validate_mask_rule(self.mask, self.transformation))
        return self._rule


@dataclass(frozen=True)
class RouteDecision:
    """Where an outbound call goes.

    ``kind``: ``internal`` (``number`` is the extension), ``trunk`` (``trunk_id``, the ``number`` to
    send into it), ``platform`` (the platform gateways, ``number`` in international form or the
    emergency/short number) or ``refused``. ``reason`` says why, one of: ``extension``,
    ``trunk_prefix``, ``trunk_mask``, ``outgoing_number_trunk``, ``platform``, ``emergency``; for
    refusals ``empty_number``, ``invalid_number``, ``no_outgoing_number``, ``direction_barred``,
    ``empty_transformation``, ``pbx_blocked``. ``direction`` is set for platform routes and
    direction refusals; ``mask_index`` is the position of the matching mask in the PBX's list.
    """

    kind: str
    number: str
    reason: str
    trunk_id: Any = None
    caller_id: str | None = None
    direction: Direction | None = None
    mask_index: int | None = None

    @property
    def allowed(self) -> bool:
        return self.kind != REFUSED


def choose_route(dialled: str, *, extensions: Iterable[str], trunks: Sequence[Trunk] = (),
                 masks: Sequence[TrunkMask] = (), outgoing_number: str | None = None,
                 employee_extension: str | None = None,
                 allowed_directions: Iterable[str | Direction] | None = None,
                 home_area_codes: Iterable[str] = DEFAULT_HOME_AREA_CODES,
                 emergency_numbers: Iterable[str] = EMERGENCY_NUMBERS,
                 pbx_blocked: bool = False) -> RouteDecision:
    """Choose the route of ``dialled`` for an employee of a PBX (PRODUCT.md §4.5, in that order).

    ``extensions``: the PBX's extension namespace (employees, groups, conference rooms);
    ``trunks``: the PBX's trunks; ``masks``: the PBX's one ordered list of trunk masks;
    ``outgoing_number``: the employee's outgoing number (``None`` = "no number - no outbound
    calls"); ``allowed_directions``: the effective set (see
    :func:`esl_control.routing.directions.effective_directions`), ``None`` = all.
    """
    number = (dialled or "").strip()
    if not number:
        return RouteDecision(REFUSED, "", "empty_number")
    ext_set = extensions if isinstance(extensions, (set, frozenset)) else frozenset(extensions)
    if number in ext_set:
        return RouteDecision(INTERNAL, number, "extension", caller_id=employee_extension)
    emergency = number in frozenset(emergency_numbers)
    if pbx_blocked and not emergency:
        return RouteDecision(REFUSED, number, "pbx_blocked")
    active = {t.id: t for t in trunks if t.active}

    best: Trunk | None = None
    for t in active.values():
        p = t.prefix
        if p and len(number) > len(p) and number.startswith(p) and (best is None or len(p) > len(best.prefix)):
            best = t
    if best is not None:
        return RouteDecision(TRUNK, number[len(best.prefix):], "trunk_prefix", trunk_id=best.id,
                             caller_id=_trunk_caller(best, outgoing_number, employee_extension))

    for index, m in enumerate(masks):
        trunk = active.get(m.trunk_id)
        if not m.active or trunk is None:
            continue
        rewritten = m.rule.rewrite(number)
        if rewritten is None:
            continue
        if not rewritten:
            return RouteDecision(REFUSED, "", "empty_transformation", trunk_id=trunk.id, mask_index=index)
        return RouteDecision(TRUNK, rewritten, "trunk_mask", trunk_id=trunk.id, mask_index=index,
                             caller_id=_trunk_caller(trunk, outgoing_number, employee_extension))

    if outgoing_number:
        for t in active.values():
            if outgoing_number in t.call_numbers:
                return RouteDecision(TRUNK, number, "outgoing_number_trunk", trunk_id=t.id,
                                     caller_id=outgoing_number)

    try:
        check = check_outbound(number, allowed=allowed_directions, has_outgoing_number=bool(outgoing_number),
                               home_area_codes=home_area_codes, emergency_numbers=emergency_numbers)
    except RuleError:
        return RouteDecision(REFUSED, number, "invalid_number")
    if not check.allowed:
        return RouteDecision(REFUSED, check.number, check.reason, direction=check.direction)
    return RouteDecision(PLATFORM, check.number, "emergency" if check.reason == "emergency" else "platform",
                         caller_id=outgoing_number or None, direction=check.direction)


def _trunk_caller(trunk: Trunk, outgoing_number: str | None, extension: str | None) -> str | None:
    if outgoing_number and outgoing_number in trunk.call_numbers:
        return outgoing_number
    return extension or outgoing_number


def trunk_caller_id(trunk: Trunk, sent_caller_id: str | None, platform_numbers: Iterable[str]) -> str | None:
    """Caller id for a call from the customer's PBX out to the public network (D §5.3.3, Ex. 1-3).

    "Allow number change" off: always the trunk's default outgoing number. On: the number the
    customer's PBX sent when it is one of this tenant's platform numbers, else the default.
    ``None`` means the call is not placed (no default and no usable number sent).
    """
    if trunk.allow_caller_id_change and sent_caller_id:
        sent = normalize_caller_id(sent_caller_id).number
        own = {n.lstrip("+") for n in platform_numbers}
        if sent and sent in own:
            return sent
    return trunk.default_caller_id or None


# --- trunk settings validation (cabinet) ---------------------------------------------------------

def validate_trunk_prefix(prefix: str | int | None) -> str | None:
    """D §5.3.3: optional, a whole number from 1 to 9999 (so no leading zeros)."""
    if prefix is None or (isinstance(prefix, str) and not prefix.strip()):
        return None
    text = str(prefix).strip()
    if not (text.isascii() and text.isdigit()) or text[0] == "0" or int(text) > MAX_TRUNK_PREFIX:
        raise RuleError("trunk.prefix", field="prefix")
    return text


def check_prefix_unique(prefix: str | None, trunks: Iterable[Trunk], *, self_id: Any = None) -> None:
    """Two trunks of a PBX cannot share a prefix (the route would be ambiguous)."""
    if not prefix:
        return
    for t in trunks:
        if t.id != self_id and t.prefix == prefix:
            raise RuleError("trunk.prefix_taken", field="prefix", prefix=prefix, trunk=t.name or str(t.id))


def validate_trunk_lines(lines: int | str) -> int:
    """D §5.3.1: the number of simultaneous calls is 5 to 100."""
    if isinstance(lines, float) and lines.is_integer():  # JSON's 50.0 is the integer 50
        lines = int(lines)
    try:
        n = int(str(lines).strip())
    except ValueError:
        n = -1
    if not MIN_TRUNK_LINES <= n <= MAX_TRUNK_LINES:
        raise RuleError("trunk.lines", field="lines", min=MIN_TRUNK_LINES, max=MAX_TRUNK_LINES)
    return n


def validate_trunk_number(number: str, comment: str = "", *, receive: bool = True, call: bool = True) -> TrunkNumber:
    """D §5.3.2: a number in international form (no spaces; PRODUCT.md §4.6: no ``+``), a comment
    of at most 50 characters."""
    try:
        phone = parse_phone(number, allow_extension=False)
    except RuleError as exc:
        raise exc.for_field("number")
    comment = (comment or "").strip()
    if len(comment) > MAX_TRUNK_NUMBER_COMMENT:
        raise RuleError("comment.too_long", field="comment", max=MAX_TRUNK_NUMBER_COMMENT)
    return TrunkNumber(phone.digits, receive, call, comment)


def validate_mask_list(masks: Sequence[TrunkMask], trunk_ids: Iterable[Any]) -> list[MaskRule]:
    """Validate every row of the PBX's routing-rules list; errors carry ``params['row']`` (1-based)."""
    known = set(trunk_ids)
    out = []
    for row, m in enumerate(masks, start=1):
        if m.trunk_id not in known:
            raise RuleError("trunk.unknown", field="trunk_id", row=row)
        try:
            out.append(m.rule)
        except RuleError as exc:
            exc.params.setdefault("row", row)
            raise
    return out

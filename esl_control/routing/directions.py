"""Direction of a dialled number and the allowed-directions check.

Sources:

- PRODUCT.md §4.5: allowed directions (local, mobile, long distance, international, service) per
  PBX, overridable per employee; "no outgoing number" means no external calls; emergency numbers
  always pass. PRODUCT.md §2: a blocked PBX still lets emergency numbers through.
- Inventory D §4.6.3.1 b (seed 002 «Разрешенные направления исходящих вызовов»): default all
  directions allowed; "All" unticked means Russia only (plus the directions ticked one by one);
  overridable in the employee profile. Seed 002 §4 ("calls to emergency services (112 and others)
  are not blocked").
- Inventory B §3.5 / §1.3: "No number - no outbound calls".
- Seed 000 §3.3: numbers are written country code + area code + subscriber number:
  Ekaterinburg ``7343…``, mobile ``7912…``, Irkutsk ``73952…``, Beijing ``8610…``.

The Russian numbering plan as used here (the documents give no table, inventory D says one is
needed):

- ``7`` + 10 digits is a Russian number, except ``76…``/``77…`` (Kazakhstan: international).
- ``79…`` (DEF codes 9xx) is mobile; ``780…`` (8-800 freephone, 8-801…8-809 shared cost and
  premium rate) is service; everything else is geographic: local when it starts with one of the
  PBX's home area codes (a PBX setting, Moscow's ``495``/``499`` by default to match the default
  time zone), else long distance.
- Dialled forms accepted: ``+…`` and ``00…`` and ``810…`` (international access), ``8`` + 10
  digits (national trunk prefix), ``7`` + 10 digits, 10 digits starting 3/4/8/9 (national number
  without prefix), a local subscriber number of ``10 - len(area code)`` digits (dialled within the
  home area), other 7-15 digit numbers as already international (the stored form of §4.6).
- Short numbers up to 6 digits that are not emergency numbers are service numbers.
- Emergency: 112, 101-104, the old 01-04 and the mobile forms 010-040, and 911 (routed to 112
  by Russian mobile networks).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Iterable

from esl_control.routing.errors import RuleError
from esl_control.routing.numbers import strip_separators


class Direction(str, Enum):
    LOCAL = "local"
    MOBILE = "mobile"
    LONG_DISTANCE = "long_distance"
    INTERNATIONAL = "international"
    SERVICE = "service"
    EMERGENCY = "emergency"

    def __str__(self) -> str:
        return self.value


ALL_DIRECTIONS = frozenset({Direction.LOCAL, Direction.MOBILE, Direction.LONG_DISTANCE,
                            Direction.INTERNATIONAL, Direction.SERVICE})
"""What a PBX or employee can allow ("All", the default, D §4.6.3.1 b). Emergency is never barred."""
RUSSIA_ONLY = ALL_DIRECTIONS - {Direction.INTERNATIONAL}
""""All" unticked (D §4.6.3.1 b); also what a demo PBX gets (PRODUCT.md §2: international barred)."""
EMERGENCY_NUMBERS = frozenset({"112", "101", "102", "103", "104", "01", "02", "03", "04",
                               "010", "020", "030", "040", "911"})
DEFAULT_HOME_AREA_CODES = ("495", "499")
MAX_SHORT_SERVICE_DIGITS = 6

AREA_CODE_PATTERN = r"[2-8][0-9]{2,4}"
_AREA = re.compile(AREA_CODE_PATTERN, re.ASCII)


@dataclass(frozen=True)
class Classified:
    """A dialled number's direction and the number to send to the network.

    ``number`` is the international form without ``+`` for ordinary numbers, the number as dialled
    for emergency and short service numbers.
    """

    direction: Direction
    number: str


def is_emergency(number: str, emergency_numbers: Iterable[str] = EMERGENCY_NUMBERS) -> bool:
    return strip_separators(number or "") in frozenset(emergency_numbers)


def check_extension_not_emergency(extension: str) -> None:
    """Cabinet validation: an extension must not shadow an emergency number (extensions win, §4.5)."""
    if is_emergency(extension):
        raise RuleError("direction.emergency_extension", field="extension", value=extension)


def validate_area_codes(codes: Iterable[str] | str) -> tuple[str, ...]:
    """A PBX's home area codes: 3-5 digits without the country code (``343``, ``495``, ``3952``)."""
    if isinstance(codes, str):
        codes = [c for c in re.split(r"[,;\s]+", codes) if c]
    out = []
    for code in codes:
        c = str(code).strip()
        if not _AREA.fullmatch(c):
            raise RuleError("direction.area_code", field="home_area_codes", value=code)
        out.append(c)
    return tuple(out)


def to_international(dialled: str, *, home_area_codes: Iterable[str] = DEFAULT_HOME_AREA_CODES) -> str | None:
    """The dialled number in international form without ``+`` (see module notes), or ``None``
    for short numbers (up to 6 digits) and anything that is not a number."""
    text = strip_separators(dialled or "")
    plus = text.startswith("+")
    d = text[1:] if plus else text
    if not d.isascii() or not d.isdigit():
        return None
    if plus:
        return d
    if d.startswith("810") and len(d) > 3 + MAX_SHORT_SERVICE_DIGITS:
        return d[3:]
    if d.startswith("00") and len(d) > 2 + MAX_SHORT_SERVICE_DIGITS:
        return d[2:]
    if len(d) == 11 and d[0] in "78":
        return "7" + d[1:]
    if len(d) == 10 and d[0] in "3489":
        return "7" + d
    for area in home_area_codes:
        if len(d) == 10 - len(area) and d[0] in "23456789":
            return "7" + area + d
    if len(d) <= MAX_SHORT_SERVICE_DIGITS:
        return None
    return d


def classify(dialled: str, *, home_area_codes: Iterable[str] = DEFAULT_HOME_AREA_CODES,
             emergency_numbers: Iterable[str] = EMERGENCY_NUMBERS) -> Classified:
    """Direction of a number dialled towards the public network.

    Raises :class:`RuleError` ``dial.invalid`` when it is not a number (letters, a ``7…`` number of
    the wrong length, more than 15 digits).
    """
    text = strip_separators(dialled or "")
    if text in frozenset(emergency_numbers):
        return Classified(Direction.EMERGENCY, text)
    home = tuple(home_area_codes)
    intl = to_international(text, home_area_codes=home)
    if intl is None:
        if text.isascii() and text.isdigit() and 0 < len(text) <= MAX_SHORT_SERVICE_DIGITS:
            return Classified(Direction.SERVICE, text)
        raise RuleError("dial.invalid", value=dialled)
    if not 7 <= len(intl) <= 15:
        raise RuleError("dial.invalid", value=dialled)
    if intl[0] != "7":
        return Classified(Direction.INTERNATIONAL, intl)
    if len(intl) != 11:
        raise RuleError("dial.invalid", value=dialled)
    nsn = intl[1:]
    if nsn[0] in "67":
        return Classified(Direction.INTERNATIONAL, intl)      # Kazakhstan
    if nsn[0] == "9":
        return Classified(Direction.MOBILE, intl)
    if nsn.startswith("80"):
        return Classified(Direction.SERVICE, intl)
    if any(nsn.startswith(area) for area in home):
        return Classified(Direction.LOCAL, intl)
    return Classified(Direction.LONG_DISTANCE, intl)


def parse_directions(values: Iterable[str | Direction] | None) -> frozenset[Direction]:
    """Validate a set of allowed directions from a form (``None`` means all, the default)."""
    if values is None:
        return ALL_DIRECTIONS
    out = set()
    for v in values:
        try:
            d = Direction(v)
        except ValueError:
            d = None
        if d is None or d is Direction.EMERGENCY:
            raise RuleError("direction.unknown", field="directions", value=v,
                            allowed=", ".join(sorted(x.value for x in ALL_DIRECTIONS)))
        out.add(d)
    return frozenset(out)


def effective_directions(pbx: Iterable[str | Direction] | None,
                         employee: Iterable[str | Direction] | None = None) -> frozenset[Direction]:
    """The employee's own setting when present (D §4.6.3.1 b: overridable per employee), else the PBX's."""
    return parse_directions(employee) if employee is not None else parse_directions(pbx)


@dataclass(frozen=True)
class DirectionCheck:
    """Outcome of the outbound permission check.

    ``reason``: ``emergency`` (always passes), ``allowed``, ``direction_barred``,
    ``no_outgoing_number``.
    """

    allowed: bool
    direction: Direction
    number: str
    reason: str


def check_outbound(dialled: str, *, allowed: Iterable[str | Direction] | None,
                   has_outgoing_number: bool,
                   home_area_codes: Iterable[str] = DEFAULT_HOME_AREA_CODES,
                   emergency_numbers: Iterable[str] = EMERGENCY_NUMBERS) -> DirectionCheck:
    """May this employee call ``dialled`` to the public network? (PRODUCT.md §4.5)

    Emergency numbers always pass; without an outgoing number nothing else does; otherwise the
    direction must be in ``allowed`` (``None`` = all). Raises ``dial.invalid`` for non-numbers.
    """
    c = classify(dialled, home_area_codes=home_area_codes, emergency_numbers=emergency_numbers)
    if c.direction is Direction.EMERGENCY:
        return DirectionCheck(True, c.direction, c.number, "emergency")
    if not has_outgoing_number:
        return DirectionCheck(False, c.direction, c.number, "no_outgoing_number")
    if c.direction not in parse_directions(allowed):
        return DirectionCheck(False, c.direction, c.number, "direction_barred")
    return DirectionCheck(True, c.direction, c.number, "allowed")

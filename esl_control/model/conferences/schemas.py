"""Conference room input -> stored document (PRODUCT.md §3, inventory D §4.6.4.2).

Stored: ``{name, name_norm, extension, seats, join: all | external | employees,
pin: "4-7 digits" | None, pin_for: all | external}``. The room number is an extension of the
PBX namespace (auto-assigned from 1000 when not given). Seats: 2..MAX_SEATS. A room created
without a name is «Комната конференции N» (N = its sequence number, D §4.6.4.2); ``name`` is
``None`` here and the service fills it in.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from esl_control.model.common import (clean_choice, clean_extension, clean_int, clean_mapping, clean_name,
                                      norm_name)
from esl_control.routing.errors import RuleError

JOIN = ("all", "external", "employees")
PIN_FOR = ("all", "external")
FIRST_ROOM = 1000
MAX_SEATS = 100
DEFAULT_NAME = "Комната конференции {n}"
PIN_PATTERN = r"[0-9]{4,7}"
_PIN = re.compile(PIN_PATTERN, re.ASCII)


def clean_room(data: Mapping[str, Any]) -> dict:
    data = clean_mapping(data, "body", optional=False)
    raw_name = data.get("name")
    name = None if raw_name is None or (isinstance(raw_name, str) and not raw_name.strip()) else clean_name(raw_name)
    pin = data.get("pin")
    if pin in (None, ""):
        pin = None
    elif not isinstance(pin, str) or not _PIN.fullmatch(pin.strip()):
        raise RuleError("room.pin", field="pin")
    else:
        pin = pin.strip()
    ext = data.get("extension")
    return {"name": name, "name_norm": norm_name(name) if name else None,
            "extension": None if ext in (None, "") else clean_extension(ext),
            "seats": clean_int(data.get("seats"), "seats", 2, MAX_SEATS, default=10),
            "join": clean_choice(data.get("join"), "join", JOIN, default="all"),
            "pin": pin, "pin_for": clean_choice(data.get("pin_for"), "pin_for", PIN_FOR, default="all")}

"""Employee telephony input -> stored document.

Stored: ``{name, name_norm, email, department, position, extension, reception_mode,
contact_methods: [{id, kind, account_id | value, active, ring_time, schedule_id}],
outgoing_number, outgoing_ref: {type, id} | None, directions: [..] | None}``.

- ``reception_mode`` (PRODUCT.md §4.4): ``main`` (first active method), ``sequential`` (all in
  turn, list order), ``simultaneous`` (all at once). The list order IS the "order" column.
- contact method kinds: ``sip_account`` (one of the PBX's SIP accounts), ``phone`` (international
  number or platform short number, :func:`parse_destination`), ``sip_uri`` (user@domain).
- ``ring_time``: ``None`` = the PBX default answer time (120 s); 0 = until the caller hangs up;
  at most 3600 (the rules' ``MAX_RING_TIME``).
- ``outgoing_number``: ``None`` = "no number - no outbound calls"; otherwise a line of the PBX
  (checked by the service). ``directions``: ``None`` = as the PBX, else the employee's own set.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from esl_control.routing.directions import parse_directions
from esl_control.routing.errors import RuleError
from esl_control.routing.lists import MAX_RING_TIME
from esl_control.routing.numbers import normalize_phone, parse_destination, parse_sip_uri
from web.telephony.common import (clean_bool, clean_choice, clean_emails, clean_extension, clean_id,
                                  clean_list, clean_mapping, clean_name, clean_text, field_error,
                                  new_id, norm_name)

RECEPTION_MODES = ("main", "sequential", "simultaneous")
CONTACT_KINDS = ("sip_account", "phone", "sip_uri")
MAX_CONTACTS = 20


def clean_ring_time(value: Any, field: str = "ring_time") -> int | None:
    """``None`` (PBX default) or 0..3600 s (0 = until the caller hangs up)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RING_TIME:
        raise RuleError("rule.ring_time", field=field, max=MAX_RING_TIME)
    return value


def clean_contact(item: Any, index: int) -> dict:
    where = f"contact_methods[{index}]"
    item = clean_mapping(item, where, optional=False)
    kind = clean_choice(item.get("kind"), f"{where}.kind", CONTACT_KINDS)
    out: dict[str, Any] = {"id": clean_id(item.get("id"), f"{where}.id", optional=True) or new_id(),
                           "kind": kind}
    if kind == "sip_account":
        out["account_id"] = clean_id(item.get("account_id"), f"{where}.account_id")
    elif kind == "phone":
        out["value"] = field_error(lambda v: parse_destination(str(v or "")).value, item.get("value"),
                                   f"{where}.value")
    else:
        out["value"] = str(field_error(lambda v: parse_sip_uri(str(v or "")), item.get("value"), f"{where}.value"))
    out["active"] = clean_bool(item.get("active"), f"{where}.active", default=True)
    out["ring_time"] = clean_ring_time(item.get("ring_time"), f"{where}.ring_time")
    out["schedule_id"] = clean_id(item.get("schedule_id"), f"{where}.schedule_id", optional=True)
    return out


def clean_employee(data: Mapping[str, Any]) -> dict:
    data = clean_mapping(data, "body", optional=False)
    name = clean_name(data.get("name"))
    emails = clean_emails(data.get("email"), "email")
    contacts = [clean_contact(c, i) for i, c in enumerate(clean_list(data.get("contact_methods"), "contact_methods"))]
    if len(contacts) > MAX_CONTACTS:
        raise RuleError("value.range", field="contact_methods", min=0, max=MAX_CONTACTS)
    seen = set()
    for c in contacts:
        key = (c["kind"], c.get("account_id") or c.get("value"))
        if key in seen:
            raise RuleError("contact.duplicate", field="contact_methods", value=key[1])
        seen.add(key)
    outgoing = data.get("outgoing_number")
    if outgoing in (None, ""):
        outgoing = None
    else:
        outgoing = field_error(lambda v: normalize_phone(str(v), allow_extension=False), outgoing,
                               "outgoing_number")
    directions = data.get("directions")
    if directions is not None:
        directions = sorted(d.value for d in field_error(parse_directions, clean_list(directions, "directions"),
                                                         "directions"))
    return {"name": name, "name_norm": norm_name(name), "email": emails[0] if emails else "",
            "department": clean_text(data.get("department"), "department", 100),
            "position": clean_text(data.get("position"), "position", 100),
            "extension": clean_extension(data.get("extension")),
            "reception_mode": clean_choice(data.get("reception_mode"), "reception_mode", RECEPTION_MODES,
                                           default="main"),
            "contact_methods": contacts, "outgoing_number": outgoing, "directions": directions}


def refs_of_employee(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    for c in doc.get("contact_methods", ()):
        if c.get("account_id"):
            yield ("sip_account", c["account_id"], "contact_methods")
        if c.get("schedule_id"):
            yield ("schedule", c["schedule_id"], "contact_methods")
    ref = doc.get("outgoing_ref")
    if ref:
        yield (ref["type"], ref["id"], "outgoing_number")

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

Validation runs in one of two modes (:class:`Rules`): the services stop at the first broken rule
(one clear error, the API's shape); the cabinet's forms ask :func:`employee_errors` for every
broken rule at once, so a form with several wrong fields shows all of them. Both modes run the
same rule functions in the same order.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from esl_control.model.common import (clean_bool, clean_choice, clean_emails, clean_extension, clean_id,
                                      clean_list, clean_mapping, clean_name, clean_text, field_error,
                                      new_id, norm_name)
from esl_control.model.references import referrer
from esl_control.routing.directions import parse_directions
from esl_control.routing.errors import RuleError
from esl_control.routing.lists import MAX_RING_TIME
from esl_control.routing.numbers import normalize_phone, parse_destination, parse_sip_uri

class Rules:
    """Runs the rule functions of one input. ``strict`` (the services): the first broken rule
    raises its :class:`RuleError`. Collecting (the forms): every broken rule is kept in
    :attr:`errors` and the rule's value becomes ``None``, so the checks after it still run (a
    check that needs an earlier value skips when that value is ``None``).

    The areas' schemas with the largest forms (employees, groups, trunks) take one as
    ``rules=``; it lives here because those schemas already build on this module."""

    def __init__(self, strict: bool = True):
        self.strict = strict
        self.errors: list[RuleError] = []

    def __call__(self, fn: Callable, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except RuleError as exc:
            if self.strict:
                raise
            self.errors.append(exc)
            return None

    def fail(self, exc: RuleError) -> None:
        """A rule broken across values (a duplicate): raise it, or keep it."""
        if self.strict:
            raise exc
        self.errors.append(exc)

    def collect(self, clean: Callable, data: Any) -> list[RuleError]:
        """Every broken rule of ``clean(data, rules=self)`` (a non-object ``data``: that error)."""
        try:
            clean(data, rules=self)
        except RuleError as exc:  # the input is not even an object
            self.errors.append(exc)
        return self.errors


STRICT = Rules()

RECEPTION_MODES = ("main", "sequential", "simultaneous")
CONTACT_KINDS = ("sip_account", "phone", "sip_uri")
MAX_CONTACTS = 20


def clean_ring_time(value: Any, field: str = "ring_time") -> int | None:
    """``None`` (PBX default) or 0..3600 s (0 = until the caller hangs up)."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():  # JSON's 60.0 is the integer 60
        value = int(value)
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


def _clean_contacts(value: Any, rules: Rules) -> list[dict]:
    """Every row checked on its own (each broken row reports), then the list as a whole."""
    items = rules(clean_list, value, "contact_methods") or []
    contacts = [rules(clean_contact, c, i) for i, c in enumerate(items)]
    if len(contacts) > MAX_CONTACTS:
        rules.fail(RuleError("value.range", field="contact_methods", min=0, max=MAX_CONTACTS))
    seen = set()
    for c in contacts:
        if c is None:
            continue
        key = (c["kind"], c.get("account_id") or c.get("value"))
        if key in seen:
            rules.fail(RuleError("contact.duplicate", field="contact_methods", value=key[1]))
            break
        seen.add(key)
    return contacts


def _clean_outgoing(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return field_error(lambda v: normalize_phone(str(v), allow_extension=False), value, "outgoing_number")


def _clean_directions(value: Any) -> list[str] | None:
    if value is None:
        return None
    return sorted(d.value for d in field_error(parse_directions, clean_list(value, "directions"), "directions"))


def clean_employee(data: Mapping[str, Any], rules: Rules = STRICT) -> dict:
    data = clean_mapping(data, "body", optional=False)
    name = rules(clean_name, data.get("name"))
    emails = rules(clean_emails, data.get("email"), "email")
    contacts = _clean_contacts(data.get("contact_methods"), rules)
    outgoing = rules(_clean_outgoing, data.get("outgoing_number"))
    directions = rules(_clean_directions, data.get("directions"))
    return {"name": name, "name_norm": norm_name(name or ""), "email": emails[0] if emails else "",
            "department": rules(clean_text, data.get("department"), "department", 100),
            "position": rules(clean_text, data.get("position"), "position", 100),
            "extension": rules(clean_extension, data.get("extension")),
            "reception_mode": rules(clean_choice, data.get("reception_mode"), "reception_mode", RECEPTION_MODES,
                                    default="main"),
            "contact_methods": contacts, "outgoing_number": outgoing, "directions": directions}


def employee_errors(data: Any) -> list[RuleError]:
    """Every rule ``data`` breaks (empty: :func:`clean_employee` accepts it), in the order the
    service checks them — for a form that shows all its wrong fields at once."""
    return Rules(strict=False).collect(clean_employee, data)


@referrer("employee")
def refs_of_employee(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    for c in doc.get("contact_methods", ()):
        if c.get("account_id"):
            yield ("sip_account", c["account_id"], "contact_methods")
        if c.get("schedule_id"):
            yield ("schedule", c["schedule_id"], "contact_methods")
    ref = doc.get("outgoing_ref")
    if ref:
        yield (ref["type"], ref["id"], "outgoing_number")

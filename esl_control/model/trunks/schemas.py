"""Trunk input -> stored document (PRODUCT.md §3, inventory D §5.3), using the trunk rules of
:mod:`esl_control.routing.outbound` (prefix, lines, numbers, mask list).

Stored: ``{name, name_norm, active, host, port, dtmf_commands, dtmf_mode, codecs, lines,
options_ping, numbers: [{number, receive, call, comment}], default_number, default_number_id,
allow_number_change, prefix?, status}``. ``prefix`` is absent when not set (partial unique index).
``active`` (default true; documents stored before it existed count as active): an inactive trunk
is skipped by the route choice — its prefix, the masks into it and its numbers as outgoing
numbers (:func:`route_trunks`). ``status`` (unknown / up / down) is written by the ESL side,
never by the form.

:func:`clean_trunk` stops at the first broken rule (the services); :func:`trunk_errors` runs the
same rules and returns every broken one (the cabinet form shows them all).
"""
from __future__ import annotations

import ipaddress
from typing import Any, Iterable, Mapping

from esl_control.model.common import (clean_bool, clean_choice, clean_id, clean_int, clean_list,
                                      clean_mapping, clean_name, field_error, new_id, norm_name)
from esl_control.model.employees.schemas import STRICT, Rules
from esl_control.model.numbers.schemas import clean_number
from esl_control.model.references import referrer
from esl_control.routing.errors import RuleError
from esl_control.routing.outbound import (Trunk, TrunkMask, TrunkNumber, validate_mask_list,
                                          validate_trunk_lines, validate_trunk_number, validate_trunk_prefix)

DTMF_MODES = ("rfc2833", "inband")
CODECS = ("PCMA", "PCMU", "G729", "G722", "OPUS")
STATUSES = ("unknown", "up", "down")
MAX_NUMBERS = 500


def clean_trunk_host(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip() if isinstance(value, str) else ""))
    except ValueError:
        raise RuleError("trunk.host", field="host", value=value) from None


def _clean_codecs(value: Any) -> list[str]:
    codecs_in = clean_list(value, "codecs") if value is not None else ["PCMA", "PCMU"]
    codecs = []
    for c in codecs_in:
        if c not in CODECS:
            raise RuleError("trunk.codecs", field="codecs", allowed=", ".join(CODECS))
        if c not in codecs:
            codecs.append(c)
    if not codecs:
        raise RuleError("trunk.codecs", field="codecs", allowed=", ".join(CODECS))
    return codecs


def _clean_number_row(item: Any, i: int) -> dict:
    item = clean_mapping(item, f"numbers[{i}]", optional=False)
    if item.get("comment") is not None and not isinstance(item["comment"], str):
        raise RuleError("value.required", field=f"numbers[{i}].comment")
    try:
        n = validate_trunk_number(str(item.get("number") or ""), item.get("comment") or "",
                                  receive=clean_bool(item.get("receive"), f"numbers[{i}].receive", default=True),
                                  call=clean_bool(item.get("call"), f"numbers[{i}].call", default=True))
    except RuleError as exc:
        exc.field = f"numbers[{i}].{exc.field or 'number'}"
        raise
    return {"number": n.number, "receive": n.receive, "call": n.call, "comment": n.comment}


def _clean_numbers(value: Any, rules: Rules) -> list[dict]:
    """Every row checked on its own (each broken row reports), then duplicates across rows."""
    raw = rules(clean_list, value, "numbers") or []
    if len(raw) > MAX_NUMBERS:
        rules.fail(RuleError("value.range", field="numbers", min=0, max=MAX_NUMBERS))
        return []
    numbers, seen = [], set()
    for i, item in enumerate(raw):
        n = rules(_clean_number_row, item, i)
        if n is None:
            continue
        if n["number"] in seen:
            rules.fail(RuleError("trunk.number_duplicate", field=f"numbers[{i}].number", number=n["number"]))
            continue
        seen.add(n["number"])
        numbers.append(n)
    return numbers


def _clean_default_number(value: Any) -> str | None:
    return None if value in (None, "") else clean_number(value, "default_number")


def clean_trunk(data: Mapping[str, Any], rules: Rules = STRICT) -> dict:
    data = clean_mapping(data, "body", optional=False)
    name = rules(clean_name, data.get("name"))
    codecs = rules(_clean_codecs, data.get("codecs"))
    numbers = _clean_numbers(data.get("numbers"), rules)
    doc = {"name": name, "name_norm": norm_name(name or ""),
           "active": rules(clean_bool, data.get("active"), "active", default=True),
           "host": rules(clean_trunk_host, data.get("host")),
           "port": rules(clean_int, data.get("port"), "port", 1, 65535, default=5060),
           "dtmf_commands": rules(clean_bool, data.get("dtmf_commands"), "dtmf_commands", default=True),
           "dtmf_mode": rules(clean_choice, data.get("dtmf_mode"), "dtmf_mode", DTMF_MODES, default="rfc2833"),
           "codecs": codecs,
           "lines": rules(field_error, validate_trunk_lines, data.get("lines", 5), "lines"),
           "options_ping": rules(clean_bool, data.get("options_ping"), "options_ping", default=True),
           "numbers": numbers,
           "default_number": rules(_clean_default_number, data.get("default_number")),
           "allow_number_change": rules(clean_bool, data.get("allow_number_change"), "allow_number_change",
                                        default=False)}
    prefix = rules(field_error, validate_trunk_prefix, data.get("prefix"), "prefix")
    if prefix is not None:
        doc["prefix"] = prefix
    return doc


def trunk_errors(data: Any) -> list[RuleError]:
    """Every rule ``data`` breaks (empty: :func:`clean_trunk` accepts it), in the service's order —
    for the trunk form, which shows all its wrong fields at once."""
    return Rules(strict=False).collect(clean_trunk, data)


@referrer("trunk")
def refs_of_trunk(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    if doc.get("default_number_id"):
        yield ("number", doc["default_number_id"], "default_number")
    for i, n in enumerate(doc.get("numbers") or ()):
        if n.get("scheme_id"):  # a scheme bound to a "receive" number (D §5.3.2)
            yield ("scheme", n["scheme_id"], f"numbers[{i}].scheme_id")


def clean_masks(rows: Any, trunk_ids: Iterable[str]) -> list[dict]:
    """The PBX's ONE ordered list of masks (PRODUCT.md §4.5), each validated by the mask rules."""
    out, masks = [], []
    for i, row in enumerate(clean_list(rows, "masks", optional=False)):
        row = clean_mapping(row, f"masks[{i}]", optional=False)
        m = TrunkMask(mask=str(row.get("mask") or ""), transformation=str(row.get("transformation") or ""),
                      trunk_id=clean_id(row.get("trunk_id"), f"masks[{i}].trunk_id"),
                      active=clean_bool(row.get("active"), f"masks[{i}].active", default=True),
                      id=clean_id(row.get("id"), f"masks[{i}].id", optional=True) or new_id())
        masks.append(m)
        out.append({"id": m.id, "mask": m.mask, "transformation": m.transformation,
                    "trunk_id": m.trunk_id, "active": m.active})
    try:
        validate_mask_list(masks, trunk_ids)
    except RuleError as exc:
        row = exc.params.get("row")
        if row is not None:
            exc.field = f"masks[{row - 1}].{exc.field or 'mask'}"
        raise
    return out


def route_trunks(docs: Iterable[Mapping[str, Any]]) -> list[Trunk]:
    """Stored trunks as the route choice (:func:`esl_control.routing.outbound.choose_route`) sees
    them — the one place that reads a trunk document for routing (the API's and the page's route
    testers alike), so ``active`` and the numbers' receive/call flags mean the same everywhere."""
    return [Trunk(t.get("_id", t.get("id")), t["name"], active=t.get("active", True), prefix=t.get("prefix"),
                  numbers=tuple(TrunkNumber(n["number"], n.get("receive", True), n.get("call", True),
                                            n.get("comment", "")) for n in t.get("numbers", ())),
                  default_caller_id=t.get("default_number"),
                  allow_caller_id_change=bool(t.get("allow_number_change")))
            for t in docs]


def route_masks(rows: Iterable[Mapping[str, Any]]) -> list[TrunkMask]:
    """Stored (or just validated) mask rows as the route choice sees them."""
    return [TrunkMask(m["mask"], m["transformation"], m["trunk_id"], m.get("active", True), m.get("id"))
            for m in rows]

"""Trunk input -> stored document (PRODUCT.md §3, inventory D §5.3), using the trunk rules of
:mod:`esl_control.routing.outbound` (prefix, lines, numbers, mask list).

Stored: ``{name, name_norm, host, port, dtmf_commands, dtmf_mode, codecs, lines, options_ping,
numbers: [{number, receive, call, comment}], default_number, default_number_id,
allow_number_change, prefix?, status}``. ``prefix`` is absent when not set (partial unique index).
``status`` (unknown / up / down) is written by the ESL side, never by the form.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Iterable, Mapping

from esl_control.routing.errors import RuleError
from esl_control.routing.outbound import (TrunkMask, validate_mask_list, validate_trunk_lines,
                                          validate_trunk_number, validate_trunk_prefix)
from web.telephony.common import (clean_bool, clean_choice, clean_id, clean_int, clean_list,
                                  clean_mapping, clean_name, field_error, new_id, norm_name)
from web.telephony.numbers.schemas import clean_number

DTMF_MODES = ("rfc2833", "inband")
CODECS = ("PCMA", "PCMU", "G729", "G722", "OPUS")
STATUSES = ("unknown", "up", "down")
MAX_NUMBERS = 500


def clean_trunk_host(value: Any) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip() if isinstance(value, str) else ""))
    except ValueError:
        raise RuleError("trunk.host", field="host", value=value) from None


def clean_trunk(data: Mapping[str, Any]) -> dict:
    data = clean_mapping(data, "body", optional=False)
    name = clean_name(data.get("name"))
    codecs_in = clean_list(data.get("codecs"), "codecs") if data.get("codecs") is not None else ["PCMA", "PCMU"]
    codecs = []
    for c in codecs_in:
        if c not in CODECS:
            raise RuleError("trunk.codecs", field="codecs", allowed=", ".join(CODECS))
        if c not in codecs:
            codecs.append(c)
    if not codecs:
        raise RuleError("trunk.codecs", field="codecs", allowed=", ".join(CODECS))
    numbers, seen = [], set()
    raw = clean_list(data.get("numbers"), "numbers")
    if len(raw) > MAX_NUMBERS:
        raise RuleError("value.range", field="numbers", min=0, max=MAX_NUMBERS)
    for i, item in enumerate(raw):
        item = clean_mapping(item, f"numbers[{i}]", optional=False)
        try:
            n = validate_trunk_number(str(item.get("number") or ""), item.get("comment") or "",
                                      receive=clean_bool(item.get("receive"), f"numbers[{i}].receive", default=True),
                                      call=clean_bool(item.get("call"), f"numbers[{i}].call", default=True))
        except RuleError as exc:
            exc.field = f"numbers[{i}].{exc.field or 'number'}"
            raise
        if n.number in seen:
            raise RuleError("trunk.number_duplicate", field=f"numbers[{i}].number", number=n.number)
        seen.add(n.number)
        numbers.append({"number": n.number, "receive": n.receive, "call": n.call, "comment": n.comment})
    default = data.get("default_number")
    doc = {"name": name, "name_norm": norm_name(name),
           "host": clean_trunk_host(data.get("host")),
           "port": clean_int(data.get("port"), "port", 1, 65535, default=5060),
           "dtmf_commands": clean_bool(data.get("dtmf_commands"), "dtmf_commands", default=True),
           "dtmf_mode": clean_choice(data.get("dtmf_mode"), "dtmf_mode", DTMF_MODES, default="rfc2833"),
           "codecs": codecs,
           "lines": field_error(validate_trunk_lines, data.get("lines", 5), "lines"),
           "options_ping": clean_bool(data.get("options_ping"), "options_ping", default=True),
           "numbers": numbers,
           "default_number": None if default in (None, "") else clean_number(default, "default_number"),
           "allow_number_change": clean_bool(data.get("allow_number_change"), "allow_number_change",
                                             default=False)}
    prefix = field_error(validate_trunk_prefix, data.get("prefix"), "prefix")
    if prefix is not None:
        doc["prefix"] = prefix
    return doc


def refs_of_trunk(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    if doc.get("default_number_id"):
        yield ("number", doc["default_number_id"], "default_number")


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

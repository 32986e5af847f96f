"""List entries and client-number rules, validated by :mod:`esl_control.routing.lists`.

Entry: ``{list: black | white, kind: phone | sip, value, exact, comment, form}``.
Client rule: ``{position, kind, value, exact, form, target_kind, target, contact_method,
ring_time, active, comment}`` (``target`` is a group / employee id or the external destination).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from esl_control.model.common import clean_bool, clean_choice, clean_mapping, clean_text
from esl_control.model.references import referrer
from esl_control.routing.lists import BLACK, MAX_COMMENT_LENGTH, WHITE, parse_entry, validate_client_rule

LISTS = (BLACK, WHITE)


def clean_entry(data: Mapping[str, Any]) -> dict:
    data = clean_mapping(data, "body", optional=False)
    which = clean_choice(data.get("list"), "list", LISTS)
    e = parse_entry(str(data.get("value") or ""), kind=data.get("kind"),
                    exact=clean_bool(data.get("exact"), "exact", default=True),
                    comment=clean_text(data.get("comment"), "comment", MAX_COMMENT_LENGTH))
    return {"list": which, "kind": e.kind, "value": e.value, "exact": e.exact, "comment": e.comment,
            "form": e.form}


def clean_client_rule(data: Mapping[str, Any], *, short_pattern: str | None = None) -> dict:
    data = clean_mapping(data, "body", optional=False)
    r = validate_client_rule(str(data.get("value") or ""), target_kind=data.get("target_kind") or "",
                             target=str(data.get("target") or ""), kind=data.get("kind"),
                             exact=clean_bool(data.get("exact"), "exact", default=True),
                             ring_time=data.get("ring_time"), contact_method=data.get("contact_method") or None,
                             active=clean_bool(data.get("active"), "active", default=True),
                             comment=clean_text(data.get("comment"), "comment", MAX_COMMENT_LENGTH),
                             short_pattern=short_pattern)
    return {"kind": r.entry.kind, "value": r.entry.value, "exact": r.entry.exact, "form": r.entry.form,
            "target_kind": r.target_kind, "target": r.target, "contact_method": r.contact_method,
            "ring_time": r.ring_time, "active": r.active, "comment": r.comment}


@referrer("client_rule")
def refs_of_client_rule(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    if doc.get("target_kind") in ("group", "employee"):
        yield (doc["target_kind"], doc["target"], "target")

"""Number input -> stored document (PRODUCT.md §3 "Number", inventory A §4.2, §4.4.1).

Stored: ``{number, kind: platform | passive_sip | active_sip, comment, scheme_id | None, ...}``;
passive SIP adds ``sip_user``, ``sip_domain_id`` and ``sip_address`` (user@domain, unique
platform-wide) and ``display_number``; active SIP adds ``gateway: {host, port, login,
sip_address, register: true}`` and the gateway password encrypted in ``password_enc``.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

from esl_control.model.common import (clean_id, clean_int, clean_mapping, clean_text,
                                      field_error)
from esl_control.model.references import referrer
from esl_control.model.sip.schemas import clean_login
from esl_control.routing.errors import RuleError
from esl_control.routing.numbers import normalize_phone, parse_sip_uri

KINDS = ("platform", "passive_sip", "active_sip")
COMMENT_MAX = 100
_HOST = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*",
                   re.ASCII)
_GW_LOGIN = re.compile(r"[\x21-\x7e]{1,64}", re.ASCII)


def clean_number(value: Any, field: str = "number") -> str:
    return field_error(lambda v: normalize_phone(str(v or ""), allow_extension=False), value, field)


def clean_comment(value: Any) -> str:
    return clean_text(value, "comment", COMMENT_MAX)


def clean_host(value: Any, field: str) -> str:
    text = value.strip().lower().rstrip(".") if isinstance(value, str) else ""
    if not _HOST.fullmatch(text) or text.replace(".", "").isdigit() and not _ipv4(text):
        raise RuleError("gateway.host", field=field, value=value)
    return text


def _ipv4(text: str) -> bool:
    parts = text.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 for p in parts)


def clean_gateway(data: Any) -> tuple[dict, str | None]:
    """``(gateway, password)``: the registered account at the other operator (active SIP)."""
    gw = clean_mapping(data, "gateway", optional=False)
    login = gw.get("login")
    if not isinstance(login, str) or not _GW_LOGIN.fullmatch(login.strip()):
        raise RuleError("value.required", field="gateway.login")
    password = gw.get("password")
    if password is not None and (not isinstance(password, str) or not 1 <= len(password) <= 64):
        raise RuleError("value.required", field="gateway.password")
    sip_address = gw.get("sip_address")
    if sip_address not in (None, ""):
        sip_address = str(field_error(lambda v: parse_sip_uri(str(v)), sip_address, "gateway.sip_address"))
    else:
        sip_address = None
    return ({"host": clean_host(gw.get("host"), "gateway.host"),
             "port": clean_int(gw.get("port"), "gateway.port", 1, 65535, default=5060),
             "login": login.strip(), "sip_address": sip_address, "register": True}, password)


def clean_passive(data: Mapping[str, Any]) -> dict:
    user = data.get("sip_user")
    display = data.get("display_number")
    return {"sip_user": None if user in (None, "") else field_error(clean_login, user, "sip_user"),
            "sip_domain_id": clean_id(data.get("sip_domain_id"), "sip_domain_id", optional=True),
            "display_number": None if display in (None, "") else clean_number(display, "display_number")}


@referrer("number")
def refs_of_number(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    if doc.get("scheme_id"):
        yield ("scheme", doc["scheme_id"], "scheme_id")
    if doc.get("sip_domain_id"):
        yield ("sip_domain", doc["sip_domain_id"], "sip_domain_id")
    if doc.get("warning_sound"):
        yield ("sound", doc["warning_sound"], "warning_sound")

"""SIP domain names, SIP account logins and passwords, the SIP IP whitelist.

Sources: inventory D §4.6.1.1 (domain: Latin letter first, ≥ 4 characters, Latin letters, digits
and ``-``, no dots, case-insensitive and stored lower-case; login: Latin letter first, ≥ 4
characters, or digits only when starting with ``000``), PRODUCT.md §6 (SIP password ≥ 8 with
digits, lower- and upper-case Latin letters), inventory D §4.6.1.3 (whitelist entries).

Decisions: an extra domain is a label under the platform SIP domain (``<label>.<base>``), unique
platform-wide; logins may also hold ``.``, ``_`` and ``-`` after the first letter and are at most
64 characters; a password may hold the printable ASCII symbols listed in
:data:`PASSWORD_SYMBOLS` (not ``:`` — it would break the digest's ``user:realm:password``), at
most 64 characters. Whitelist entries are checked (and later converted) by
:mod:`esl_control.routing.acl`, the same code that builds the ACL, so what is accepted is what works.
"""
from __future__ import annotations

import re
import secrets
import string
from typing import Any, Iterable, Mapping

from esl_control.model.common import (clean_bool, clean_choice, clean_id, clean_list, clean_mapping, clean_text)
from esl_control.model.references import referrer
from esl_control.routing.acl import WhitelistError, parse_entry
from esl_control.routing.errors import RuleError

MAX_DOMAINS = 3
DOMAIN_LABEL_PATTERN = r"[a-z][a-z0-9-]{2,61}[a-z0-9]"
SIP_LOGIN_PATTERN = r"[a-z][a-z0-9._-]{3,63}|000[0-9]{1,61}"
_LABEL = re.compile(DOMAIN_LABEL_PATTERN, re.ASCII)
_LOGIN = re.compile(SIP_LOGIN_PATTERN, re.ASCII)
PASSWORD_SYMBOLS = "!#$%&*+-.=?@^_~"
PASSWORD_LENGTH = (8, 64)
_PASSWORD_CHARS = set(string.ascii_letters + string.digits + PASSWORD_SYMBOLS)
ACCESS_MODES = ("free", "restricted")
MAX_WHITELIST = 200


def clean_domain_label(value: Any) -> str:
    text = str(value or "").strip().lower() if isinstance(value, str) else ""
    if not _LABEL.fullmatch(text):
        raise RuleError("sip_domain.name", field="name")
    return text


def clean_login(value: Any) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not _LOGIN.fullmatch(text):
        raise RuleError("sip_account.login", field="login")
    return text


def clean_sip_password(value: Any, field: str = "password") -> str:
    if not isinstance(value, str) or not value:
        raise RuleError("sip_account.password", field=field)
    bad = [ch for ch in value if ch not in _PASSWORD_CHARS]
    if bad:
        raise RuleError("sip_account.password_chars", field=field, symbols=PASSWORD_SYMBOLS)
    if not (PASSWORD_LENGTH[0] <= len(value) <= PASSWORD_LENGTH[1] and any(c.isdigit() for c in value)
            and any(c in string.ascii_lowercase for c in value)
            and any(c in string.ascii_uppercase for c in value)):
        raise RuleError("sip_account.password", field=field)
    return value


def generate_sip_password(length: int = 16) -> str:
    """A random password that satisfies :func:`clean_sip_password` (the "Generate" button)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(length))
        try:
            return clean_sip_password(pw)
        except RuleError:
            continue


def clean_sip_account(data: Mapping[str, Any], *, password_required: bool) -> dict:
    """``{login, domain_id, employee_id, forward_to, enabled}`` plus ``password`` (clear, or None
    = keep). ``enabled`` (default on): a disabled account can neither register nor call."""
    data = clean_mapping(data, "body", optional=False)
    password = data.get("password")
    if password in (None, "") and not password_required:
        password = None
    else:
        password = clean_sip_password(password)
    return {"login": clean_login(data.get("login")),
            "domain_id": clean_id(data.get("domain_id"), "domain_id", optional=True),
            "employee_id": clean_id(data.get("employee_id"), "employee_id", optional=True),
            "forward_to": clean_id(data.get("forward_to"), "forward_to", optional=True),
            "enabled": clean_bool(data.get("enabled"), "enabled", default=True),
            "password": password}


@referrer("sip_account")
def refs_of_sip_account(doc: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    if doc.get("employee_id"):
        yield ("employee", doc["employee_id"], "employee_id")
    if doc.get("forward_to"):
        yield ("sip_account", doc["forward_to"], "forward_to")
    yield ("sip_domain", doc["domain_id"], "domain_id")


def clean_whitelist_entry(value: Any, field: str) -> str:
    try:
        return parse_entry(value if isinstance(value, str) else "").text
    except WhitelistError:
        raise RuleError("whitelist.entry", field=field, value=value) from None


def clean_sip_access(data: Mapping[str, Any]) -> dict:
    """``{mode: free|restricted, entries: [{value, comment}]}``; restricted needs ≥ 1 entry."""
    data = clean_mapping(data, "body", optional=False)
    mode = clean_choice(data.get("mode"), "mode", ACCESS_MODES, default="free")
    entries, seen = [], set()
    raw = clean_list(data.get("entries"), "entries")
    if len(raw) > MAX_WHITELIST:
        raise RuleError("value.range", field="entries", min=0, max=MAX_WHITELIST)
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"value": item}
        item = clean_mapping(item, f"entries[{i}]", optional=False)
        value = clean_whitelist_entry(item.get("value"), f"entries[{i}].value")
        if value in seen:
            raise RuleError("list.duplicate", field=f"entries[{i}].value", value=value)
        seen.add(value)
        entries.append({"value": value, "comment": clean_text(item.get("comment"), f"entries[{i}].comment", 100)})
    if mode == "restricted" and not entries:
        raise RuleError("whitelist.empty", field="entries")
    return {"mode": mode, "entries": entries}

"""The operator's platform gateways: the upstream carrier(s) every external number is dialled through.

The call engine dials a phone number (a scheme's forward to an external number, a group's external
member, an employee's phone contact method, the platform route of an outbound call, PRODUCT.md
§4.5) through these gateways, the enabled ones in the operator's order, with failover (the bridge
dial string ``sofia/gateway/pult_platform_<a>/<n>|sofia/gateway/pult_platform_<b>/<n>``:
``esl_control/flow/live.py`` builds it). With none enabled such a leg is not rung: an outbound
call hears a spoken refusal, a scheme goes on with its next step.

The operator edits them in the console (``/operator/gateways``) and through
``/api/v1/operator/platform-gateways`` — one use case, :func:`save_platform_gateways`, which
replaces the whole ordered list after checking every item; audited. Each gateway:

==================  ============================================================================
field               meaning (served in ``sofia.conf`` on the external profile, gateway
                    ``pult_platform_<id>``, like a trunk's; reconciled on every node)
==================  ============================================================================
id                  stable, given by Pult (letters, digits; kept across edits)
name                the operator's label, unique
proxy               ``host[:port]`` of the carrier (kept with the port: 5060 when left out)
realm               the digest realm / From domain (default: the proxy)
username, password  the account at the carrier (the password stored encrypted, like the trunks'
                    and SIP numbers' secrets: :mod:`esl_control.model.crypto`; never shown back)
register            whether the switch registers with the carrier (needs username and password)
transport           ``udp`` | ``tcp`` | ``tls``
caller_id_in_from   the caller id (the employee's outgoing number) in the From header
enabled             a disabled gateway is not served and not dialled
==================  ============================================================================

A refusal is an :class:`~pult.errors.AppError` 422 naming each bad field as ``<index>.<field>``
(``0.proxy``) and nothing is stored; when the only fault is an ``id`` that names no stored
gateway (deleted meanwhile), it is a 409 ``conflict`` with the same field messages.
"""
from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any, Mapping, Sequence

from pult.errors import AppError
from pult.i18n import N_
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.tenants import store_platform_gateways, stored_platform_gateways

from . import vocabulary as vocab
from .crypto import SecretBox, SecretError

__all__ = ["FIELDS", "TRANSPORTS", "MAX_GATEWAYS", "clean_platform_gateways", "save_platform_gateways",
           "platform_gateways_view", "enabled_gateway_names", "gateway_rows", "password_owner"]

FIELDS = ("id", "name", "proxy", "realm", "username", "password", "register", "transport",
          "caller_id_in_from", "enabled")
TRANSPORTS = ("udp", "tcp", "tls")
MAX_GATEWAYS = 10
INVALID = N_("Some fields are not filled in correctly.")

_HOST = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
_USER = re.compile(r"^[A-Za-z0-9._~+\-!*]{1,64}$")
_ID = re.compile(r"^[a-z0-9]{1,16}$")
_TRUE = ("1", "true", "on", "yes")
_FALSE = ("0", "false", "off", "no", "")


def password_owner(gateway_id: str) -> str:
    """The associated data binding a stored password to its gateway."""
    return f"platform_gateway:{gateway_id}"


def _refuse(fields: dict[str, str]) -> AppError:
    return AppError(422, "validation_error", INVALID, fields=fields)


def _host_port(raw: str, *, what: str) -> tuple[str | None, str | None]:
    """``host[:port]`` checked and normalised (IPv6 in brackets), or an error message."""
    text = raw.strip()
    message = (N_("Enter the carrier's address as host or host:port, like sip.example.net or 203.0.113.5:5060.")
               if what == "proxy" else N_("Enter the realm as a host name, like sip.example.net."))
    host, port = text, None
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None, message
            port = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return None, message
        host = f"[{host}]"
    elif text.count(":") == 1:
        host, port = text.split(":")
    if not text.startswith("["):
        try:
            ip = ipaddress.ip_address(host)
            if ip.version == 6 or ip.is_unspecified or ip.is_multicast:
                return None, message
        except ValueError:
            if not _HOST.match(host) or host.replace(".", "").isdigit():
                return None, message
    if port is not None:
        if not port.isdigit() or not port.isascii() or not 1 <= int(port) <= 65535:
            return None, N_("Enter a port number from 1 to 65535.")
        return f"{host.lower()}:{int(port)}", None
    # the proxy is kept with its port (sofia lists it so: the reconcile compares the two)
    return (f"{host.lower()}:5060" if what == "proxy" else host.lower()), None


def _flag(raw: Any, default: bool) -> bool | None:
    if raw is None:
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False if text else default
    return None


def _text(raw: Any) -> str | None:
    if raw is None:
        return ""
    return raw.strip() if isinstance(raw, str) else None


def _clean_one(item: Any, old: Mapping[str, Any] | None, box: SecretBox | None,
               errors: dict[str, str], at: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(item, Mapping):
        errors[at.rstrip(".") or "body"] = N_("This value is not valid.")
        return out
    for key in item:
        if key not in FIELDS and key not in ("password_set",):
            errors[f"{at}{key}"] = N_("There is no such setting.")
    name = _text(item.get("name"))
    if not name:
        errors[f"{at}name"] = N_("Enter the gateway's name.")
    elif len(name) > 64:
        errors[f"{at}name"] = N_("The name is too long (at most 64 characters).")
    else:
        out["name"] = name
    proxy = _text(item.get("proxy"))
    if not proxy:
        errors[f"{at}proxy"] = N_("Enter the carrier's address as host or host:port, like sip.example.net or 203.0.113.5:5060.")  # noqa: E501
    else:
        value, error = _host_port(proxy, what="proxy")
        if error:
            errors[f"{at}proxy"] = error
        else:
            out["proxy"] = value
    realm = _text(item.get("realm"))
    if realm is None:
        errors[f"{at}realm"] = N_("Enter the realm as a host name, like sip.example.net.")
    elif realm:
        value, error = _host_port(realm, what="realm")
        if error:
            errors[f"{at}realm"] = error
        else:
            out["realm"] = value
    else:
        out["realm"] = None
    username = _text(item.get("username"))
    if username is None or (username and not _USER.match(username)):
        errors[f"{at}username"] = N_("The user name may have Latin letters, digits and . _ ~ + - ! * (at most 64).")  # noqa: E501
    else:
        out["username"] = username or None
    for flag, default in (("register", False), ("caller_id_in_from", True), ("enabled", True)):
        value = _flag(item.get(flag), default)
        if value is None:
            errors[f"{at}{flag}"] = N_("Choose yes or no.")
        else:
            out[flag] = value
    transport = _text(item.get("transport"))
    transport = (transport or "udp").lower() if transport is not None else None
    if transport not in TRANSPORTS:
        errors[f"{at}transport"] = N_("Choose the transport: udp, tcp or tls.")
    else:
        out["transport"] = transport
    password = item.get("password")
    if password is not None and not isinstance(password, str):
        errors[f"{at}password"] = N_("This value is not valid.")
    elif password:
        if len(password) > 128 or any(ord(c) < 32 or ord(c) == 127 for c in password):
            errors[f"{at}password"] = N_("The password may be at most 128 characters, without control characters.")
        else:
            out["password"] = password
    elif old is not None and old.get("password_enc"):
        out["password_enc"] = old["password_enc"]  # left empty on an edit: kept
    has_password = bool(out.get("password") or out.get("password_enc"))
    if out.get("register") and not (out.get("username") and has_password):
        errors.setdefault(f"{at}username" if not out.get("username") else f"{at}password",
                          N_("A gateway that registers needs a user name and a password."))
    if has_password and not out.get("username") and f"{at}username" not in errors:
        errors[f"{at}username"] = N_("A password needs the user name it belongs to.")
    return out


def _new_id(taken: set[str]) -> str:
    while True:
        gid = secrets.token_hex(4)
        if gid not in taken:
            return gid


def clean_platform_gateways(items: Any, stored: Sequence[Mapping[str, Any]],
                            box: SecretBox | None = None) -> list[dict[str, Any]]:
    """The list to store for ``items`` (the whole ordered list the operator sent) over what is
    ``stored``: every item checked, ids kept (an unknown id is refused), new ones given one, a
    password encrypted (left empty on an existing gateway: kept). Raises AppError 422."""
    if not isinstance(items, list):
        raise _refuse({"gateways": N_("This value is not valid.")})
    if len(items) > MAX_GATEWAYS:
        raise _refuse({"gateways": N_("At most 10 platform gateways.")})
    by_id = {str(g["id"]): g for g in stored}
    errors: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    seen_ids: set[str] = set()
    names: dict[str, int] = {}
    for index, item in enumerate(items):
        at = f"{index}."
        gid = item.get("id") if isinstance(item, Mapping) else None
        old = None
        if gid not in (None, ""):
            if not isinstance(gid, str) or gid not in by_id or gid in seen_ids:
                errors[f"{at}id"] = N_("There is no such gateway (it was deleted meanwhile?): reload the page.")
                gid = None
            else:
                old = by_id[gid]
        clean = _clean_one(item, old, box, errors, at)
        key = (clean.get("name") or "").casefold()
        if key and key in names:
            errors[f"{at}name"] = N_("Another gateway has this name.")
        names[key] = index
        if gid:
            seen_ids.add(gid)
        clean["id"] = gid or None
        out.append(clean)
    if errors and all(k.endswith(".id") for k in errors):
        # only ids that name no stored gateway: a body valid in itself that clashes with what is
        # stored (deleted meanwhile): 409, with the same message
        raise AppError(409, "conflict", next(iter(errors.values())), fields=errors)
    if errors:
        raise _refuse(errors)
    taken = set(by_id) | seen_ids
    for clean in out:
        if clean["id"] is None:
            clean["id"] = _new_id(taken)
            taken.add(clean["id"])
        if "password" in clean:
            box = box or SecretBox.from_settings()
            clean["password_enc"] = box.encrypt(clean.pop("password"), password_owner(clean["id"]))
    return [{k: clean.get(k) for k in FIELDS if k != "password"} | {"password_enc": clean.get("password_enc")}
            for clean in out]


def _public(g: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: g.get(k) for k in FIELDS if k != "password"}
    out["gateway"] = vocab.platform_gateway(g["id"])
    out["password_set"] = bool(g.get("password_enc"))
    return out


async def platform_gateways_view(db) -> dict[str, Any]:
    """``{"gateways": [...]}`` in order, as the console and the API show them (no secrets:
    ``password_set`` instead; ``gateway``: the switch's name of it)."""
    return {"gateways": [_public(g) for g in await stored_platform_gateways(db)]}


async def save_platform_gateways(db, items: Any, actor: Mapping[str, Any] | None, *,
                                 box: SecretBox | None = None) -> dict[str, Any]:
    """Replace the platform gateways with ``items`` (see :func:`clean_platform_gateways`); audited;
    returns :func:`platform_gateways_view`. The nodes take it at the next gateway reconcile."""
    stored = await stored_platform_gateways(db)
    clean = clean_platform_gateways(items, stored, box)
    before = [_public(g) for g in stored]
    await store_platform_gateways(db, clean)
    after = await platform_gateways_view(db)
    await audit(db, Scope.platform(), actor=actor, section="operator.gateways", operation="update",
                object={"type": "platform_gateways", "id": "platform", "name": "platform gateways"},
                before=before, after=after["gateways"])
    return after


def enabled_gateway_names(stored: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The switch's names of the enabled gateways, in the operator's order (what the engine dials)."""
    return tuple(vocab.platform_gateway(g["id"]) for g in stored
                 if g.get("enabled", True) and _ID.match(str(g.get("id") or "")))


def gateway_rows(stored: Sequence[Mapping[str, Any]], box: SecretBox | None = None) -> list[dict[str, Any]]:
    """The enabled gateways as the provisioning read model gives them to ``sofia.conf``
    (``kind: platform``; the password decrypted, None when unreadable)."""
    out = []
    for g in stored:
        if not g.get("enabled", True) or not _ID.match(str(g.get("id") or "")):
            continue
        password = None
        if g.get("password_enc"):
            box = box or SecretBox.from_settings()
            try:
                password = box.decrypt(g["password_enc"], password_owner(g["id"]))
            except SecretError:
                password = None
        out.append({"name": vocab.platform_gateway(g["id"]), "kind": "platform", "gateway_id": g["id"],
                    "label": g.get("name"), "proxy": g.get("proxy"), "realm": g.get("realm"),
                    "username": g.get("username"), "password": password,
                    "password_unreadable": bool(g.get("password_enc")) and password is None,
                    "register": bool(g.get("register")), "transport": g.get("transport") or "udp",
                    "caller_id_in_from": bool(g.get("caller_id_in_from", True))})
    return out

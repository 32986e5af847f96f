"""A FreeSWITCH node's SIP settings: where its profiles listen, what they announce, its RTP range.

The operator sets them per node in the console (``/operator/nodes/<name>``, and
``/api/v1/operator/nodes/<name>/sip``: one use case, :func:`save_node_sip`). A value stored here
wins over the ``sip`` part of the node's entry in ``FREESWITCH_ESL`` (:class:`pult.settings.SipAddresses`),
which wins over the built-in default; an empty field gives the configuration back.

=================  ============================================  ===================================
field              served as                                     the switch takes it
=================  ============================================  ===================================
sip_ip, rtp_ip     ``sofia.conf``: ``sip-ip``/``rtp-ip`` of both  at a profile's start:
                   profiles (``auto``: FreeSWITCH's guess)       ``sofia profile <p> restart``
ext_sip_ip,        ``ext-sip-ip``/``ext-rtp-ip`` (NAT: the        (or a restart of the switch)
ext_rtp_ip         public address; ``auto-nat``, ``auto``)
internal_port,     ``sip-port`` of ``internal`` (phones) and
external_port      ``external`` (trunks, SIP numbers)
rtp_start_port,    ``post_load_switch.conf``: ``rtp-start-port``  once, at the switch's start (it is
rtp_end_port       / ``rtp-end-port`` (both or neither)          read after mod_xml_curl loads)
=================  ============================================  ===================================

Validation: addresses are IP addresses (not 0.0.0.0 / ::, not multicast) or the words above; SIP
ports 1-65535 and different; RTP ports 1024-65535, start below end, no SIP port inside the range.
A refusal is an :class:`~pult.errors.AppError` 422 with a message per field, and nothing is stored.

A rescan must not half-apply a change. ``sofia profile <p> rescan`` (Pult's gateway reconcile
sends it) re-reads a running profile's settings from ``sofia.conf`` and recomputes the addresses
it announces, but its SIP socket stays bound where the profile started (mod_sofia ``config_sofia``
with ``reconfig=true``). So :func:`profile_settings_for` remembers what each profile of a node
loaded at its start or restart, and answers a rescan with that: a change waits, whole, for the
restart. The console shows what the node runs with and what awaits a restart (:func:`node_sip_view`).
"""
from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from pydantic import ValidationError

from pult.errors import AppError
from pult.i18n import N_
from pult.observability import get_logger
from pult.settings import FsNode, SipAddresses
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.nodes import loaded_node_settings, record_loaded, store_node_sip, stored_node_sip

log = get_logger(__name__)

__all__ = ["FIELDS", "ADDRESS_FIELDS", "PORT_FIELDS", "RTP_FIELDS", "find_node", "clean_node_sip",
           "effective_sip", "addresses_of", "node_sip_view", "save_node_sip", "profile_settings_for",
           "core_settings_for"]

ADDRESS_FIELDS = ("sip_ip", "rtp_ip", "ext_sip_ip", "ext_rtp_ip")
PORT_FIELDS = ("internal_port", "external_port")
RTP_FIELDS = ("rtp_start_port", "rtp_end_port")
FIELDS = ADDRESS_FIELDS + PORT_FIELDS + RTP_FIELDS

#: the words each address field takes besides an IP address
_WORDS = {"sip_ip": ("auto",), "rtp_ip": ("auto",), "ext_sip_ip": ("auto", "auto-nat"),
          "ext_rtp_ip": ("auto", "auto-nat")}
_ADDRESS_MESSAGES = {
    "sip_ip": N_("Enter an IP address of the node, like 10.0.0.5, or auto."),
    "rtp_ip": N_("Enter an IP address of the node for media, like 10.0.0.5, or auto."),
    "ext_sip_ip": N_("Enter the public IP address, like 203.0.113.5, or auto-nat, or auto."),
    "ext_rtp_ip": N_("Enter the public IP address for media, like 203.0.113.5, or auto-nat, or auto."),
}
INVALID = N_("Some fields are not filled in correctly.")


def _refuse(fields: dict[str, str]) -> AppError:
    return AppError(422, "validation_error", INVALID, fields=fields)


def find_node(settings, name: str) -> FsNode:
    """The configured node named ``name`` (``FREESWITCH_ESL``), else 404."""
    for node in getattr(settings, "nodes", None) or []:
        if node.name == name:
            return node
    raise AppError(404, "not_found", N_("There is no FreeSWITCH node with this name."))


def _address(field: str, raw: str) -> tuple[str | None, str | None]:
    value = raw.strip()
    if value.lower() in _WORDS[field]:
        return value.lower(), None
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None, _ADDRESS_MESSAGES[field]
    if ip.is_unspecified:
        return None, N_("0.0.0.0 (or ::) is not an address phones can reach: enter the node's own address, or auto.")
    if ip.is_multicast:
        return None, N_("A multicast address cannot be a SIP or media address.")
    return str(ip), None


def _port(field: str, raw: Any) -> tuple[int | None, str | None]:
    low = 1024 if field in RTP_FIELDS else 1
    message = (N_("Enter an RTP port number from 1024 to 65535.") if field in RTP_FIELDS
               else N_("Enter a port number from 1 to 65535."))
    if isinstance(raw, bool):
        return None, message
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip()
        if not text.isdigit() or not text.isascii():
            return None, message
        value = int(text)
    if not low <= value <= 65535:
        return None, message
    return value, None


def clean_node_sip(data: Mapping[str, Any]) -> dict[str, Any]:
    """The values the operator set (an empty value or None: not set), checked one by one; raises
    AppError 422 naming each bad field (an unknown field too)."""
    clean, errors = _clean(data)
    if errors:
        raise _refuse(errors)
    return clean


def _clean(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    if not isinstance(data, Mapping):
        raise _refuse({"body": N_("This value is not valid.")})
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key in data:
        if key not in FIELDS:
            errors[str(key)] = N_("There is no such setting.")
    for field in FIELDS:
        raw = data.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        if field in ADDRESS_FIELDS:
            value, error = (_address(field, raw) if isinstance(raw, str) else (None, _ADDRESS_MESSAGES[field]))
        else:
            value, error = _port(field, raw)
        if error:
            errors[field] = error
        else:
            clean[field] = value
    return clean, errors


def _check_together(merged: Mapping[str, Any], given: Mapping[str, Any], errors: dict[str, str]) -> None:
    """The rules between fields, on the values in effect after the change (the operator's over
    the configuration's; a field refused on its own counts as not given); each error goes to a
    field the operator typed, where there is one, and is added to ``errors`` (a field's own error
    stays)."""
    found: dict[str, str] = {}
    _between(merged, given, found)
    for field, message in found.items():
        errors.setdefault(field, message)
    if errors:
        raise _refuse(errors)


def _between(merged: Mapping[str, Any], given: Mapping[str, Any], errors: dict[str, str]) -> None:
    if merged["internal_port"] == merged["external_port"]:
        field = "external_port" if "external_port" in given or "internal_port" not in given else "internal_port"
        errors[field] = N_("The two SIP profiles need different ports.")
    start, end = merged.get("rtp_start_port"), merged.get("rtp_end_port")
    if (start is None) != (end is None):
        errors["rtp_end_port" if start is not None else "rtp_start_port"] = \
            N_("Give both ends of the RTP port range, or neither (the switch's own range).")
    elif start is not None:
        if start >= end:
            errors["rtp_end_port"] = N_("The end of the RTP port range must be above its start.")
        else:
            for port_field in PORT_FIELDS:
                if start <= merged[port_field] <= end:
                    field = port_field if port_field in given or not (set(RTP_FIELDS) & set(given)) \
                        else next(f for f in RTP_FIELDS if f in given)
                    errors.setdefault(field, N_("A SIP port lies inside the RTP port range."))


def effective_sip(node: FsNode, stored: Mapping[str, Any]) -> SipAddresses:
    """The node's SIP settings in effect: the stored values over the configured ones."""
    values = {**node.sip.model_dump(), **{k: v for k, v in stored.items() if k in FIELDS}}
    try:
        return SipAddresses(**values)
    except ValidationError as exc:  # stored before a configuration change made them clash
        log.error("node %s: the SIP settings stored in the console clash with FREESWITCH_ESL (%s); "
                  "serving the configuration's until they are saved again", node.name, exc.errors()[0]["msg"])
        return node.sip


async def addresses_of(db, node: FsNode) -> SipAddresses:
    """What ``sofia.conf`` and ``post_load_switch.conf`` serve to ``node`` now."""
    return effective_sip(node, await stored_node_sip(db, node.name))


CORE = "core"


def _same(a: Mapping[str, Any] | None, b: Mapping[str, Any]) -> bool:
    return a is not None and {k: str(v) for k, v in a.items() if k != "at"} == {k: str(v) for k, v in b.items()}


async def profile_settings_for(db, node: FsNode, profile: str | None, *, rescan: bool) -> dict[str, dict[str, Any]]:
    """The ``sofia.conf`` settings per profile to serve ``node``: its SIP settings now, recorded
    as loaded for ``profile`` (every profile when None: the switch's start); for a rescan, what
    each profile loaded at its start (a profile never recorded: the settings now)."""
    now = (await addresses_of(db, node)).profile_settings()
    if rescan:
        loaded = await loaded_node_settings(db, node.name)
        return {name: ({k: v for k, v in loaded[name].items() if k != "at"} if name in loaded else values)
                for name, values in now.items()}
    await record_loaded(db, node.name, {name: values for name, values in now.items() if profile in (None, name)})
    return now


async def core_settings_for(db, node: FsNode) -> dict[str, Any]:
    """The ``post_load_switch.conf`` settings for ``node`` (the switch is starting: recorded)."""
    core = (await addresses_of(db, node)).switch_settings()
    await record_loaded(db, node.name, {CORE: core})
    return core


def _pending(effective: SipAddresses, loaded: Mapping[str, Any]) -> list[str]:
    """What awaits the node: sofia profile names to restart, and ``core`` (a restart of the switch)."""
    out = [name for name, values in effective.profile_settings().items()
           if name in loaded and not _same(loaded[name], values)]
    if CORE in loaded and not _same(loaded[CORE], effective.switch_settings()):
        out.append(CORE)
    return out


def _resolved(sip: SipAddresses) -> dict[str, Any]:
    out = sip.model_dump()
    out["rtp_ip"] = sip.rtp_ip or sip.sip_ip
    out["ext_rtp_ip"] = sip.ext_rtp_ip or sip.ext_sip_ip
    return out


async def node_sip_view(db, node: FsNode) -> dict[str, Any]:
    """``{node, stored: what the operator set, configured: FREESWITCH_ESL's, effective: served now,
    loaded: what the node loaded (per profile, ``core``; as served), pending: what awaits a restart
    (profile names, ``core``)}``."""
    stored = await stored_node_sip(db, node.name)
    loaded = await loaded_node_settings(db, node.name)
    effective = effective_sip(node, stored)
    return {"node": node.name, "stored": {k: stored.get(k) for k in FIELDS},
            "configured": _resolved(node.sip), "effective": _resolved(effective),
            "loaded": loaded, "pending": _pending(effective, loaded)}


async def save_node_sip(db, node: FsNode, data: Mapping[str, Any], actor: Mapping[str, Any] | None) -> dict[str, Any]:
    """Replace what the operator set for ``node`` with ``data`` (every field; an empty one: the
    configuration's value), after checking each value and the rules between them; audited.
    Returns :func:`node_sip_view`. The switch takes the change as the module docstring says."""
    given, errors = _clean(data)
    merged = {**node.sip.model_dump(), **given}
    _check_together(merged, given, errors)
    try:
        SipAddresses(**merged)
    except ValidationError as exc:  # the rules above are these; a mismatch is a fault, said plainly
        raise AppError(422, "validation_error", INVALID, fields={"body": str(exc.errors()[0]["msg"])}) from None
    before = await node_sip_view(db, node)
    await store_node_sip(db, node.name, given)
    after = await node_sip_view(db, node)
    await audit(db, Scope.platform(), actor=actor, section="operator.nodes", operation="update",
                object={"type": "fs_node", "id": node.name, "name": node.name},
                before=before["stored"], after=after["stored"])
    return after

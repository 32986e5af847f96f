"""Read model for FreeSWITCH provisioning (``fs_config`` builds the XML from these plain dicts).

Platform-scope reads by design: FreeSWITCH asks per SIP domain or for the whole node, never "as
a tenant". Nothing here writes. Clear passwords appear ONLY for registering gateways (active SIP
numbers), which must send them to the other operator; SIP accounts come with ``a1_hash``.
"""
from __future__ import annotations

from typing import Any

from esl_control.model import vocabulary as vocab
from esl_control.model.crypto import SecretBox, SecretError
from storage.repos.base import Scope
from storage.repos.tenants import load_pbx_state, stored_platform_gateways
from storage.repos.telephony import (ConferenceRooms, Employees, Extensions, Numbers, SipAccounts,
                                     SipDomains, TelSettings, Trunks)


async def directory_users(db, domain: str, user: str | None = None, *,
                          extension: str | None = None) -> dict[str, Any] | None:
    """The SIP users of one domain (or just ``user``, or the account of the employee whose
    extension is ``extension``): ``None`` when the domain is not ours.

    Switched-off accounts are not served (``enabled: false``), nor is anyone of a PBX that is
    blocked right now (:func:`storage.repos.tenants.pbx_state`: operator block, balance, expired
    demo, archived or deleted): FreeSWITCH then refuses their REGISTER and INVITE (403); the
    answer then says why (``blocked``: the reasons).

    ``{"domain", "pbx_id", "sip_access", "users": [{login, a1_hash, pbx_id, extension, employee_id,
    caller_id_name, caller_id_number, forward_to}]}``; ``forward_to`` is the deputy's
    ``login@domain``; ``sip_access`` is the PBX's SIP access setting (``{}`` when never set). The
    caller id is what an internal call shows on the callee's phone, as the PBX's ``sip_display``
    setting says (D §4.6.1.2: the employee's name, extension or login; the extension or login); an
    account without an employee shows its login.

    Each document is read once, one query per collection at most: the domain, the PBX and its
    account's balance, the extension claim (``extension`` only), the accounts, their employees and
    deputies (only when there are any), the PBX's telephony settings.
    """
    platform = Scope.platform()
    dom = await SipDomains(db, platform).find_one({"name": (domain or "").lower()})
    if dom is None:
        return None
    pbx_id = dom["pbx_id"]
    scope = Scope.pbx(pbx_id)
    state = await load_pbx_state(db, pbx_id)
    if state is None or state.blocked:  # a blocked (or gone) PBX's phones neither register nor call
        return {"domain": dom["name"], "pbx_id": pbx_id, "sip_access": {}, "users": [],
                "blocked": state.reasons if state else ("deleted",)}
    flt: dict[str, Any] = {"domain_id": dom["_id"], "enabled": {"$ne": False}}
    limit = 0
    accounts: list[dict] = []
    if extension is not None:
        claim = await Extensions(db, scope).find_one({"extension": extension, "owner_type": "employee"})
        if claim is not None:
            flt["employee_id"] = claim["owner_id"]
            limit = 1  # several accounts of one employee: the first login answers for the extension
    elif user is not None:
        flt["login"] = user.lower()
    if extension is None or limit:
        accounts = await SipAccounts(db, scope).find(flt, sort=[("login", 1)], limit=limit)
    emp_ids = [a["employee_id"] for a in accounts if a.get("employee_id")]
    employees = {e["_id"]: e for e in await Employees(db, scope).find({"_id": {"$in": emp_ids}})} if emp_ids else {}
    own = {a["_id"]: a for a in accounts}
    fwd_ids = [a["forward_to"] for a in accounts if a.get("forward_to") and a["forward_to"] not in own]
    deputies = list(own.values())
    if fwd_ids:
        deputies += await SipAccounts(db, scope).find({"_id": {"$in": fwd_ids}})
    forwards = {a["_id"]: f"{a['login']}@{a['domain']}" for a in deputies}
    settings = await TelSettings(db, scope).find_one({"_id": pbx_id}, {"sip_display": 1, "sip_access": 1}) or {}
    display = {"name": "employee", "number": "extension", **(settings.get("sip_display") or {})}
    users = []
    for a in accounts:
        emp = employees.get(a.get("employee_id"))
        shown = {"employee": emp["name"], "extension": emp.get("extension"), "login": a["login"]} if emp else {}
        users.append({"login": a["login"], "a1_hash": a["a1_hash"], "pbx_id": pbx_id,
                      "extension": emp.get("extension") if emp else None,
                      "employee_id": emp["_id"] if emp else None,
                      "caller_id_name": shown.get(display["name"]) or a["login"],
                      "caller_id_number": shown.get(display["number"]) or a["login"],
                      "forward_to": forwards.get(a.get("forward_to"))})
    return {"domain": dom["name"], "pbx_id": pbx_id, "sip_access": settings.get("sip_access") or {},
            "users": users}


async def gateways(db, box: SecretBox | None = None) -> list[dict[str, Any]]:
    """Sofia gateways: every PBX's active SIP numbers (register) and SIP trunks (no register), then
    the operator's platform gateways (``kind: platform``, :mod:`esl_control.model.platform_gateways`)."""
    platform = Scope.platform()
    out: list[dict[str, Any]] = []
    numbers = await Numbers(db, platform).find({"kind": "active_sip"}, sort=[("number", 1)])
    if numbers and box is None:
        box = SecretBox.from_settings()
    for n in numbers:
        gw = n["gateway"]
        try:
            password = box.decrypt(n["password_enc"], f"number:{n['_id']}")
        except SecretError:
            password = None  # unreadable (secret changed): fs_config skips a gateway without one
        out.append({"name": vocab.number_gateway(n['_id']), "kind": "active_sip", "pbx_id": n["pbx_id"],
                    "number": n["number"], "host": gw["host"], "port": gw["port"], "register": True,
                    "username": gw["login"], "password": password, "sip_address": gw.get("sip_address")})
    # a trunk switched off gets no gateway: no call goes into it (stored before the switch: on)
    for t in await Trunks(db, platform).find({"active": {"$ne": False}},
                                             sort=[("pbx_id", 1), ("name_norm", 1)]):
        out.append({"name": vocab.trunk_gateway(t['_id']), "kind": "trunk", "pbx_id": t["pbx_id"], "trunk_id": t["_id"],
                    "host": t["host"], "port": t["port"], "register": False,
                    "ping": 30 if t.get("options_ping") else None, "codecs": list(t.get("codecs", ())),
                    "dtmf_mode": t.get("dtmf_mode"), "dtmf_commands": t.get("dtmf_commands"),
                    "lines": t.get("lines"), "numbers": [n["number"] for n in t.get("numbers", ()) if n["receive"]]})
    # the operator's platform gateways (upstream carriers), enabled ones, in their order
    from esl_control.model.platform_gateways import gateway_rows
    out.extend(gateway_rows(await stored_platform_gateways(db), box))
    return out


async def acl_entries(db) -> dict[str, Any]:
    """ACL inputs: trunk source addresses (IP per trunk) and each restricted PBX's SIP whitelist.

    ``{"trunks": [{pbx_id, trunk_id, host, port}], "sip_whitelists": [{pbx_id, entries: [..]}]}``;
    a PBX in free-access mode has no whitelist entry (no ``auth-acl`` on its users).
    """
    platform = Scope.platform()
    trunks = [{"pbx_id": t["pbx_id"], "trunk_id": t["_id"], "host": t["host"], "port": t["port"]}
              for t in await Trunks(db, platform).find({}, sort=[("pbx_id", 1)])]
    lists = []
    for s in await TelSettings(db, platform).find({"sip_access.mode": "restricted"}, sort=[("pbx_id", 1)]):
        lists.append({"pbx_id": s["pbx_id"], "entries": [e["value"] for e in s["sip_access"]["entries"]]})
    return {"trunks": trunks, "sip_whitelists": lists}


async def conference_rooms(db, pbx_id: int | None = None) -> list[dict[str, Any]]:
    """Conference rooms with seats (one PBX, or all with ``pbx_id=None``)."""
    scope = Scope.platform() if pbx_id is None else Scope.pbx(pbx_id)
    return [{"pbx_id": r["pbx_id"], "room_id": r["_id"], "name": r["name"], "extension": r["extension"],
             "seats": r["seats"], "join": r["join"], "pin": r.get("pin"), "pin_for": r.get("pin_for")}
            for r in await ConferenceRooms(db, scope).find({}, sort=[("pbx_id", 1), ("extension", 1)])]

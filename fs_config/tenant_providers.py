"""mod_xml_curl providers built on the tenants' data in the store: what a Pult server answers.

    providers = tenant_providers(settings, store.db, socket_address=...)
    routes(settings, providers)

A lookup reads each document it needs once; each read is an equality lookup on an indexed field
(``sip_domains.name``, ``sip_accounts`` domain+login, ``numbers.number`` / ``sip_address``,
``trunks.host``, ``_id``). Directory answers are kept and served while the store's change counters
of their PBX are unchanged (:mod:`storage.versions`: every write to the configuration bumps them),
so a change made in the cabinet is in the very next answer, whichever Pult process made it. The
counters are this process's copy when it is complete (the embedded store; MongoDB with a live
Redis feed), so a kept answer costs no store read at all.

**directory** (:class:`TenantDirectory`) — one SIP domain and the user asked for (``sip_auth`` of
REGISTER/INVITE, ``user_call`` of ``user/<id>@<domain>``, voicemail's ``message-count`` and the
other per-user actions all get the same answer). Users carry ``a1-hash`` (never a password),
``user_context=vpbx<pbx id>``, ``pult_pbx_id`` (domain variable), ``pult_extension``,
``pult_employee_id``, ``effective_caller_id_*`` and, for a PBX whose SIP access is restricted,
``auth-acl`` (see :meth:`TenantDirectory.auth_acl`). An unknown domain or user, a user of another
domain, and the directory's ``purpose=gateways|network-list`` lookups are "not found". A lookup
by ``key=number-alias`` finds the SIP account of the employee with that extension.

**dialplan** (:class:`TenantDialplan`) — every call in ``public``, ``default`` and ``vpbx<id>``
goes to the outbound socket with ``pult_*`` variables saying what the call is (whether the PBX is
blocked is kept as for the directory, :class:`PbxStates`, shared with it):

- ``vpbx<id>`` (an authenticated tenant phone): ``pult_pbx_id`` from the context, and when the
  caller authenticated as a SIP account of THAT PBX, ``pult_domain``, ``pult_user``,
  ``pult_sip_account_id``, ``pult_employee_id``; ``pult_source=sip_user`` (``internal`` for a
  call without a SIP caller, e.g. a loopback leg);
- ``public``, in this order: a registered gateway of an active SIP number or a trunk
  (``sip_gateway_name``), a trunk by the INVITE's source address (``sip_network_ip``), a number
  of a PBX by the number dialled (a leading ``+`` ignored), a passive SIP number by its SIP
  address (``<destination>@<request host>``) → ``pult_source=number|trunk``, ``pult_pbx_id``,
  ``pult_number_id``/``pult_number``/``pult_number_kind`` or ``pult_trunk_id`` (with ``pult_number`` and,
  when a scheme is bound to that "receive" number, ``pult_scheme_id``);
- a ``public`` call that matches nothing is REJECTED here (``hangup UNALLOCATED_NUMBER`` → SIP
  404), not handed to the call flow and not "not found": the public context is where SIP
  scanners knock, and a "not found" would let FreeSWITCH's stock public dialplan route it.
  Pult's own loopback legs (``Caller-Source=mod_loopback`` with a ``pult_pbx_id``) pass through;
- ``default``: as :class:`fs_config.dialplan.SocketDialplan` (variables from the channel).

**configuration** (:class:`TenantConfiguration`):

- ``sofia.conf``: the complete profile set of :mod:`fs_config.sofia_template` (mod_sofia uses
  only what the answer holds, so answering with gateways alone would drop its profiles) with a
  gateway per active SIP number (registering) and per SIP trunk (OPTIONS ping) in the
  ``external`` profile. A record that cannot be made into a valid gateway is left out and logged,
  never the whole file;
- ``acl.conf``: ``pult_esl`` (the Pult servers that may open the inbound Event Socket, see
  deploy/freeswitch/autoload_configs/acl.conf.xml), FreeSWITCH's ``lan`` and ``domains`` lists,
  ``pult_trunks`` (every trunk's address) and ``pult_sip_<pbx id>`` per PBX with a restricted SIP
  whitelist (empty, i.e. deny-all, if a stored entry cannot be converted: it fails closed);
- ``conference.conf``: only lookups for a Pult room profile (``pult_room_<room id>``, see
  :func:`room_profile_name`) are answered, with ``max-members`` = the room's seats; everything
  else (the module's load-time read, FreeSWITCH's own profiles such as ``default``) is "not
  found", so FreeSWITCH's static conference.conf keeps working;
- ``post_load_switch.conf``: the asking node's RTP port range (``rtp-start-port`` /
  ``rtp-end-port``) when its SIP settings have one, else "not found". The core reads this file
  once, at start, right after loading the modules (``switch_core_init_and_modload``), which is
  the first moment mod_xml_curl can answer: ``switch.conf`` itself is read before any module is
  loaded, so Pult cannot serve it. The range set here replaces ``switch.conf``'s.

The SIP addresses, ports and RTP range of ``sofia.conf`` / ``post_load_switch.conf`` are the asking
node's settings (:mod:`esl_control.model.node_sip`: the operator console's values over the
``sip`` part of ``FREESWITCH_ESL``); the node is found by ``FreeSWITCH-Switchname``. A profile
rescan (``reconfig=true``) gets what the profile loaded at its start, since its socket stays bound
there (see that module).

Configuration is read by FreeSWITCH at load and on reload (``sofia profile external rescan``,
``reloadacl``), not per call: :mod:`esl_control.gateway_status` reports what the node has loaded.
"""
from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cachetools import TTLCache

from esl_control.model import node_sip, provisioning
from esl_control.model import vocabulary as vocab
from esl_control.model.vocabulary import (GATEWAY_PROFILE, gateway_owner, room_profile_name,
                                          whitelist_list_name)
from esl_control.routing.acl import WhitelistEntryError, whitelist_to_cidrs
from fs_config.configuration import (DEFAULT_CONTROLS, AclList, AclNode, ConferenceProfile,
                                     POST_LOAD_SWITCH_CONF, SofiaGateway, SofiaProfile, allow_list,
                                     build_acl_conf, build_conference_conf, build_post_load_switch_conf,
                                     build_sofia_conf)
from fs_config.dialplan import (DEFAULT_CONTEXTS, PUBLIC_CONTEXT, SAFE_VALUE, TENANT_CONTEXT_RE,
                                SocketDialplan, build_socket_dialplan, call_variables, tenant_context)
from fs_config.directory import DEFAULT_DIAL_STRING, DirectoryDomain, DirectoryUser, build_directory
from fs_config.providers import Provider, Providers, by_conf_name
from fs_config.request import XmlCurlRequest
from fs_config.sofia_template import DEFAULT_GLOBAL_SETTINGS, DEFAULT_PROFILES, with_settings
from fs_config.xml import XmlBuildError, child, document, render
from pult import clock
from pult.networks import parse_networks
from storage.repos.base import Scope
from storage.repos.tenants import account_balance, get_pbx, load_pbx_state, pbx_state
from storage.repos.telephony import ConferenceRooms, Numbers, SipAccounts, SipDomains, Trunks
from storage.embedded import together
from storage.versions import Versions, current_versions, is_versioned

log = logging.getLogger(__name__)

__all__ = ["INLINE_ACL_MAX", "PbxStates", "TenantConfiguration", "TenantDialplan", "TenantDirectory",
           "tenant_providers"]

#: FreeSWITCH checks an ``auth-acl`` of comma-separated CIDRs itself (``switch_check_network_list_ip``,
#: at most 32 of them); such a whitelist takes effect on the next REGISTER without ``reloadacl``.
INLINE_ACL_MAX = 32
#: Who may open the inbound Event Socket when nothing else is configured: this host.
LOOPBACK_ESL_CLIENTS = ("127.0.0.1/32", "::1/128")
#: mod_sofia re-registers an active SIP number this often (seconds), and retries a failed one.
REGISTER_EXPIRE_SECONDS = 600
REGISTER_RETRY_SECONDS = 30
#: FreeSWITCH's sample ``lan`` list, kept as in deploy/freeswitch/autoload_configs/acl.conf.xml.
LAN_LIST = AclList("lan", "allow", (AclNode("deny", "192.168.42.0/24"), AclNode("allow", "192.168.42.42/32")))

_ROOM_PROFILE = re.compile(rf"^{vocab.ROOM_PROFILE_PREFIX}([A-Za-z0-9_-]{{1,64}})$")


def _platform(repo_cls, db):
    return repo_cls(db, Scope.platform())


# --- whether a PBX is blocked, kept ----------------------------------------------------------------
class PbxStates:
    """Whether a PBX is blocked right now (:func:`storage.repos.tenants.pbx_state`), for the
    providers. The PBX document and its account's balance are kept with their change counters
    (:func:`storage.versions.current_versions`) and read again only when those moved; the clock
    is asked on every call. Without counting writes nothing is kept (two reads each time)."""

    def __init__(self, db, *, size: int = 20_000, seconds: float = 300.0):
        self.db = db
        self.cached = is_versioned(db) and size > 0
        # PBX id -> (Versions.state, PBX document, balance)
        self._kept: TTLCache = TTLCache(maxsize=max(1, size), ttl=seconds)

    def account_of(self, pbx_id: int) -> int | None:
        """The account of a kept PBX (whose balance counters to read), if any."""
        kept = self._kept.get(pbx_id)
        return kept[1].get("account_id") if kept else None

    async def get(self, pbx_id: int, versions: Versions | None = None):
        """The PBX's :class:`~storage.repos.tenants.PbxState` now (None: no such PBX).
        ``versions``: the counters already read for this lookup (read here if not given)."""
        if not self.cached:
            return await load_pbx_state(self.db, pbx_id)
        if versions is None:
            versions = await current_versions(self.db, pbx_id, self.account_of(pbx_id))
        kept = self._kept.get(pbx_id)
        if kept is not None and kept[0] == versions.state:
            return pbx_state(kept[1], {"balance": kept[2]}, clock.now())

        async def read():  # in one hand-off to the embedded store (storage.embedded.together)
            pbx = await get_pbx(self.db, pbx_id)
            if pbx is None:
                return None, None, 0
            account_id = pbx.get("account_id")
            # the balance's counters were read for the account kept before (if any): read them
            # now, before the balance (the PBX's part stays the one read before its document)
            now_versions = await current_versions(self.db, pbx_id, account_id)
            return pbx, now_versions, await account_balance(self.db, account_id) if account_id else 0

        pbx, now_versions, balance = await together(self.db, read)
        if pbx is None:
            self._kept.pop(pbx_id, None)
            return None
        self._kept[pbx_id] = (versions.state[:4] + now_versions.state[4:], pbx, balance)
        return pbx_state(pbx, {"balance": balance}, clock.now())


# --- directory --------------------------------------------------------------------------------
class TenantDirectory:
    """The ``directory`` provider (see the module docstring).

    Answers are kept (``cache_size`` of them, at most ``cache_seconds`` old) with the change
    counters of their PBX (:func:`storage.versions.current_versions`), read before the documents;
    a kept answer is served only while its PBX's counter and the platform counter are unchanged,
    so any write to the configuration — from this process or another one sharing the store — is
    answered on the very next lookup; and only while the PBX is not blocked right now. Whether it
    is blocked depends on the PBX document, the account's balance and the clock: the first two are
    kept with the counters of the PBX and of the balance, the clock is asked on every lookup.

    A lookup of a kept answer reads nothing from the store when this process's copy of the
    counters is complete (the embedded store; MongoDB with a live Redis feed), else one document
    (the store's counters); building one reads each document once
    (:func:`esl_control.model.provisioning.directory_users`). Without counting writes (a database
    not from :func:`storage.client.open_store`) nothing is kept.
    """

    def __init__(self, db, *, dial_string: str | None = DEFAULT_DIAL_STRING, cache_size: int = 20_000,
                 cache_seconds: float = 300.0):
        self.db = db
        self.dial_string = dial_string
        self.cached = is_versioned(db) and cache_size > 0
        self._answers: TTLCache = TTLCache(maxsize=max(1, cache_size), ttl=cache_seconds)
        self._pbx_of: TTLCache = TTLCache(maxsize=max(1, cache_size), ttl=cache_seconds)  # domain -> PBX id
        self.states = PbxStates(db, size=cache_size if self.cached else 0, seconds=cache_seconds)

    async def __call__(self, req: XmlCurlRequest) -> str | None:
        domain_name = (req.domain or "").strip().lower()
        if not domain_name or req.get("purpose") in ("gateways", "network-list"):
            return None  # Pult's directory declares no gateways and no ACL nodes
        user = (req.user or "").strip()
        key = (domain_name, user.lower(), req.get("key") == "number-alias")
        if not self.cached:
            return await self._build(*key)
        pbx_id = self._pbx_of.get(domain_name)
        if pbx_id is None:
            # a domain not seen yet: its PBX first (one small read), so that the counters are read
            # before the documents and this very answer is kept (before, the second lookup of a
            # domain's first user was a whole read again)
            domain = await _platform(SipDomains, self.db).find_one({"name": domain_name})
            if domain is None:
                return None  # not our domain
            pbx_id = domain["pbx_id"]
        versions = await current_versions(self.db, pbx_id, self.states.account_of(pbx_id))
        kept = self._answers.get(key)
        if kept is not None and kept[0] == pbx_id and kept[1] == versions.config:
            if kept[2] is None:
                return None
            state = await self.states.get(pbx_id, versions)
            return None if state is None or state.blocked else kept[2]
        pbx, answer, blocked = await self._read(*key)
        if pbx is None:
            self._pbx_of.pop(domain_name, None)
            return answer  # not our domain: nothing kept (no PBX whose writes would renew it)
        self._pbx_of[domain_name] = pbx
        if pbx == pbx_id and not blocked:  # counters read before the documents: keep the answer with them
            self._answers[key] = (pbx, versions.config, answer)
        return answer

    async def _build(self, domain_name: str, user: str, by_extension: bool) -> str | None:
        return (await self._read(domain_name, user, by_extension))[1]

    async def _read(self, domain_name: str, user: str,
                    by_extension: bool) -> tuple[int | None, str | None, bool]:
        """``(PBX id of the domain or None, the answer or None, whether the PBX is blocked)``,
        from the store: its queries in one hand-off to the embedded store's thread
        (:func:`storage.embedded.together`), not one each."""
        return await together(self.db, lambda: self._read_now(domain_name, user, by_extension))

    async def _read_now(self, domain_name: str, user: str,
                        by_extension: bool) -> tuple[int | None, str | None, bool]:
        if not user:
            domain = await _platform(SipDomains, self.db).find_one({"name": domain_name})
            if domain is None:
                return None, None, False
            return domain["pbx_id"], build_directory(self._domain(domain["name"], domain["pbx_id"]), []), False
        if by_extension:
            data = await provisioning.directory_users(self.db, domain_name, extension=user)
        else:
            data = await provisioning.directory_users(self.db, domain_name, user)
        if data is None:
            return None, None, False
        pbx_id, blocked = data["pbx_id"], bool(data.get("blocked"))
        if not data["users"]:
            return pbx_id, None, blocked
        auth_acl = self.auth_acl(pbx_id, data["sip_access"])
        users = [self._user(u, pbx_id, auth_acl) for u in data["users"]]
        return pbx_id, build_directory(self._domain(data["domain"], pbx_id), users), blocked

    def _domain(self, name: str, pbx_id: int) -> DirectoryDomain:
        return DirectoryDomain(name, pbx_id=pbx_id, dial_string=self.dial_string)

    @staticmethod
    def _user(u: Mapping[str, Any], pbx_id: int, auth_acl: str | None) -> DirectoryUser:
        variables = {vocab.FORWARD_TO: u["forward_to"]} if u.get("forward_to") else {}
        return DirectoryUser(
            user_id=u["login"], a1_hash=u["a1_hash"], extension=u.get("extension") or None,
            employee_id=u.get("employee_id") or None, user_context=tenant_context(pbx_id),
            caller_id_name=u.get("caller_id_name") or None, caller_id_number=u.get("caller_id_number") or None,
            auth_acl=auth_acl, variables=variables)

    @staticmethod
    def auth_acl(pbx_id: int, access: Mapping[str, Any] | None) -> str | None:
        """The ``auth-acl`` of a PBX's users, from its ``sip_access`` setting: None in free-access
        mode; in restricted mode the whitelist's CIDRs inline when there are at most
        :data:`INLINE_ACL_MAX` of them (live at once), else the name of its ``acl.conf`` list
        (live after ``reloadacl``). A whitelist that cannot be converted, or an empty one, names
        the list, which is then served empty: nobody registers rather than everybody."""
        access = access or {}
        if access.get("mode") != "restricted":
            return None
        try:
            cidrs = whitelist_to_cidrs(e["value"] for e in access.get("entries") or ())
        except (WhitelistEntryError, KeyError, TypeError) as exc:
            log.error("xml_curl directory: SIP whitelist of PBX %s cannot be converted (%s); "
                      "its users are refused until it is fixed", pbx_id, exc)
            cidrs = []
        if 0 < len(cidrs) <= INLINE_ACL_MAX:
            return ",".join(cidrs)
        return whitelist_list_name(pbx_id)


# --- dialplan ---------------------------------------------------------------------------------
def _reject_document(context: str, cause: str = "UNALLOCATED_NUMBER") -> str:
    doc, section = document("dialplan")
    ctx = child(section, "context", {"name": context})
    ext = child(ctx, "extension", {"name": "pult-unknown"})
    cond = child(ext, "condition", {"field": "destination_number", "expression": "^.*$"})
    child(cond, "action", {"application": "hangup", "data": cause})
    return render(doc)


class TenantDialplan:
    """The ``dialplan`` provider (see the module docstring). ``socket`` decides which contexts
    are served and where calls go (its address may be known only once the server listens)."""

    def __init__(self, db, socket: SocketDialplan, *, reject_unknown: bool = True,
                 states: PbxStates | None = None):
        self.db = db
        self.socket = socket
        self.reject_unknown = reject_unknown
        self.states = states if states is not None else PbxStates(db)

    async def __call__(self, req: XmlCurlRequest) -> str | None:
        context = req.context
        if not context or not self.socket.serves(context):
            return None
        target = self.socket.target()
        if target is None:
            log.error("xml_curl dialplan: outbound socket address unknown, answering not found "
                      "(call %s in %s)", req.unique_id, context)
            return None
        found = await self.identify(req, context)
        if found is None:
            log.info("xml_curl dialplan: rejecting a call in %s to %r from %s (no number or trunk of "
                     "any PBX)", context, req.destination_number[:40],
                     req.get("variable_sip_network_ip") or req.get("Caller-Caller-ID-Number")[:40])
            return _reject_document(context) if self.reject_unknown else None
        pbx_id = dict(found).get("pult_pbx_id")
        if pbx_id and pbx_id.isdigit():
            state = await self.states.get(int(pbx_id))
            # a blocked PBX's number is still answered by the call engine, which says the notice
            # and hangs up (PRODUCT.md §4.1; a caller never meets a bare refusal); its own calls
            # are refused here (the directory refuses its phones too)
            if state is None or (state.blocked and context != PUBLIC_CONTEXT):
                log.info("xml_curl dialplan: refusing a call of blocked PBX %s (%s) in %s to %r",
                         pbx_id, ", ".join(state.reasons) if state else "no such PBX", context,
                         req.destination_number[:40])
                return _reject_document(context, "CALL_REJECTED")
        node = req.get("FreeSWITCH-Switchname") or req.hostname
        return build_socket_dialplan(context, target, _safe(found + [("pult_node", node)], req))

    async def identify(self, req: XmlCurlRequest, context: str) -> list[tuple[str, str]] | None:
        """The ``pult_*`` variables of the call, or None for a public call nobody owns."""
        tenant = TENANT_CONTEXT_RE.match(context)
        if tenant:
            return await self._tenant_call(req, context, int(tenant.group(1)))
        if context == PUBLIC_CONTEXT:
            found = await self._public_call(req)
            if found is None and req.get("Caller-Source") == "mod_loopback" \
                    and req.get(vocab.event_header(vocab.PBX_ID)).isdigit():
                return call_variables(req, context) + [(vocab.SOURCE, vocab.SOURCE_INTERNAL)]
            return found
        return call_variables(req, context)

    @staticmethod
    def _base(req: XmlCurlRequest, context: str) -> list[tuple[str, str]]:
        base = [(vocab.CONTEXT, context)]
        if req.destination_number:
            base.append((vocab.DESTINATION_NUMBER, req.destination_number))
        return base

    async def _tenant_call(self, req: XmlCurlRequest, context: str, pbx_id: int) -> list[tuple[str, str]]:
        found = self._base(req, context) + [(vocab.PBX_ID, str(pbx_id))]
        user, domain = req.get("variable_user_name"), req.get("variable_domain_name")
        if not (user and domain):
            return found + [(vocab.SOURCE, vocab.SOURCE_INTERNAL)]
        account = await _platform(SipAccounts, self.db).find_one(
            {"domain": domain.lower(), "login": user.lower()}, {"pbx_id": 1, "employee_id": 1, "login": 1,
                                                                "domain": 1})
        if account is None or account.get("pbx_id") != pbx_id:
            log.warning("xml_curl dialplan: caller %s@%s is not a SIP account of PBX %s (call %s); "
                        "routing without user variables", user[:64], domain[:64], pbx_id, req.unique_id)
            return found + [(vocab.SOURCE, vocab.SOURCE_INTERNAL)]
        found += [(vocab.SOURCE, vocab.SOURCE_SIP_USER), (vocab.DOMAIN, account["domain"]),
                  (vocab.USER, account["login"]), (vocab.SIP_ACCOUNT_ID, account["_id"])]
        if account.get("employee_id"):
            found.append((vocab.EMPLOYEE_ID, account["employee_id"]))
        return found

    async def _public_call(self, req: XmlCurlRequest) -> list[tuple[str, str]] | None:
        base = self._base(req, PUBLIC_CONTEXT)
        dest = req.destination_number
        owner = gateway_owner(req.get("variable_sip_gateway_name") or req.get("variable_sip_gateway"))
        if owner is not None:
            kind, oid = owner
            if kind == "number":
                number = await _platform(Numbers, self.db).find_one({"_id": oid})
                if number is not None:
                    return base + self._number_vars(number)
            else:
                trunk = await _platform(Trunks, self.db).find_one({"_id": oid})
                if trunk is not None:
                    return base + self._trunk_vars(trunk, dest)
        source_ip = req.get("variable_sip_network_ip") or req.get("variable_sip_received_ip")
        if source_ip:
            trunk = await self._trunk_by_address(source_ip, req.get("variable_sip_network_port"), dest)
            if trunk is not None:
                return base + self._trunk_vars(trunk, dest)
        if dest:
            number = await _platform(Numbers, self.db).find_one({"number": dest[1:] if dest.startswith("+") else dest})
            if number is not None:
                return base + self._number_vars(number)
            host = (req.get("variable_sip_req_host") or req.get("variable_sip_to_host")).lower()
            if host:
                number = await _platform(Numbers, self.db).find_one({"sip_address": f"{dest.lower()}@{host}"})
                if number is not None:
                    return base + self._number_vars(number)
        return None

    async def _trunk_by_address(self, ip: str, port: str, dest: str) -> dict | None:
        """The trunk whose host is the INVITE's source address; among several trunks on one host
        (different ports) the one on the source port, else the one owning the number dialled."""
        trunks = await _platform(Trunks, self.db).find({"host": ip}, sort=[("port", 1), ("_id", 1)])
        if len(trunks) <= 1:
            return trunks[0] if trunks else None
        for trunk in trunks:
            if port and str(trunk.get("port")) == port:
                return trunk
        for trunk in trunks:
            if any(n.get("number") == dest for n in trunk.get("numbers") or ()):
                return trunk
        log.warning("xml_curl dialplan: %d trunks on %s, none on port %s or with number %s; taking the first",
                    len(trunks), ip, port, dest[:40])
        return trunks[0]

    @staticmethod
    def _number_vars(number: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(vocab.SOURCE, vocab.SOURCE_NUMBER), (vocab.PBX_ID, str(number["pbx_id"])),
                (vocab.NUMBER_ID, number["_id"]), (vocab.NUMBER, number["number"]),
                (vocab.NUMBER_KIND, number.get("kind") or "")]

    @staticmethod
    def _trunk_vars(trunk: Mapping[str, Any], dest: str) -> list[tuple[str, str]]:
        found = [(vocab.SOURCE, vocab.SOURCE_TRUNK), (vocab.PBX_ID, str(trunk["pbx_id"])),
                 (vocab.TRUNK_ID, trunk["_id"])]
        entry = next((n for n in trunk.get("numbers") or () if dest and n.get("number") == dest), None)
        if entry is not None:
            found.append((vocab.NUMBER, dest))
            if entry.get("receive") and entry.get("scheme_id"):  # the scheme bound to it (D §5.3.2)
                found.append((vocab.SCHEME_ID, entry["scheme_id"]))
        return found


def _safe(pairs: Iterable[tuple[str, str]], req: XmlCurlRequest) -> list[tuple[str, str]]:
    """Drop (and log) values FreeSWITCH would expand or split; the call flow then reads the
    channel's own fields. Stored ids, numbers and logins always pass."""
    out = []
    for name, value in pairs:
        if value and SAFE_VALUE.match(value):
            out.append((name, value))
        elif value:
            log.warning("xml_curl dialplan: not copying %s=%r into the dialplan (call %s)",
                        name, value[:80], req.unique_id)
    return out


# --- configuration ----------------------------------------------------------------------------
def _split_sip_address(address: str | None) -> tuple[str | None, str | None]:
    """``(user, domain)`` of a stored ``[sip:]user@host[:port]`` (the port kept: it is part of the
    registrar's address), (None, None) when absent."""
    if not address or "@" not in address:
        return None, None
    text = address.split(":", 1)[1] if address.lower().startswith(("sip:", "sips:")) else address
    user, _, host = text.partition("@")
    host = host.split(";", 1)[0]
    if host.endswith(":5060"):
        host = host[:-len(":5060")]
    return user or None, host or None


def sofia_gateway(g: Mapping[str, Any]) -> SofiaGateway:
    """A gateway of the read model (:func:`esl_control.model.provisioning.gateways`) as mod_sofia
    takes it; raises XmlBuildError (naming it) when it cannot be a valid gateway."""
    proxy = f"{g['host']}:{int(g['port'])}" if "host" in g else g.get("proxy")
    owner = gateway_owner(g["name"])
    if owner is None:
        raise XmlBuildError(f"gateway {g['name']!r}: not a Pult gateway name")
    pbx = str(g.get("pbx_id"))
    if g["kind"] == "active_sip":
        if not g.get("password"):
            raise XmlBuildError(f"gateway {g['name']}: the stored password cannot be read "
                                "(the installation secret changed?); enter it again in the cabinet")
        user, domain = _split_sip_address(g.get("sip_address"))
        # the registrar's domain as the operator gave it; a registrar on another port than 5060
        # keeps it (mod_sofia sends REGISTER and From to the realm: without it, to port 5060)
        realm = domain or (g["host"] if int(g["port"]) == 5060 else f"{g['host']}:{int(g['port'])}")
        gw = SofiaGateway(
            name=g["name"], proxy=proxy, register=True, username=g["username"], password=g["password"],
            realm=realm, from_user=user or g["username"], from_domain=realm,
            expire_seconds=REGISTER_EXPIRE_SECONDS, retry_seconds=REGISTER_RETRY_SECONDS,
            context=PUBLIC_CONTEXT, extension=g["number"],
            variables={vocab.PBX_ID: pbx, vocab.NUMBER_ID: owner[1], vocab.NUMBER: g["number"]})
    elif g["kind"] == "platform":
        # the operator's upstream carrier: the engine dials external numbers through it; calls
        # from it (if the carrier sends any) land in the public context like a trunk's
        if g.get("password_unreadable"):
            raise XmlBuildError(f"gateway {g['name']}: the stored password cannot be read "
                                "(the installation secret changed?); enter it again in the operator console")
        realm = g.get("realm") or g["proxy"]
        # From's domain without the port: mod_sofia puts a host:port from-domain in brackets
        # (taken for an IPv6 address: "sip:user@[127.0.0.1:5080]", seen on the real switch)
        from_domain = realm if realm.startswith("[") else realm.rsplit(":", 1)[0]
        gw = SofiaGateway(
            name=g["name"], proxy=g["proxy"], register=bool(g.get("register")),
            username=g.get("username"), password=g.get("password"), realm=realm,
            from_user=g.get("username"), from_domain=from_domain,
            expire_seconds=REGISTER_EXPIRE_SECONDS if g.get("register") else None,
            retry_seconds=REGISTER_RETRY_SECONDS if g.get("register") else None,
            caller_id_in_from=bool(g.get("caller_id_in_from", True)),
            register_transport=g.get("transport") or "udp", context=PUBLIC_CONTEXT)
    elif g["kind"] == "trunk":
        gw = SofiaGateway(
            name=g["name"], proxy=proxy, register=False, ping=g.get("ping"), caller_id_in_from=True,
            context=PUBLIC_CONTEXT, codecs=tuple(g.get("codecs") or ()),
            variables={vocab.PBX_ID: pbx, vocab.TRUNK_ID: owner[1]})
    else:
        raise XmlBuildError(f"gateway {g['name']}: unknown kind {g['kind']!r}")
    gw.params()  # validate now, so one bad record is left out rather than failing sofia.conf
    gw.channel_variables()
    return gw


def _networks(items: str | Iterable[str], what: str) -> tuple[str, ...]:
    return tuple(str(net) for net in parse_networks(items, what))


class TenantConfiguration:
    """The ``configuration`` providers (see the module docstring); :meth:`provider` dispatches
    on the .conf asked for."""

    def __init__(self, db, *, settings=None, box=None, sofia_profiles: Sequence[SofiaProfile] = DEFAULT_PROFILES,
                 gateway_profile: str = GATEWAY_PROFILE,
                 global_settings: Mapping[str, object] | None = None,
                 esl_clients: Iterable[str] = LOOPBACK_ESL_CLIENTS):
        names = [p.name for p in sofia_profiles]
        if gateway_profile not in names:
            raise ValueError(f"gateway profile {gateway_profile!r} is not among the sofia profiles "
                             f"({', '.join(names)})")
        self.db = db
        self.settings = settings
        self._box = box
        self.sofia_profiles = tuple(sofia_profiles)
        self.gateway_profile = gateway_profile
        self.global_settings = dict(DEFAULT_GLOBAL_SETTINGS if global_settings is None else global_settings)
        self.esl_clients = _networks(esl_clients, "ESL clients (pult_esl)")
        self._prompts = None  # the prompt set, made at the first room with a PIN
        if not self.esl_clients:
            raise ValueError("ESL clients (pult_esl): at least one address is needed, "
                             "or no Pult server could connect to FreeSWITCH")

    def provider(self) -> Provider:
        return by_conf_name({"sofia.conf": self.sofia, "acl.conf": self.acl,
                             "conference.conf": self.conference, POST_LOAD_SWITCH_CONF: self.post_load_switch})

    @property
    def box(self):
        if self._box is None:
            from esl_control.model.crypto import SecretBox
            self._box = SecretBox.from_settings(self.settings)
        return self._box

    async def gateways(self) -> list[SofiaGateway]:
        """Every tenant gateway that can be served (bad records logged and left out)."""
        rows = await provisioning.gateways(self.db, self.box)
        out = []
        for g in rows:
            try:
                out.append(sofia_gateway(g))
            except (XmlBuildError, KeyError, TypeError, ValueError) as exc:
                log.error("xml_curl sofia.conf: leaving out gateway %s of PBX %s: %s",
                          g.get("name"), g.get("pbx_id"), exc)
        return out

    def node_for(self, req: XmlCurlRequest):
        """The configured node asking (by ``FreeSWITCH-Switchname``, else ``hostname``; the only
        node when there is one), or None."""
        nodes = list(getattr(self.settings, "nodes", None) or [])
        for key in (req.get("FreeSWITCH-Switchname"), req.hostname):
            for node in nodes:
                if key and node.name == key:
                    return node
        if len(nodes) == 1:
            return nodes[0]
        if nodes:
            log.warning("xml_curl sofia.conf: node %r/%r is not among the configured nodes (%s); "
                        "serving the default SIP addresses", req.get("FreeSWITCH-Switchname"),
                        req.hostname, ", ".join(n.name for n in nodes))
        return None

    async def sofia(self, req: XmlCurlRequest) -> str:
        gateways = await self.gateways()
        profiles = [replace(p, gateways=tuple(p.gateways) + tuple(gateways)) if p.name == self.gateway_profile else p
                    for p in self.sofia_profiles]
        node = self.node_for(req)
        if node is not None:
            # a rescan gets what each profile loaded at its start (its socket stays bound there)
            addresses = await node_sip.profile_settings_for(
                self.db, node, req.get("profile") or None, rescan=req.get("reconfig").lower() == "true")
            profiles = list(with_settings(profiles, **{name: value for name, value in addresses.items()
                                                       if name in {p.name for p in profiles}}))
        return build_sofia_conf(profiles, self.global_settings)

    async def post_load_switch(self, req: XmlCurlRequest) -> str | None:
        """The node's RTP port range (its SIP settings), or "not found" when it has none: the
        range of the switch's own ``switch.conf`` stays."""
        node = self.node_for(req)
        if node is None:
            return None
        core = await node_sip.core_settings_for(self.db, node)
        return build_post_load_switch_conf(core) if core else None

    async def acl_lists(self) -> list[AclList]:
        """``pult_esl``, ``lan``, ``domains``, ``pult_trunks`` and one list per restricted PBX."""
        data = await provisioning.acl_entries(self.db)
        trunk_nets = set()
        for t in data["trunks"]:
            try:
                trunk_nets.add(ipaddress.ip_network(t["host"]))
            except ValueError:
                log.error("xml_curl acl.conf: trunk %s of PBX %s has host %r, not an address; left out",
                          t.get("trunk_id"), t.get("pbx_id"), t.get("host"))
        lists = [allow_list(vocab.ESL_ACL, self.esl_clients), LAN_LIST, AclList("domains", "deny"),
                 allow_list(vocab.TRUNKS_ACL, [str(n) for n in sorted(trunk_nets, key=lambda n: (n.version, n))])]
        for wl in data["sip_whitelists"]:
            name = whitelist_list_name(wl["pbx_id"])
            try:
                lists.append(allow_list(name, whitelist_to_cidrs(wl["entries"])))
            except WhitelistEntryError as exc:
                log.error("xml_curl acl.conf: SIP whitelist of PBX %s cannot be converted (%s); "
                          "serving it empty (deny all)", wl["pbx_id"], exc)
                lists.append(AclList(name, "deny"))
        return lists

    async def acl(self, req: XmlCurlRequest) -> str:
        return build_acl_conf(await self.acl_lists())

    async def conference(self, req: XmlCurlRequest) -> str | None:
        profile = req.get("profile_name") or req.get("Conf-Profile")
        match = _ROOM_PROFILE.match(profile)
        if match is None:
            return None  # FreeSWITCH's own conference.conf answers (load-time read, stock profiles)
        room = await _platform(ConferenceRooms, self.db).find_one({"_id": match.group(1)})
        if room is None:
            log.warning("xml_curl conference.conf: no room %s (conference %s)", match.group(1),
                        req.get("conference_name") or req.get("Conf-Name"))
            return None
        pin_sounds = None
        if room.get("pin"):
            pin_sounds = await self._pin_sounds(room)
        return build_conference_conf([room_profile(room, pin_sounds)], [DEFAULT_CONTROLS])

    async def _pin_sounds(self, room: Mapping[str, Any]) -> tuple[str, str] | None:
        """The PIN prompt and the wrong-PIN phrase in the room's PBX's language (the prompt set).
        Without them mod_conference plays ``conference/conf-pin.wav`` from the node's sounds,
        and where no sound package is installed it hangs every caller of the room up ("Cannot
        ask the user for a pin, ending call", DESTINATION_OUT_OF_ORDER)."""
        from esl_control.prompts import LANGS, PromptSet

        if self._prompts is None:
            self._prompts = PromptSet.from_settings(self.settings)
        pbx = await get_pbx(self.db, room.get("pbx_id")) or {}
        lang = pbx.get("language") if pbx.get("language") in LANGS else "ru"
        try:
            return (self._prompts.phrase_file("conference_pin", lang),
                    self._prompts.phrase_file("conference_bad_pin", lang))
        except LookupError as exc:
            log.error("xml_curl conference.conf: room %s: %s", room.get("_id"), exc)
            return None


#: how many times mod_conference asks for a room's PIN before it refuses the caller
PIN_RETRIES = 3


def room_profile(room: Mapping[str, Any], pin_sounds: tuple[str, str] | None = None) -> ConferenceProfile:
    """A room's conference profile: ``max-members`` = seats. The PIN itself stays with the call
    flow (it asks only the callers the room's ``pin_for`` names: ``conference <room>+<pin>``);
    the profile says how it is asked: ``pin_sounds`` (the prompt, the wrong-PIN phrase) and
    :data:`PIN_RETRIES` tries, after which the caller is refused."""
    params: dict[str, object] = {"interval": 20, "energy-level": 100, "comfort-noise": True,
                                 "pin-retries": PIN_RETRIES}
    if pin_sounds is not None:
        params["pin-sound"], params["bad-pin-sound"] = pin_sounds
    return ConferenceProfile(name=room_profile_name(room["_id"]), max_members=int(room["seats"]), rate=8000,
                             caller_controls=DEFAULT_CONTROLS.name, params=params)


# --- wiring -----------------------------------------------------------------------------------
def esl_clients_from(settings) -> tuple[str, ...]:
    """``pult_esl``: loopback, plus the CIDRs of an ``esl_acl`` setting when the installation has
    one (Pult servers on other hosts than their FreeSWITCH)."""
    return LOOPBACK_ESL_CLIENTS + _networks(getattr(settings, "esl_acl", "") or "", "PULT_ESL_ACL")


def tenant_providers(settings, db, *, socket_address=None, box=None,
                     sofia_profiles: Sequence[SofiaProfile] = DEFAULT_PROFILES,
                     gateway_profile: str = GATEWAY_PROFILE, esl_clients: Iterable[str] | None = None,
                     contexts: Iterable[str] = DEFAULT_CONTEXTS, reject_unknown: bool = True) -> Providers:
    """Directory, dialplan and configuration providers over the store ``db``.

    ``socket_address`` as for :meth:`fs_config.providers.Providers.default` (a pair or a callable;
    default ``PULT_OUTBOUND_HOST:PORT``). ``box`` decrypts active SIP passwords (default: from
    ``settings``). Raises ValueError for a wildcard outbound host, a bad ESL client CIDR or a
    gateway profile that is not among ``sofia_profiles``.
    """
    base = Providers.default(settings, socket_address=socket_address, contexts=contexts)
    configuration = TenantConfiguration(
        db, settings=settings, box=box, sofia_profiles=sofia_profiles, gateway_profile=gateway_profile,
        esl_clients=esl_clients_from(settings) if esl_clients is None else esl_clients)
    directory = TenantDirectory(db)
    # one kept state per PBX for both: a call's dialplan lookup and its phones' directory lookups
    return replace(base, directory=directory,
                   dialplan=TenantDialplan(db, base.dialplan, reject_unknown=reject_unknown,
                                           states=directory.states),
                   configuration=configuration.provider())

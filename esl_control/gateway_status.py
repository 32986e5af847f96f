"""Live status of the tenants' gateways (active SIP numbers, SIP trunks), from FreeSWITCH.

    watcher = GatewayStatusWatcher(store.db, esl.nodes)
    watcher.attach()          # events + (re)connect resync on every node
    ...
    await watcher.close()

mod_sofia reports a gateway's life as ``CUSTOM`` events (mod_sofia 1.10, ``sofia_reg.c``):

- ``sofia::gateway_state``: ``Gateway``, ``State`` (registration: UNREGED, TRYING, REGISTER,
  REGED, UNREGISTER, FAILED, FAIL_WAIT, EXPIRED, NOREG, DOWN, TIMEOUT), ``Ping-Status`` (the
  OPTIONS ping verdict: UP, DOWN, INVALID) and, after a SIP answer, ``Status`` (its code) and
  ``Phrase``. It fires on every registration step and whenever the ping verdict flips;
- ``sofia::gateway_add`` / ``sofia::gateway_delete``: ``Gateway``, ``profile-name`` (a gateway
  loaded by a profile start/rescan, or removed by ``killgw`` / a profile stop).

The events only come to connections subscribed to those subclasses, and nothing is sent for the
time Pult was not connected: so on every node (re)connect the watcher adds the subscription on
that connection (``event plain CUSTOM sofia::gateway_state …`` adds to what the connection
already receives) and then asks the node for every gateway's current state with ``sofia
xmlstatus gateway`` (or, if that answer cannot be read, ``sofia status gateway``, which has the
registration state but not the ping verdict).

What is written (platform scope, through the telephony repositories) on the number or trunk
document the gateway belongs to (``pult_num_<id>`` / ``pult_trunk_<id>``; other gateways are
ignored): ``status`` (``up`` | ``down`` | ``unknown``, the values the trunk/number services
use), ``status_since`` (when it last changed), ``status_error`` (why it is down, else None),
``status_at`` (last report), ``status_detail`` (FreeSWITCH's words: ``REGED``,
``NOREG, ping UP``…) and ``status_node``. The services return the whole document, so the
cabinet and the API show these fields. How a report becomes a status is :func:`judge`:

- a registering gateway (active SIP number) is ``up`` when REGED and ``down`` after FAILED,
  FAIL_WAIT, EXPIRED, TIMEOUT or DOWN (the error names the SIP answer when there was one); the
  steps in between (TRYING, REGISTER, UNREGED, UNREGISTER) keep the status and only update
  the detail;
- a trunk (``register=false``) is ``up``/``down`` by its OPTIONS ping; a trunk without
  ``options_ping`` is ``unknown`` (FreeSWITCH has no way to know);
- a gateway removed from the node is ``unknown``.

With several nodes the last report wins and ``status_node`` says which node made it.

FreeSWITCH reads gateways and ACLs only when told to, so the watcher also *reconciles* every
node (after each connect and every ``reconcile_interval`` seconds, :meth:`GatewayStatusWatcher.
reconcile`): gateways of the store missing on the node → ``sofia profile external rescan`` (it
fetches sofia.conf from Pult again and adds them); ``pult_*`` gateways the store no longer has,
or whose address or stored settings changed → ``sofia profile external killgw <name>`` (then
rescan: a killed gateway is gone a moment later, so a changed one may come back on the next
round); trunk addresses or SIP whitelists changed → ``reloadacl``. Gateways that are not Pult's
are never touched.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping

from esl_control.model.vocabulary import (GATEWAY_PROFILE, gateway_owner, number_gateway, platform_gateway,
                                          trunk_gateway)
from pult.clock import now as clock_now
from pult.observability import get_logger
from storage.repos.base import Scope
from storage.repos.telephony import Numbers, Trunks
from storage.repos.tenants import stored_platform_gateways

from .transport.errors import EslError
from .transport.protocol import EslEvent

log = get_logger(__name__)

__all__ = ["GATEWAY_EVENTS", "GatewayReport", "GatewayStatusStore", "GatewayStatusWatcher", "Verdict",
           "judge", "parse_gateway_event", "parse_text_status", "parse_xml_status"]

#: The CUSTOM subclasses the watcher subscribes to.
GATEWAY_EVENTS = ("sofia::gateway_state", "sofia::gateway_add", "sofia::gateway_delete")
UP, DOWN, UNKNOWN = "up", "down", "unknown"
#: Registration states after which a registering gateway cannot carry calls.
DOWN_STATES = frozenset({"FAILED", "FAIL_WAIT", "EXPIRED", "TIMEOUT", "DOWN"})
#: Registration steps that change nothing yet.
TRANSITIONAL_STATES = frozenset({"UNREGED", "TRYING", "REGISTER", "UNREGISTER"})
#: mod_sofia's registration state names (``sofia_state_names``).
REG_STATES = DOWN_STATES | TRANSITIONAL_STATES | {"REGED", "NOREG"}
XML_STATUS_COMMAND = "sofia xmlstatus gateway"
TEXT_STATUS_COMMAND = "sofia status gateway"
#: How often each node's gateways and ACLs are compared with the store (seconds).
DEFAULT_RECONCILE_INTERVAL = 30.0


@dataclass(frozen=True)
class GatewayReport:
    """What FreeSWITCH said about one gateway (an event or a line of a status listing)."""

    gateway: str
    state: str = ""            # registration state (sofia_state_names), "" when not said
    ping_status: str = ""      # UP | DOWN | INVALID, "" when not said
    profile: str = ""
    sip_status: int | None = None
    phrase: str = ""
    removed: bool = False
    added: bool = False
    proxy: str = ""            # sofia's register proxy (``sip:host:port``), listings only


@dataclass(frozen=True)
class Verdict:
    """The status to write (None: keep the current one), why it is down, and the raw detail."""

    status: str | None
    error: str | None
    detail: str


def parse_gateway_event(event: EslEvent) -> GatewayReport | None:
    """A report from a ``sofia::gateway_*`` event; None for other events or one with no gateway."""
    kind = event.key
    if kind not in GATEWAY_EVENTS:
        return None
    name = (event.get("Gateway") or "").strip()
    if not name:
        return None
    profile = event.get("profile-name") or ""
    if kind == "sofia::gateway_add":
        return GatewayReport(name, profile=profile, added=True)
    if kind == "sofia::gateway_delete":
        return GatewayReport(name, profile=profile, removed=True)
    status = event.get("Status") or ""
    return GatewayReport(name, state=(event.get("State") or "").upper(),
                         ping_status=(event.get("Ping-Status") or "").upper(), profile=profile,
                         sip_status=int(status) if status.isdigit() else None,
                         phrase=(event.get("Phrase") or "").strip())


_XML_BLOCK = re.compile(r"<gateway>(.*?)</gateway>", re.S)
_XML_FIELD = re.compile(r"<(name|profile|state|status|proxy)>(.*?)</\1>", re.S)


def parse_xml_status(text: str) -> list[GatewayReport]:
    """Parse ``sofia xmlstatus gateway``. Read with patterns, not an XML parser: mod_sofia does
    not escape every field (a realm or proxy with ``&`` would break a strict parser), and only
    name/profile/state/status are needed. Raises ValueError when ``text`` is not that listing
    (``-ERR …``, a module not loaded…)."""
    body = text.strip()
    if "<gateways>" not in body or "</gateways>" not in body:
        raise ValueError(f"not a sofia xmlstatus gateway listing: {body[:80]!r}")
    out = []
    for block in _XML_BLOCK.findall(body):
        fields = {k: v.strip() for k, v in _XML_FIELD.findall(block)}
        if fields.get("name"):
            out.append(GatewayReport(fields["name"], state=fields.get("state", "").upper(),
                                     ping_status=fields.get("status", "").upper(),
                                     profile=fields.get("profile", ""), proxy=fields.get("proxy", "")))
    return out


def parse_text_status(text: str) -> list[GatewayReport]:
    """Parse ``sofia status gateway``: ``profile::name<TAB>data<TAB>STATE<TAB>ping time<TAB>…``
    between the ``====`` rules. It carries no ping verdict (``ping_status`` stays "").
    Raises ValueError when ``text`` is not that listing."""
    lines = text.splitlines()
    if not lines or "Profile::Gateway-Name" not in lines[0]:
        raise ValueError(f"not a sofia status gateway listing: {text.strip()[:80]!r}")
    out = []
    for line in lines[1:]:
        if line.startswith("===") or "\t" not in line:
            continue
        cols = [c.strip() for c in line.split("\t")]
        key, state = cols[0], cols[2].split(" ", 1)[0].upper() if len(cols) > 2 else ""
        profile, sep, name = key.partition("::")
        if sep and name and state in REG_STATES:
            out.append(GatewayReport(name, state=state, profile=profile, proxy=""))
    return out


def _sip_reason(report: GatewayReport) -> str:
    if report.sip_status and report.phrase:
        return f" ({report.sip_status} {report.phrase})"
    if report.sip_status or report.phrase:
        return f" ({report.sip_status or report.phrase})"
    return ""


def judge(report: GatewayReport, *, registers: bool, pings: bool) -> Verdict:
    """How a report changes the status of a gateway that ``registers`` (active SIP number) or
    not (trunk; ``pings`` when OPTIONS ping is on). See the module docstring."""
    where = f" in profile {report.profile}" if report.profile else ""
    if report.removed:
        return Verdict(UNKNOWN, None, f"removed{where}")
    if report.added:
        return Verdict(None, None, f"loaded{where}")
    state, ping = report.state, report.ping_status
    detail = ", ".join(p for p in (state, f"ping {ping}" if ping and (pings or not registers) else "") if p)
    if registers:
        if state == "REGED":
            return Verdict(UP, None, detail)
        if state in DOWN_STATES:
            return Verdict(DOWN, f"registration {state.lower().replace('_', ' ')}{_sip_reason(report)}", detail)
        return Verdict(None, None, detail)
    if not pings:
        return Verdict(UNKNOWN, None, detail or "no OPTIONS ping")
    if ping == "UP":
        return Verdict(UP, None, detail)
    if ping == "DOWN":
        return Verdict(DOWN, f"OPTIONS ping unanswered{_sip_reason(report)}", detail)
    return Verdict(None, None, detail)


class GatewayStatusStore:
    """Writes verdicts onto number/trunk documents (platform scope), one write at a time so the
    reports of one gateway are applied in the order they came."""

    def __init__(self, db, *, clock: Callable[[], datetime] | None = None):
        self.db = db
        self.clock = clock or clock_now
        self._lock = asyncio.Lock()

    async def apply(self, node: str, report: GatewayReport) -> bool:
        """Record ``report`` from ``node``; False when the gateway is not a Pult number or trunk."""
        owner = gateway_owner(report.gateway)
        if owner is None:
            return False
        kind, oid = owner
        if kind == "platform":  # the operator's carriers: their state is the switch's (sofia status gateway)
            return False
        repo = (Numbers if kind == "number" else Trunks)(self.db, Scope.platform())
        async with self._lock:
            doc = await repo.find_one({"_id": oid}, {"kind": 1, "options_ping": 1, "status": 1, "status_since": 1})
            if doc is None or (kind == "number" and doc.get("kind") != "active_sip"):
                log.info("gateway report for an unknown number or trunk", gateway=report.gateway, node=node)
                return False
            verdict = judge(report, registers=kind == "number", pings=bool(doc.get("options_ping")))
            now = self.clock()
            changes: dict[str, Any] = {"status_at": now, "status_detail": verdict.detail, "status_node": node}
            if verdict.status is not None:
                changes["status"] = verdict.status
                changes["status_error"] = verdict.error
                if doc.get("status") != verdict.status or not doc.get("status_since"):
                    changes["status_since"] = now
            await repo.update_one({"_id": oid}, {"$set": changes})
        if verdict.status is not None and verdict.status != doc.get("status"):
            log.info("gateway status changed", gateway=report.gateway, node=node, status=verdict.status,
                     was=doc.get("status"), error=verdict.error)
        return True


def _fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


async def desired_gateways(db) -> dict[str, tuple[str, str]]:
    """Pult gateway name → (``host:port``, fingerprint of its stored settings) for every active
    SIP number and trunk, and every enabled platform gateway. The fingerprint changes whenever the cabinet changes the gateway
    (password included, as its ciphertext), without decrypting anything."""
    out: dict[str, tuple[str, str]] = {}
    for n in await Numbers(db, Scope.platform()).find({"kind": "active_sip"},
                                                      projection={"gateway": 1, "password_enc": 1, "number": 1}):
        gw = n.get("gateway") or {}
        out[number_gateway(n['_id'])] = (f"{gw.get('host')}:{gw.get('port')}", _fingerprint(
            [gw, n.get("password_enc"), n.get("number")]))
    for t in await Trunks(db, Scope.platform()).find({}, projection={"host": 1, "port": 1, "codecs": 1,
                                                                      "options_ping": 1, "pbx_id": 1}):
        out[trunk_gateway(t['_id'])] = (f"{t['host']}:{t['port']}", _fingerprint(
            [t.get("host"), t.get("port"), t.get("codecs"), t.get("options_ping"), t.get("pbx_id")]))
    for g in await stored_platform_gateways(db):  # the operator's carriers, enabled ones
        if g.get("enabled", True) and g.get("id"):
            out[platform_gateway(g["id"])] = (str(g.get("proxy") or ""), _fingerprint(
                [g.get(k) for k in ("proxy", "realm", "username", "password_enc", "register", "transport",
                                    "caller_id_in_from")]))
    return out


async def acl_fingerprint(db) -> str:
    """A fingerprint of what acl.conf is built from (trunk addresses, SIP whitelists)."""
    from esl_control.model.provisioning import acl_entries
    return _fingerprint(await acl_entries(db))


def _bare_proxy(proxy: str) -> str:
    """``sip:host:port;params`` → ``host:port`` (mod_sofia's register proxy as it lists it)."""
    text = proxy.strip()
    for scheme in ("sip:", "sips:"):
        if text.lower().startswith(scheme):
            text = text[len(scheme):]
    return text.split(";", 1)[0].lower()


class GatewayStatusWatcher:
    """Subscribes every node to the gateway events, keeps the documents up to date and the
    nodes' gateways and ACLs in line with the store (see the module docstring).
    ``nodes`` is an :class:`esl_control.nodes.NodeManager`; ``reconcile_interval=None`` turns the
    periodic reconcile off (it still runs after each connect)."""

    def __init__(self, db, nodes, *, clock: Callable[[], datetime] | None = None,
                 reconcile_interval: float | None = DEFAULT_RECONCILE_INTERVAL,
                 gateway_profile: str = GATEWAY_PROFILE):
        self.db = db
        self.nodes = nodes
        self.store = GatewayStatusStore(db, clock=clock)
        self.reconcile_interval = reconcile_interval
        self.gateway_profile = gateway_profile
        self._tasks: set[asyncio.Task] = set()
        self._attached = False
        self._seen: dict[str, dict[str, str]] = {}   # node → gateway → fingerprint last reconciled
        self._acl: dict[str, str] = {}                # node → ACL fingerprint last loaded
        self._last_error: dict[str, str] = {}

    def attach(self) -> None:
        """Register the event handlers and the node-up hook; nodes already up are synced now."""
        if self._attached:
            return
        self._attached = True
        for key in GATEWAY_EVENTS:
            self.nodes.on_event(key, self.handle_event)
        self.nodes.on_state_change(self._on_node_state)
        for node in self.nodes.up_nodes():
            self._spawn(self.on_node_up(node.name))
        if self.reconcile_interval:
            self._spawn(self._reconcile_loop(self.reconcile_interval))

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _on_node_state(self, snapshot: Mapping[str, Any]) -> None:
        if snapshot.get("state") == "up":
            self._spawn(self.on_node_up(snapshot["name"]))

    async def handle_event(self, node: str, event: EslEvent) -> None:
        """A ``sofia::gateway_*`` event from ``node``."""
        report = parse_gateway_event(event)
        if report is None:
            return
        try:
            await self.store.apply(node, report)
        except Exception:
            log.exception("could not record a gateway event", node=node, gateway=report.gateway)
        if report.added and gateway_owner(report.gateway):
            # mod_sofia reports a gateway's state only when it changes: one that is up from the
            # start would stay "unknown" (found on the real switch); read it once it is loaded
            self._spawn(self._resync_soon(node))

    async def _resync_soon(self, node: str, delay: float = 1.0) -> None:
        await asyncio.sleep(delay)
        try:
            await self.resync(node)
        except Exception as exc:
            log.warning("gateway status read after a gateway was added failed", node=node, error=str(exc))

    async def on_node_up(self, node: str) -> int:
        """Subscribe the node's connection to the gateway events, then record every gateway's
        current state; returns how many Pult gateways were recorded (0 if the node went away)."""
        conn = self.nodes.connection(node)
        if conn is None:
            return 0
        self._seen.pop(node, None)  # what a (re)started node loaded is not known: reconcile afresh
        self._acl.pop(node, None)
        recorded = 0
        try:
            await conn.subscribe(("CUSTOM",) + GATEWAY_EVENTS)
            recorded = await self.resync(node)
        except (EslError, OSError, ValueError) as exc:  # node gone, or neither listing readable
            log.warning("gateway status sync failed; retried on the next connect", node=node, error=str(exc))
        except Exception:
            log.exception("gateway status sync failed", node=node)
        await self.reconcile_quietly(node)
        return recorded

    async def resync(self, node: str) -> int:
        """Ask ``node`` for every gateway's state and record the Pult ones. Raises ValueError
        when neither listing can be read, EslError when the node does not answer."""
        reports = await self.listing(node)
        recorded = 0
        for report in reports:
            recorded += await self.store.apply(node, report)
        return recorded

    async def listing(self, node: str) -> list[GatewayReport]:
        """The node's gateways: ``sofia xmlstatus gateway``, else ``sofia status gateway``."""
        try:
            return parse_xml_status(await self.nodes.api(node, XML_STATUS_COMMAND))
        except ValueError as exc:
            log.debug("sofia xmlstatus unreadable, using sofia status", node=node, error=str(exc))
            return parse_text_status(await self.nodes.api(node, TEXT_STATUS_COMMAND))

    async def reconcile(self, node: str) -> list[str]:
        """Bring ``node``'s Pult gateways and ACLs in line with the store; returns the API
        commands sent (see the module docstring)."""
        on_node = {r.gateway: r for r in await self.listing(node) if gateway_owner(r.gateway)}
        desired = await desired_gateways(self.db)
        seen = self._seen.get(node)
        missing = [g for g in desired if g not in on_node]
        kill = [g for g in on_node if g not in desired]
        for g, (address, fp) in desired.items():
            report = on_node.get(g)
            if report is None:
                continue
            moved = bool(report.proxy) and _bare_proxy(report.proxy) != address.lower()
            edited = seen is not None and seen.get(g) not in (None, fp)
            if moved or edited:
                kill.append(g)
        sent = []
        for g in kill:
            sent.append(f"sofia profile {on_node[g].profile or self.gateway_profile} killgw {g}")
        if missing or any(g in desired for g in kill):
            sent.append(f"sofia profile {self.gateway_profile} rescan")
        acl = await acl_fingerprint(self.db)
        if self._acl.get(node) != acl:
            sent.append("reloadacl")
        for command in sent:
            await self.nodes.api(node, command)
        self._seen[node] = {g: fp for g, (_, fp) in desired.items()}
        self._acl[node] = acl
        if sent:
            log.info("gateways and ACLs reconciled", node=node, commands=sent)
        return sent

    async def reconcile_quietly(self, node: str) -> list[str]:
        """:meth:`reconcile`, with failures logged once per distinct error (a node that cannot
        list its gateways would otherwise log every round)."""
        try:
            sent = await self.reconcile(node)
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
            if self._last_error.get(node) != message:
                self._last_error[node] = message
                log.warning("gateway reconcile failed; retried every round", node=node, error=message)
            return []
        self._last_error.pop(node, None)
        return sent

    async def _reconcile_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for node in self.nodes.up_nodes():
                await self.reconcile_quietly(node.name)
                try:  # and every gateway's state, in case an event was missed
                    await self.resync(node.name)
                except Exception as exc:
                    log.warning("gateway status resync failed", node=node.name, error=str(exc))

    async def close(self) -> None:
        """Cancel the syncs still running (the handlers stay registered on the stopped manager)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

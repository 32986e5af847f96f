"""Inbound ESL to every FreeSWITCH node: connect, authenticate, subscribe, stay connected.

    manager = NodeManager(settings, hub)
    manager.on_event("CHANNEL_HANGUP_COMPLETE", handler)   # handler(node_name, event)
    manager.on_state_change(callback)                     # callback(node_snapshot_dict)
    await manager.start()
    manager.snapshot()          # [{"name", "state", "last_error", "since", "reconnects", ...}]
    await manager.api("fs1", "status")
    await manager.stop()

Each node has one supervisor task: connect → ``up`` (subscribed, ``status`` read) → wait for
the socket to close → ``down`` → retry after an exponential back-off with jitter between
``esl_reconnect_min`` and ``esl_reconnect_max``. A switch that stops answering keeps its socket
open (a hung process, ``kill -STOP``: found on the real switch), so while a node is up a heartbeat
(``api status`` every ``esl_heartbeat_interval`` seconds) must be answered within
``esl_heartbeat_timeout``; otherwise the node is marked ``down`` ("not answering"), its connection
closed (no new work goes to it) and reconnected like any lost node, so it comes back by itself
once it answers again. A wrong password puts the node in
``auth_failed`` with a message naming it, and is retried at the slow end of the back-off (an
operator may fix the password on the FreeSWITCH side). Subscriptions are made anew on every
connection, so a node that comes back resumes where Pult needs it.
"""
from __future__ import annotations

import asyncio
import inspect
import json
import random
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable

from pult import clock
from pult.observability import CALLS_IN_PROGRESS, ESL_EVENTS, ESL_NODE_UP, ESL_RECONNECTS, get_logger
from pult.settings import FsNode, Settings

from .transport.connection import EslConnection, in_background
from .transport.errors import EslAuthError, EslError, EslNotConnected
from .transport.hub import GeventThread
from .transport.protocol import EslEvent

log = get_logger(__name__)

__all__ = ["NodeManager", "NodeState", "NodeStatus", "SUBSCRIBED_EVENTS", "parse_uptime",
           "backoff_delay"]

#: What Pult listens to on every node (the list the traces were recorded with).
SUBSCRIBED_EVENTS: tuple[str, ...] = (
    "CHANNEL_CREATE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_ANSWER",
    "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE",
    "CHANNEL_PARK", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_DESTROY", "DTMF",
    "PLAYBACK_START", "PLAYBACK_STOP", "RECORD_START", "RECORD_STOP", "BACKGROUND_JOB",
    "CUSTOM", "conference::maintenance", "spandsp::txfaxresult", "spandsp::rxfaxresult",
    "spandsp::txfaxpageresult", "spandsp::rxfaxpageresult", "spandsp::txfaxnegociateresult",
    "spandsp::rxfaxnegociateresult",
)

#: The events whose fields are kept for a call in progress (fully parsed: keep the list short);
#: plus CHANNEL_EXECUTE of ``socket``, which carries the dialplan's ``pult_*`` variables.
_CALL_STATE_EVENTS = frozenset({"CHANNEL_CREATE", "CHANNEL_ANSWER", "CHANNEL_BRIDGE"})

NodeEventHandler = Callable[[str, EslEvent], Any]
StateCallback = Callable[[dict], Any]
LostCallsCallback = Callable[[str, list[dict]], Any]

#: What Pult keeps of each call in progress, from its events (or ``show channels``), so a call
#: that vanishes with a crashed node can still be closed with what was known.
CALL_FIELDS = ("Unique-ID", "Core-UUID", "Channel-Call-UUID", "Call-Direction", "Channel-Name",
               "Caller-Caller-ID-Number", "Caller-Caller-ID-Name", "Caller-Destination-Number",
               "Caller-Context", "Caller-Channel-Created-Time", "Caller-Channel-Answered-Time",
               "Channel-State", "Channel-Call-State", "Answer-State", "variable_pult_pbx_id",
               "variable_pult_context", "variable_pult_destination_number", "variable_pult_node",
               "variable_pult_source", "variable_pult_number", "variable_pult_user",
               "variable_pult_domain",
               # a leg the switch originated from a call is recorded as that call's leg
               # (esl_control.cdr.leg_of), also when it is lost with its node
               "variable_originator", "variable_originating_leg_uuid", "Other-Type", "Other-Leg-Unique-ID",
               "variable_pult_target", "variable_pult_via_trunk")


class NodeState(str, Enum):
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"
    AUTH_FAILED = "auth_failed"
    STOPPED = "stopped"


@dataclass
class NodeStatus:
    """What the web layer shows about one node (see :meth:`NodeManager.snapshot`)."""

    name: str
    host: str
    port: int
    weight: int
    state: NodeState = NodeState.CONNECTING
    last_error: str | None = None
    since: datetime = field(default_factory=clock.now)
    reconnects: int = 0
    connected_at: datetime | None = None
    fs_uptime_s: float | None = None  # FreeSWITCH's own uptime, from `status`
    fs_version: str | None = None
    calls_in_progress: int = 0
    core_uuid: str | None = None
    _uptime_read_at: float = 0.0

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("_uptime_read_at")
        data["state"] = self.state.value
        data["since"] = self.since.isoformat()
        data["connected_at"] = self.connected_at.isoformat() if self.connected_at else None
        if self.fs_uptime_s is not None and self.state is NodeState.UP:
            data["fs_uptime_s"] = round(self.fs_uptime_s + time.monotonic() - self._uptime_read_at, 3)
        return data


_UPTIME_UNITS = {"year": 365 * 86400, "day": 86400, "hour": 3600, "minute": 60, "second": 1,
                 "millisecond": 1e-3, "microsecond": 1e-6}


def parse_uptime(status: str) -> float | None:
    """Seconds of uptime from ``status`` output (``UP 0 years, 2 days, … 524 microseconds``)."""
    first = status.split("\n", 1)[0]
    if not first.startswith("UP "):
        return None
    total = 0.0
    for amount, unit in re.findall(r"(\d+) (year|day|hour|minute|second|millisecond|microsecond)s?",
                                   first):
        total += int(amount) * _UPTIME_UNITS[unit]
    return total


def backoff_delay(attempt: int, low: float, high: float, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: ``low·2^attempt`` capped at ``high``, then a random
    value in its upper half (so many Pult servers do not reconnect in lock-step)."""
    ceiling = min(high, low * (2 ** min(attempt, 30)))
    return (rng or random).uniform(ceiling / 2, ceiling)


class NodeManager:
    """Keeps one inbound connection per configured node (see the module docstring)."""

    def __init__(self, settings: Settings, hub: GeventThread, *,
                 nodes: list[FsNode] | None = None,
                 events: tuple[str, ...] = SUBSCRIBED_EVENTS,
                 connect_timeout: float = 5.0) -> None:
        self.settings = settings
        self.hub = hub
        self.nodes = list(settings.nodes if nodes is None else nodes)
        names = [n.name for n in self.nodes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"FreeSWITCH node names must be unique; repeated: {', '.join(duplicates)}")
        self.events = events
        self.connect_timeout = connect_timeout
        self._status = {n.name: NodeStatus(n.name, n.host, n.port, n.weight) for n in self.nodes}
        self._conns: dict[str, EslConnection] = {}
        self._tasks: dict[str, asyncio.Task] = {}
        self._handlers: dict[str, list[NodeEventHandler]] = {}
        self._state_callbacks: list[StateCallback] = []
        self._channels: dict[str, set[str]] = {n.name: set() for n in self.nodes}
        #: per node: uuid -> what is known of the call (CALL_FIELDS), while it is in progress
        self._calls: dict[str, dict[str, dict]] = {n.name: {} for n in self.nodes}
        #: per node: the calls in progress when the connection was lost, their node's Core-UUID
        #: and when; checked at reconnect (see _check_lost_calls)
        self._unconfirmed: dict[str, tuple[dict[str, dict], str | None, float]] = {}
        self._lost_callbacks: list[LostCallsCallback] = []
        self._wakeups: dict[str, asyncio.Event] = {}
        self._hung: dict[str, str] = {}
        self._stopping = False

    # ------------------------------------------------------------------ public API
    def on_event(self, key: str, handler: NodeEventHandler) -> None:
        """``handler(node_name, event)`` for events named ``key`` from any node (``"*"``: all)."""
        self._handlers.setdefault(key, []).append(handler)

    def on_state_change(self, callback: StateCallback) -> None:
        """``callback(snapshot_of_that_node)`` whenever a node changes state."""
        self._state_callbacks.append(callback)

    def on_calls_lost(self, callback: LostCallsCallback) -> None:
        """``callback(node, calls)`` once for the calls a node lost (it restarted while Pult was
        not connected, or crashed): each a dict of :data:`CALL_FIELDS` plus ``lost_at`` (epoch
        microseconds: when Pult lost the node)."""
        self._lost_callbacks.append(callback)

    def snapshot(self) -> list[dict]:
        """Every node's status as plain data (JSON-ready but for nothing: all str/int/float/None)."""
        return [self._status[n.name].as_dict() for n in self.nodes]

    def status(self, name: str) -> NodeStatus:
        return self._status[self._check(name)]

    def connection(self, name: str) -> EslConnection | None:
        """The open connection to ``name``, or ``None`` while it is not up."""
        conn = self._conns.get(self._check(name))
        return conn if conn is not None and conn.is_open else None

    def up_nodes(self) -> list[FsNode]:
        return [n for n in self.nodes if self._status[n.name].state is NodeState.UP]

    def node_for_core_uuid(self, core_uuid: str | None) -> str | None:
        """The node whose events carry this ``Core-UUID`` (learned from its events)."""
        if not core_uuid:
            return None
        for status in self._status.values():
            if status.core_uuid == core_uuid:
                return status.name
        return None

    def node_for_host(self, host: str | None) -> str | None:
        for node in self.nodes:
            if node.host == host:
                return node.name
        return None

    async def api(self, name: str, command: str, **kw: Any) -> str:
        conn = self.connection(name)
        if conn is None:
            raise EslNotConnected(f"node {name} is {self._status[name].state.value}")
        return await conn.api(command, **kw)

    async def bgapi(self, name: str, command: str, **kw: Any):
        conn = self.connection(name)
        if conn is None:
            raise EslNotConnected(f"node {name} is {self._status[name].state.value}")
        return await conn.bgapi(command, **kw)

    async def wait_for_state(self, name: str, *states: NodeState, timeout: float = 10.0) -> NodeStatus:
        """Wait until ``name`` is in one of ``states`` (tests and start-up checks)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._status[self._check(name)].state not in states:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"node {name} still {self._status[name].state.value} "
                                   f"after {timeout} s (wanted {', '.join(s.value for s in states)})")
            await asyncio.sleep(0.01)
        return self._status[name]

    def retry_now(self, name: str) -> None:
        """Skip the current back-off wait of ``name`` (operator pressed "reconnect")."""
        event = self._wakeups.get(self._check(name))
        if event is not None:
            event.set()

    async def start(self) -> None:
        """Start one supervisor per node; returns at once (nodes come up in the background)."""
        self._stopping = False
        for node in self.nodes:
            self._wakeups[node.name] = asyncio.Event()
            self._tasks[node.name] = asyncio.create_task(self._supervise(node),
                                                         name=f"esl-node-{node.name}")
        log.info("ESL node manager started", nodes=[n.name for n in self.nodes])

    async def stop(self) -> None:
        """Close every connection and stop retrying."""
        self._stopping = True
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        for name, conn in list(self._conns.items()):
            await conn.close()
        self._conns.clear()
        for node in self.nodes:
            self._set_state(node.name, NodeState.STOPPED, None)
            ESL_NODE_UP.labels(node.name).set(0)

    # ------------------------------------------------------------------ supervision
    def _check(self, name: str) -> str:
        if name not in self._status:
            raise KeyError(f"unknown FreeSWITCH node {name!r}")
        return name

    def _set_state(self, name: str, state: NodeState, error: str | None) -> None:
        status = self._status[name]
        changed = status.state is not state or status.last_error != error
        if status.state is not state:
            status.since = clock.now()
        status.state = state
        status.last_error = error
        if not changed:
            return
        snap = status.as_dict()
        for callback in self._state_callbacks:
            try:
                result = callback(snap)
                if inspect.isawaitable(result):
                    in_background(result, where="node state callback", node=name)
            except Exception:
                log.exception("node state callback failed", node=name)

    async def _supervise(self, node: FsNode) -> None:
        attempt = 0
        first = True
        low, high = self.settings.esl_reconnect_min, self.settings.esl_reconnect_max
        while not self._stopping:
            if not first:
                self._status[node.name].reconnects += 1
                ESL_RECONNECTS.labels(node.name).inc()
            first = False
            self._set_state(node.name, NodeState.CONNECTING, self._status[node.name].last_error)
            try:
                conn = await self._connect(node)
            except EslAuthError as exc:
                self._set_state(node.name, NodeState.AUTH_FAILED, str(exc))
                log.error("ESL authentication failed", node=node.name, error=str(exc))
                delay = backoff_delay(30, low, high)  # slow: a person has to fix the password
            except (EslError, OSError) as exc:
                self._set_state(node.name, NodeState.DOWN, str(exc))
                log.warning("ESL node unreachable", node=node.name, error=str(exc), attempt=attempt)
                delay = backoff_delay(attempt, low, high)
                attempt += 1
            except Exception as exc:  # a bug must not end supervision of the node
                self._set_state(node.name, NodeState.DOWN, f"internal error: {exc!r}")
                log.exception("ESL node connection failed unexpectedly", node=node.name)
                delay = backoff_delay(attempt, low, high)
                attempt += 1
            else:
                attempt = 0
                heartbeat = asyncio.create_task(self._heartbeat(node.name, conn),
                                                name=f"esl-heartbeat-{node.name}")
                try:
                    reason = await conn.closed
                finally:
                    heartbeat.cancel()
                reason = self._hung.pop(node.name, None) or reason
                self._conns.pop(node.name, None)
                ESL_NODE_UP.labels(node.name).set(0)
                # unknown while disconnected; re-listed from `show channels` on reconnect
                self._channels[node.name] = set()
                if self._calls[node.name]:
                    self._unconfirmed[node.name] = (self._calls[node.name], self._status[node.name].core_uuid,
                                                    clock.timestamp())
                self._calls[node.name] = {}
                self._status[node.name].calls_in_progress = 0
                CALLS_IN_PROGRESS.labels(node.name).set(0)
                if self._stopping:
                    return
                self._set_state(node.name, NodeState.DOWN, f"connection lost: {reason}")
                log.warning("ESL node down", node=node.name, reason=reason)
                delay = backoff_delay(0, low, high)
            await self._sleep(node.name, delay)

    async def _heartbeat(self, name: str, conn: EslConnection) -> None:
        """Close ``conn`` when the switch stops answering (see the module docstring)."""
        interval = self.settings.esl_heartbeat_interval
        limit = self.settings.esl_heartbeat_timeout
        while conn.is_open:
            await asyncio.sleep(interval)
            try:
                await conn.api("status", timeout=limit)
            except EslNotConnected:
                return
            except EslError as exc:
                if not conn.is_open:
                    return
                why = f"not answering: no reply to a heartbeat within {limit:g} s ({exc})"
                self._hung[name] = why
                log.error("ESL node not answering; closing the connection", node=name, timeout_s=limit)
                # shown down and given no work at once; closing a hung socket takes a moment
                if self._conns.get(name) is conn:
                    del self._conns[name]
                ESL_NODE_UP.labels(name).set(0)
                self._set_state(name, NodeState.DOWN, why)
                await conn.close()
                return

    async def _sleep(self, name: str, delay: float) -> None:
        wake = self._wakeups[name]
        wake.clear()
        try:
            await asyncio.wait_for(wake.wait(), delay)
        except asyncio.TimeoutError:
            pass

    async def _connect(self, node: FsNode) -> EslConnection:
        conn = EslConnection(self.hub, node.name, node.host, node.port, node.password,
                             connect_timeout=self.connect_timeout,
                             command_timeout=self.settings.esl_command_timeout)
        name = node.name
        conn.on("*", lambda event: self._on_event(name, event))
        counter = ESL_EVENTS.labels(name)
        conn.on_batch(counter.inc)
        await conn.open()
        try:
            await conn.subscribe(self.events)
            status_text = await conn.api("status")
            core_uuid = (await conn.api("global_getvar core_uuid")).strip() or None
            await self._resync_channels(conn)
        except BaseException:
            await conn.close()
            raise
        status = self._status[name]
        status.fs_uptime_s = parse_uptime(status_text)
        status._uptime_read_at = time.monotonic()
        m = re.search(r"\(Version ([^ )]+)", status_text)
        status.fs_version = m.group(1) if m else None
        status.connected_at = clock.now()
        self._check_lost_calls(name, core_uuid)
        status.core_uuid = core_uuid or status.core_uuid
        self._conns[name] = conn
        ESL_NODE_UP.labels(name).set(1)
        self._set_state(name, NodeState.UP, None)
        log.info("ESL node up", node=name, host=node.host, port=node.port,
                 fs_version=status.fs_version, calls=len(self._channels[name]))
        return conn

    async def _resync_channels(self, conn: EslConnection) -> None:
        """Rebuild the set of channels in progress from ``show channels as json``."""
        name = conn.name
        try:
            text = await conn.api("show channels as json")
            data = json.loads(text) if text.lstrip().startswith("{") else {}
        except (EslError, ValueError) as exc:
            log.warning("could not list channels", node=name, error=str(exc))
            return
        rows = data.get("rows") or []
        self._channels[name] = {row.get("uuid") for row in rows if row.get("uuid")}
        known = self._unconfirmed.get(name, ({}, None, 0.0))[0]
        calls = {}
        for row in rows:
            uuid = row.get("uuid")
            if not uuid:
                continue
            info = dict(known.get(uuid) or {})
            created = row.get("created_epoch")
            info.setdefault("Unique-ID", uuid)
            for key, value in (("Channel-Name", row.get("name")), ("Call-Direction", row.get("direction")),
                               ("Caller-Caller-ID-Number", row.get("cid_num")),
                               ("Caller-Caller-ID-Name", row.get("cid_name")),
                               ("Caller-Destination-Number", row.get("dest")),
                               ("Caller-Context", row.get("context")), ("Channel-State", row.get("state")),
                               ("Channel-Call-State", row.get("callstate")),
                               ("Caller-Channel-Created-Time",
                                str(int(created) * 1_000_000) if created and str(created).isdigit() else None)):
                if value and key not in info:
                    info[key] = value
            calls[uuid] = info
        self._calls[name] = calls
        self._status[name].calls_in_progress = len(self._channels[name])
        CALLS_IN_PROGRESS.labels(name).set(len(self._channels[name]))

    def _check_lost_calls(self, name: str, core_uuid: str | None) -> None:
        """At reconnect: when the node restarted (another Core-UUID), the calls it had when Pult
        lost it are gone without a hang-up; report them once. (Same Core-UUID: calls that ended
        meanwhile are delivered by the switch's own CDR posting.)"""
        known, old_core, lost_at = self._unconfirmed.pop(name, ({}, None, 0.0))
        if not known or not core_uuid or not old_core or old_core == core_uuid:
            return
        lost = []
        for uuid, info in known.items():
            if uuid in self._channels[name]:
                continue
            lost.append({**info, "lost_at": int(lost_at * 1_000_000)})
        if not lost:
            return
        log.error("calls lost with their node (it restarted)", node=name, calls=len(lost))
        for callback in self._lost_callbacks:
            try:
                result = callback(name, lost)
                if inspect.isawaitable(result):
                    in_background(result, where="lost calls callback", node=name)
            except Exception:
                log.exception("lost calls callback failed", node=name)

    def _on_event(self, name: str, event: EslEvent) -> None:
        status = self._status[name]
        if status.core_uuid is None:
            status.core_uuid = event.peek("Core-UUID")
        ev_name = event.name
        if ev_name == "CHANNEL_CREATE" or ev_name == "CHANNEL_DESTROY":
            channels = self._channels[name]
            uuid = event.peek("Unique-ID")
            if uuid:
                if ev_name == "CHANNEL_CREATE":
                    channels.add(uuid)
                    self._calls[name][uuid] = {}
                else:
                    channels.discard(uuid)
                    self._calls[name].pop(uuid, None)
                status.calls_in_progress = len(channels)
                CALLS_IN_PROGRESS.labels(name).set(len(channels))
        if ev_name in _CALL_STATE_EVENTS or (ev_name == "CHANNEL_EXECUTE" and event.peek("Application") == "socket"):
            info = self._calls[name].get(event.peek("Unique-ID") or "")
            if info is not None:
                headers = event.headers
                for key in CALL_FIELDS:
                    value = headers.get(key)
                    if value:
                        info[key] = value
        for key in (event.key, "*"):
            for handler in self._handlers.get(key, ()):
                try:
                    result = handler(name, event)
                    if inspect.isawaitable(result):
                        in_background(result, where="node event handler", node=name, esl_event=event.key)
                except Exception:
                    log.exception("node event handler failed", node=name, esl_event=event.key)

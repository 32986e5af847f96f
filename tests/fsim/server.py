"""The simulator: inbound Event Socket server, outbound socket client, API commands.

Pure asyncio. One ``FreeSwitchSimulator`` is one FreeSWITCH node: it listens
like mod_event_socket (inbound mode), owns the channels, runs their dialplan
and, for the ``socket`` application, connects out to a configured target like
``socket host:port async full`` does (outbound mode).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine

from . import apps as apps_mod
from .apps import BridgeOutcome, parse_dial_string
from .channel import Channel, HANGUP_CAUSES, Profile
from .sip import Registration, SipCall, sip_leg_variables
from .events import CoreInfo, Event, EventFactory, SimClock
from .json_cdr import JsonCdrPoster, json_cdr_document
from .protocol import (
    DISCONNECT_TEXT,
    Command,
    ProtocolError,
    api_response,
    auth_request,
    command_reply,
    disconnect_notice,
    format_message,
    linger_disconnect_notice,
    read_command,
)

log = logging.getLogger("fsim")

VERSION = "FreeSWITCH Version 1.10.12-release+git~20240802T210227Z~a88d069d6f~64bit (git a88d069 2024-08-02 21:02:27Z 64bit)"

#: Events ``myevents`` subscribes to (mod_event_socket's list; PLAYBACK_*/RECORD_*
#: and CHANNEL_CALLSTATE are not in it, which is why the outbound traces lack them).
MYEVENTS = {
    "CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
    "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
    "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_PARK", "CHANNEL_PROGRESS",
    "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE", "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "CHANNEL_UUID",
    "DETECTED_SPEECH", "DTMF",
}

DEFAULT_DIALPLAN: dict[str, list[tuple[str, str]]] = {
    # the extensions of the recording machine (see the traces)
    "9196": [("answer", ""), ("echo", "")],
    "9197": [("park", "")],  # rings, never answers
    "9198": [("answer", ""), ("playback", "tone_stream://%(1000,0,440);loops=-1")],  # endless tone
    "3000": [("answer", ""), ("conference", "3000@default")],
    "9178": [("answer", ""), ("rxfax", "/srv/fs-01/spool/rx-${uuid}.tif"), ("hangup", "")],  # fax receiver
}


def inline_plan(target: str) -> list[tuple[str, str]]:
    """mod_dptools ``inline_dialplan_hunt``: ``app[:data],app[:data]``, or with a leading
    ``m:<c>:`` separated by ``<c>`` instead of ``,``; the data is everything after the first ``:``."""
    delim = ","
    if len(target) > 3 and target[0] == "m" and target[1] == ":" and target[3] == ":":
        delim, target = target[2], target[4:]
    plan = []
    for part in target.split(delim):
        app, _, data = part.lstrip(" ").partition(":")
        if app:
            plan.append((app, data))
    return plan


@dataclass
class ReceivedCommand:
    """A command a client sent, for assertions (``origin``: 'inbound' or 'outbound:<uuid>')."""

    origin: str
    line: str
    headers: dict[str, str]
    body: str = ""
    #: ``time.perf_counter()`` when the command's bytes were read from the socket: commands that
    #: came in one read share it, however long the simulator took over the ones before them
    #: (FreeSWITCH's listener thread parses a batch in microseconds; Python does not)
    received_at: float = field(default=0.0, compare=False, repr=False)

    @property
    def verb(self) -> str:
        return self.line.split(" ", 1)[0].lower()


class Connection:
    """One Event Socket connection (inbound client, or our outbound socket)."""

    def __init__(self, sim: "FreeSwitchSimulator", reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 channel: Channel | None = None):
        self.sim = sim
        self.reader = reader
        self.writer = writer
        self.channel = channel  # set for outbound sockets
        self.authed = channel is not None
        self.format = "plain"
        self.events: set[str] = set()
        self.all_events = False
        self.custom: set[str] = set()
        self.filters: list[tuple[str, str]] = []
        self.myevents_uuid: str | None = None
        self.linger = False
        self.linger_seconds = -1  # -1: plain `linger`, until the client closes
        self.closed_event = asyncio.Event()
        self.connected = channel is None  # outbound waits for 'connect'
        self.closed = False
        self.pending: list[Event] = []  # outbound: channel events before myevents
        self._out: list[bytes] = []  # sent this turn of the loop, written at its end (flush)
        #: where the node files it (FreeSwitchSimulator._reindex): a channel's uuid, None for
        #: "any event", False while not filed
        self._index_key: str | None | bool = False
        self.origin = f"outbound:{channel.uuid}" if channel else "inbound"

    # -- output ---------------------------------------------------------------
    def send(self, data: bytes) -> None:
        """Queue ``data``; what one turn of the loop sends goes out in one write at its end (as
        mod_event_socket writes a listener's queued events in one go, not a system call each)."""
        if self.closed:
            return
        self._out.append(data)
        if len(self._out) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (closing): write now
                self.flush()

    def flush(self) -> None:
        """Write what :meth:`send` queued."""
        if not self._out:
            return
        data = b"".join(self._out)
        self._out = []
        if self.closed:
            return
        try:
            self.writer.write(data)
        except (ConnectionError, RuntimeError):
            self.close(by_peer=True)

    async def drain(self) -> None:
        """:meth:`flush`, then wait until the socket took it (``StreamWriter.drain``)."""
        self.flush()
        await self.writer.drain()

    def close(self, *, by_peer: bool = False) -> None:
        """Close the connection; ``by_peer``: the client went away (an outbound socket's
        application stopped or crashed), not the node."""
        if not self.closed and not by_peer:
            self.flush()  # what was sent before the close goes out first
        if self.closed:
            return
        self.closed = True
        self.closed_event.set()
        try:
            self.writer.close()
        except RuntimeError:  # loop already closed
            pass
        self.sim._connections.discard(self)
        self.sim._unindex(self)
        if by_peer and self.channel is not None:
            self.sim._socket_gone(self.channel)

    def bound_uuid(self) -> str | None:
        """The one channel whose events this connection can take (``myevents``, or an outbound
        socket's own channel before it subscribed: kept as pending), or None: any event."""
        if self.myevents_uuid is not None:
            return self.myevents_uuid
        if self.channel is not None and not self.events and not self.all_events:
            return self.channel.uuid
        return None

    def wants(self, event: Event) -> bool:
        if self.closed or not self.authed or not self.connected:
            return False
        name = event.name
        if self.myevents_uuid is not None and event.get("Unique-ID") != self.myevents_uuid:
            return False
        if name == "CUSTOM":
            ok = self.all_events or (event.subclass or "") in self.custom
        else:
            ok = self.all_events or name in self.events
        if not ok:
            return False
        if self.filters:
            return any(event.get(h) == v for h, v in self.filters)
        return True

    def deliver(self, event: Event, encoded: dict[str, bytes] | None = None) -> None:
        """Send ``event`` if this connection takes it (``encoded``: the event's wire form by
        format, shared by the connections one dispatch offers it to)."""
        if self.channel is not None and self.myevents_uuid is None and not self.events and not self.all_events:
            if event.get("Unique-ID") == self.channel.uuid:
                self.pending.append(event)
            return
        if self.wants(event):
            if encoded is None:
                self.send(event.encode(self.format))
                return
            data = encoded.get(self.format)
            if data is None:
                data = encoded[self.format] = event.encode(self.format)
            self.send(data)


def cjson_print(value: Any, depth: int = 0) -> str:
    """Format like cJSON_Print (what FreeSWITCH's ``json_list`` returns): tabs, ``"key":\tvalue``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(cjson_print(v, depth + 1) for v in value) + "]"
    if isinstance(value, dict):
        inner = depth + 1
        items = [("\t" * inner) + json.dumps(k, ensure_ascii=False) + ":\t" + cjson_print(v, inner)
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + ("\n" if items else "") + "\t" * (inner - 1) + "}"
    raise TypeError(f"cannot print {type(value).__name__} as cJSON")


class Conference:
    """A conference room: members, the floor, and conference::maintenance events.

    Event field sets and order follow ``inbound_conference``: the conference
    block, then for member events Floor, the channel block, ``Caller-*`` and the
    member flags (no channel variables). The floor goes to the second member
    to join (FreeSWITCH gives it to whoever talks first; over loopback that is
    the newest member), and is cleared, with a floor-change, when its holder leaves.
    """

    SITES = {
        "add-member": ("conference_member.c", "conference_member_add", "962"),
        "del-member": ("conference_member.c", "conference_member_del", "1355"),
        "kick-member": ("conference_api.c", "conference_api_sub_kick", "902"),
        "conference-create": ("mod_conference.c", "conference_new", "3848"),
        "conference-destroy": ("mod_conference.c", "conference_thread_run", "863"),
        "floor-change": ("conference_member.c", "conference_member_set_floor_holder", "1158"),
    }

    def __init__(self, sim: "FreeSwitchSimulator", name: str):
        self.sim = sim
        self.name = name
        self.uuid = str(uuidlib.uuid4())
        self.domain = "cluecon.com"  # the default profile's domain, as recorded
        self.members: dict[int, Channel] = {}
        self.joined_us: dict[int, int] = {}
        self.floor: int | None = None
        self._ids = 0
        self.created_us = sim.clock.now_us()

    def _conference_block(self) -> list[tuple[str, str]]:
        return [("Conference-Name", self.name), ("Conference-Domain", self.domain),
                ("Conference-Size", str(len(self.members))), ("Conference-Ghosts", "0"),
                ("Conference-Profile-Name", "default"), ("Conference-Unique-ID", self.uuid)]

    def _member_block(self, member_id: int, channel: Channel) -> list[tuple[str, str]]:
        return (self._conference_block() + [("Floor", "true" if member_id == self.floor else "false")]
                + channel.channel_block() + channel.profile_block("Caller")
                + [("Video", "false"), ("Hear", "true"), ("See", "true"), ("Speak", "true"),
                   ("Talking", "false"), ("Mute-Detect", "false"), ("Hold", "false"),
                   ("Member-ID", str(member_id)), ("Member-Type", "member"), ("Member-Ghost", "false"),
                   ("Energy-Level", "100"), ("Current-Energy", "0")])

    def _fire(self, action: str, body: list[tuple[str, str]], tail: list[tuple[str, str]] | None = None) -> None:
        headers = self.sim.factory.common("CUSTOM", subclass="conference::maintenance", site=self.SITES[action])
        self.sim.dispatch(Event(headers + body + [("Action", action)] + (tail or [])))

    def _member_event(self, action: str, member_id: int) -> None:
        self._fire(action, self._member_block(member_id, self.members[member_id]))

    def _set_floor(self, member_id: int | None) -> None:
        self.floor = member_id
        tail = [("Old-ID", "none")]
        if member_id is None:
            tail.append(("New-ID", "none"))
        else:
            tail += self._member_block(member_id, self.members[member_id]) + [("New-ID", str(member_id))]
        self._fire("floor-change", self._conference_block(), tail)

    def add(self, channel: Channel) -> int:
        if not self.members:
            self._fire("conference-create", self._conference_block())
        self._ids += 1
        self.members[self._ids] = channel
        self.joined_us[self._ids] = self.sim.clock.now_us()
        self._member_event("add-member", self._ids)
        if self.floor is None and len(self.members) > 1:
            self._set_floor(self._ids)
        return self._ids

    def remove(self, member_id: int) -> None:
        if member_id not in self.members:
            return
        if member_id == self.floor:
            self._set_floor(None)
        channel = self.members.pop(member_id)
        self.joined_us.pop(member_id, None)
        self._fire("del-member", self._member_block(member_id, channel))
        if not self.members:
            self._fire("conference-destroy", self._conference_block())
            self.sim.conferences.pop(self.name, None)

    def kick(self, member_ids: list[int]) -> list[int]:
        """``kick``: kick-member events in the order given, then the members leave in join order.

        A kicked member's ``conference`` application returns (del-member while the
        channel is still up, as recorded) and its dialplan goes on.
        """
        kicked = [mid for mid in member_ids if mid in self.members]
        for mid in kicked:
            self._member_event("kick-member", mid)
        for mid in sorted(kicked):
            self.members[mid].request_break()  # leaves the conference; its dialplan then ends the call
        return kicked

    def list_text(self) -> str:
        """``conference NAME list``: newest member first, ``;``-separated."""
        rows = []
        for mid in sorted(self.members, reverse=True):
            ch = self.members[mid]
            flags = "hear|speak" + ("|floor" if mid == self.floor else "")
            rows.append(f"{mid};{ch.name};{ch.uuid};{ch.profile.caller_id_name or ''};"
                        f"{ch.profile.caller_id_number};{flags};0;0;100\n")
        return "".join(rows)

    def as_json(self) -> dict[str, Any]:
        """The object ``json_list`` prints for this conference (fields and order as recorded)."""
        now = self.sim.clock.now_us()
        members = []
        for mid in sorted(self.members, reverse=True):
            ch = self.members[mid]
            members.append({
                "type": "caller", "id": mid,
                "flags": {"can_hear": True, "can_see": True, "can_speak": True, "hold": False,
                          "mute_detect": False, "talking": False, "has_video": False, "video_bridge": False,
                          "has_floor": mid == self.floor, "is_moderator": False, "end_conference": False,
                          "mandatory_member_end_conference": False, "pass_digits": False},
                "uuid": ch.uuid, "caller_id_name": ch.profile.caller_id_name or "",
                "caller_id_number": ch.profile.caller_id_number,
                "join_time": (now - self.joined_us[mid]) // 1_000_000, "last_talking": 0, "energy": 100,
                "volume_in": 0, "volume_out": 0, "output-volume": 0, "input-volume": 0,
            })
        return {
            "conference_name": self.name, "member_count": len(self.members), "ghost_count": 0, "rate": 8000,
            "run_time": (now - self.created_us) // 1_000_000, "conference_uuid": self.uuid, "canvas_count": 0,
            "max_bw_in": 0, "force_bw_in": 0, "video_floor_packets": 0, "locked": False, "destruct": False,
            "wait_mod": False, "audio_always": False, "running": True, "answered": True, "enforce_min": True,
            "bridge_to": False, "dynamic": True, "exit_sound": True, "enter_sound": True, "recording": False,
            "video_bridge": False, "video_floor_only": False, "video_rfc4579": False, "max_members": 16,
            "variables": {}, "members": members,
        }


class Call:
    """Handle on a call placed with :meth:`FreeSwitchSimulator.place_call`."""

    def __init__(self, sim: "FreeSwitchSimulator", channel: Channel):
        self.sim = sim
        self.channel = channel
        self.socket: Connection | None = None
        self.socket_connected = asyncio.Event()

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    @property
    def ended(self) -> "asyncio.Future[str]":
        """Resolves with the hangup cause once CHANNEL_DESTROY has fired."""
        return self.channel.ended

    @property
    def variables(self) -> dict[str, str]:
        return dict(self.channel.vars)

    @property
    def events(self) -> list[Event]:
        """Every event fired for this channel so far, in order."""
        return list(self.channel.history)

    def event_names(self) -> list[str]:
        return [e.name for e in self.channel.history]

    async def send_dtmf(self, digits: str) -> None:
        """The caller presses keys (queued; read by the running input application)."""
        self.channel.queue_dtmf(digits)

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """The caller hangs up."""
        self.channel.hangup(cause)

    def send_fax(self, pages: int = 1, station: str = "") -> None:
        """The caller is a fax machine from now on: its calling tone (CNG) is heard by a fax
        detector (``spandsp_start_fax_detect``), and an ``rxfax`` on the call receives its
        ``pages`` (see tests/fsim/fax.py)."""
        from .fax import FaxDocument, caller_sends_fax
        caller_sends_fax(self.channel, FaxDocument(pages=pages), station)

    async def wait_answered(self, timeout: float = 2.0) -> None:
        await asyncio.wait_for(self.channel.answered.wait(), timeout)

    async def wait_ended(self, timeout: float = 5.0) -> str:
        return await asyncio.wait_for(asyncio.shield(self.channel.ended), timeout)

    async def wait_for_event(self, name: str, timeout: float = 2.0,
                             predicate: Callable[[Event], bool] | None = None) -> Event:
        """Wait until an event ``name`` (matching ``predicate``) has fired on this channel."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = 0
        while True:
            history = self.channel.history
            for event in history[seen:]:
                if event.name == name and (predicate is None or predicate(event)):
                    return event
            seen = len(history)
            if loop.time() >= deadline:
                raise asyncio.TimeoutError(f"no {name} event on {self.uuid} within {timeout}s")
            await asyncio.sleep(0.005)


class FreeSwitchSimulator:
    """A FreeSWITCH node speaking the Event Socket protocol (see tests/fsim/README.md)."""

    def __init__(
        self,
        password: str = "ClueCon",
        outbound_target: tuple[str, int] | None = None,
        *,
        host: str = "127.0.0.1",
        time_scale: float = 0.02,
        hostname: str = "fsim",
        core_uuid: str | None = None,
        dialplan: dict[str, list[tuple[str, str]]] | None = None,
        media_durations: dict[str, float] | None = None,
        bridge_policy: Callable[[str], BridgeOutcome] | None = None,
        write_recordings: bool = True,
        record_talk_seconds: float = 3.0,
        default_media_seconds: float = 2.0,
        first_event_sequence: int = 1,
        path_map: dict[str, str] | None = None,
        json_cdr: "JsonCdrPoster | None" = None,
    ):
        self.password = password
        self.outbound_target = outbound_target
        self.host = host
        self.port: int | None = None
        self.clock = SimClock(time_scale)
        self.core = CoreInfo(core_uuid=core_uuid or str(uuidlib.uuid4()), hostname=hostname, switchname=hostname,
                             ipv4=host if host not in ("0.0.0.0", "localhost") else "127.0.0.1")
        self.factory = EventFactory(self.core, self.clock, first_event_sequence)
        self.dialplan = dict(DEFAULT_DIALPLAN if dialplan is None else dialplan)
        self.media_durations = dict(media_durations or {})
        self.default_media_seconds = default_media_seconds
        self.bridge_policy: Callable[[str], BridgeOutcome] = bridge_policy or (lambda endpoint: BridgeOutcome())
        self.write_recordings = write_recordings
        self.path_map = dict(path_map or {})
        self.record_talk_seconds = record_talk_seconds
        #: mod_json_cdr: each ended channel's record POSTed (with retries) when set
        self.json_cdr = json_cdr
        self._cdr_tasks: set[asyncio.Task[Any]] = set()
        self.channels: dict[str, Channel] = {}
        self.conferences: dict[str, Conference] = {}
        self.received_commands: list[ReceivedCommand] = []
        #: every host the socket application tried: (channel uuid, "host:port")
        self.socket_attempts: list[tuple[str, str]] = []
        self.events: list[Event] = []  # every event fired, in order
        self.calls: list[Call] = []
        self.registrations: list[Registration] = []
        self.sessions_since_startup = 0
        self.peak_sessions = 0
        self._awake = asyncio.Event()  # cleared by hang(): the node stops answering
        self._awake.set()
        self._connections: set[Connection] = set()
        # the connections by the one channel whose events they can take (Connection.bound_uuid),
        # and those that may take any event: an event is offered to its channel's connections and
        # to the unbound ones only, as mod_event_socket does (a listener filtered to one uuid is
        # skipped cheaply), instead of to every connection — with hundreds of outbound sockets
        # the stand-in's own event loop would otherwise be the slowest part of a call's set-up
        self._bound: dict[str, set[Connection]] = {}
        self._unbound: set[Connection] = set()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()
        self._started_at = time.monotonic()
        self._outbound_waiters: list[asyncio.Future[Connection]] = []

    # -- lifecycle ------------------------------------------------------------------
    async def start(self, port: int = 0) -> "FreeSwitchSimulator":
        """Listen on ``host:port`` (0: a free port; ``self.port`` tells which)."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        self._server = await asyncio.start_server(self._handle_inbound, self.host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        self._started_at = time.monotonic()
        log.debug("fsim listening on %s:%s", self.host, self.port)
        return self

    async def stop(self) -> None:
        """Node down: close the listener and every connection, drop all channels."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self._connections):
            conn.close()
        if self._handlers:
            await asyncio.wait(list(self._handlers), timeout=1.0)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for task in list(self._cdr_tasks):
            task.cancel()
        for ch in self.channels.values():
            if not ch.ended.done():
                ch.ended.cancel()
        self.channels.clear()
        self.conferences.clear()

    async def __aenter__(self) -> "FreeSwitchSimulator":
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def hang(self) -> None:
        """Stop answering, like a stopped process (``kill -STOP``): connections stay open, new
        ones are accepted (by the kernel) but get no ``auth/request``, commands get no reply."""
        self._awake.clear()

    def wake(self) -> None:
        """Answer again (``kill -CONT``): what was sent meanwhile is answered now."""
        self._awake.set()

    async def crash_and_restart(self) -> None:
        """The process dies and starts again (``kill -9`` and a restart): every connection
        closes, the calls vanish without a single event, the node has a new Core-UUID."""
        for conn in list(self._connections):
            conn.close()
        for ch in list(self.channels.values()):
            ch.destroyed = True
            if not ch.ended.done():
                ch.ended.set_result("CRASH")
        self.channels.clear()
        self.core.core_uuid = str(uuidlib.uuid4())
        self._started_at = time.monotonic()
        await asyncio.sleep(0)

    async def drop_clients(self) -> None:
        """Close every inbound connection (what clients see when the node restarts)."""
        for conn in list(self._connections):
            if conn.channel is None:
                conn.close()
        await asyncio.sleep(0)

    @property
    def inbound_connections(self) -> int:
        return sum(1 for c in self._connections if c.channel is None and not c.closed)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> "asyncio.Task[Any]":
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: "asyncio.Task[Any]") -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("fsim task failed", exc_info=task.exception())

    # -- media ------------------------------------------------------------------------
    def local_path(self, path: str) -> "Path":
        """Where a FreeSWITCH-side path is on this machine: the longest ``path_map`` prefix rewritten.

        Events keep FreeSWITCH's path (``/srv/fs-01/spool/rx-….tif``); files the
        simulator reads (txfax) or writes (rxfax, record) go to the mapped place.
        """
        for prefix in sorted(self.path_map, key=len, reverse=True):
            if path.startswith(prefix):
                return Path(self.path_map[prefix] + path[len(prefix):])
        return Path(path)

    def media_seconds(self, path: str) -> float:
        """Simulated length of a prompt: ``media_durations``, tone/silence streams, or the default."""
        if path in self.media_durations:
            return self.media_durations[path]
        if path.startswith("silence_stream://"):
            ms = int(re.sub(r"[^0-9-].*$", "", path[len("silence_stream://"):]) or "0")
            return 3600.0 if ms < 0 else ms / 1000
        if path.startswith("tone_stream://"):
            loops = re.search(r"loops=(-?\d+)", path)
            spec = re.search(r"%\(([0-9]+),([0-9]+)", path)
            one = (int(spec.group(1)) + int(spec.group(2))) / 1000 if spec else 1.0
            n = int(loops.group(1)) if loops else 1
            return 3600.0 if n < 0 else one * n
        return self.default_media_seconds

    # -- events -------------------------------------------------------------------------
    def dispatch(self, event: Event) -> None:
        self.events.append(event)
        targets = list(self._unbound)
        bound = self._bound.get(event.get("Unique-ID") or "")
        if bound:
            targets += bound
        encoded: dict[str, bytes] = {}
        for conn in targets:
            conn.deliver(event, encoded)

    def _add_connection(self, conn: Connection) -> None:
        self._connections.add(conn)
        self._reindex(conn)

    def _reindex(self, conn: Connection) -> None:
        """File ``conn`` under what it can take now (after every command it sent)."""
        key = None if conn.closed else conn.bound_uuid()
        old = conn._index_key
        if old == key and (key is not None or conn in self._unbound):
            return
        self._unindex(conn)
        if conn.closed:
            return
        conn._index_key = key
        if key is None:
            self._unbound.add(conn)
        else:
            self._bound.setdefault(key, set()).add(conn)

    def _unindex(self, conn: Connection) -> None:
        old = conn._index_key
        if old is None:
            self._unbound.discard(conn)
        elif old is not False:
            peers = self._bound.get(old)
            if peers is not None:
                peers.discard(conn)
                if not peers:
                    del self._bound[old]
        conn._index_key = False

    def conference(self, name: str) -> Conference:
        if name not in self.conferences:
            self.conferences[name] = Conference(self, name)
        return self.conferences[name]

    # -- channels -----------------------------------------------------------------------
    def new_channel(self, *, name: str, profile: Profile, uuid: str | None = None, direction: str = "inbound",
                    variables: list[tuple[str, str]] | None = None, layout: str | None = None) -> Channel:
        """Create a channel with the leading variables FreeSWITCH gives it, in its order.

        ``layout`` picks the order of the leading variables as recorded:
        ``"originate"`` (A leg of an originate), ``"loopback_b"`` (B half of a
        loopback pair; its call_uuid is set later, see ``loopback_b_ready``), ``"bridge"`` (a leg the
        bridge application originates), default ``direction``'s own order.
        ``variables`` follow the leading block (for ``"bridge"``: after call_uuid).
        """
        ch = Channel(self, name=name, profile=profile, uuid=uuid, direction=direction)
        extra = [kv for kv in (variables or []) if kv[0] not in ("direction", "is_outbound")]
        codecs = [("read_codec", "L16"), ("read_rate", "8000"), ("write_codec", "L16"), ("write_rate", "8000")]
        layout = layout or ("originate" if direction == "outbound" else "inbound")
        if layout == "originate":
            lead = [("direction", "outbound"), ("is_outbound", "true"), ("session_id", str(ch.session_id))] + codecs \
                + [("channel_name", name), ("uuid", ch.uuid)]
        elif layout == "loopback_b":
            lead = [("direction", "inbound"), ("uuid", ch.uuid),
                    ("session_id", str(ch.session_id)), ("channel_name", name)] + codecs
        elif layout == "sofia":
            lead = [("direction", "inbound"), ("uuid", ch.uuid), ("call_uuid", ch.uuid),
                    ("session_id", str(ch.session_id))]
        elif layout == "bridge":
            lead = [("direction", "outbound"), ("is_outbound", "true"), ("uuid", ch.uuid),
                    ("session_id", str(ch.session_id))] + codecs
        else:
            lead = [("direction", direction), ("uuid", ch.uuid), ("session_id", str(ch.session_id)),
                    ("channel_name", name)] + codecs
        for k, v in lead + extra:
            ch.set_var(k, v)
        self.channels[ch.uuid] = ch
        self.sessions_since_startup += 1
        self.peak_sessions = max(self.peak_sessions, len(self.channels))
        return ch

    def _json_cdr(self, channel: Channel) -> None:
        """mod_json_cdr's queue: the record is posted off the call's thread (retried while the
        receiver is away); a crash of the node loses what was not delivered yet."""
        if self.json_cdr is None:
            return
        doc = json_cdr_document(channel, self.core.core_uuid, self.core.switchname)
        task = asyncio.get_running_loop().create_task(self.json_cdr.post(channel.uuid, doc))
        self._cdr_tasks.add(task)
        task.add_done_callback(self._cdr_tasks.discard)

    async def json_cdr_drained(self, timeout: float = 10.0) -> None:
        """Wait until every record queued for mod_json_cdr was delivered or given up."""
        if self._cdr_tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._cdr_tasks), return_exceptions=True), timeout)

    def _forget(self, channel: Channel) -> None:
        self.channels.pop(channel.uuid, None)

    def _on_hangup(self, channel: Channel) -> None:
        # without linger, an outbound socket is told and closed right away
        for conn in list(self._connections):
            if conn.channel is channel and not conn.linger:
                body = DISCONNECT_TEXT
                conn.send(format_message([("Content-Type", "text/disconnect-notice"),
                                          ("Controlled-Session-UUID", channel.uuid),
                                          ("Content-Disposition", "disconnect"),
                                          ("Content-Length", None)], body))
                conn.close()

    async def _before_destroy(self, channel: Channel) -> None:
        """A lingering outbound socket gets the linger notice; then, as FreeSWITCH does, the
        session (and its row in ``show channels``) stays until the client closes the socket —
        or, after ``linger N``, until N seconds have passed (plain ``linger``: no limit)."""
        lingering = []
        for conn in list(self._connections):
            if conn.channel is channel:
                conn.send(linger_disconnect_notice(channel.uuid, channel.name, conn.linger_seconds))
                try:
                    await asyncio.wait_for(conn.drain(), 1.0)
                except (ConnectionError, asyncio.TimeoutError, RuntimeError):
                    pass
                lingering.append(conn)
        for conn in lingering:
            limit = None if conn.linger_seconds < 0 else conn.linger_seconds
            try:
                await asyncio.wait_for(conn.closed_event.wait(), limit)
            except asyncio.TimeoutError:
                pass
            conn.close()

    def _request_transfer(self, channel: Channel, dest: str, dialplan: str, context: str) -> None:
        channel.transfer_request = (dest, dialplan, context)
        channel.request_break()

    def route(self, destination: str) -> list[tuple[str, str]] | None:
        """Dialplan lookup: explicit extensions, else the outbound socket for digit strings."""
        if destination in self.dialplan:
            return list(self.dialplan[destination])
        if self.outbound_target is not None and re.fullmatch(r"[0-9*#+]+", destination):
            host, port = self.outbound_target
            return [("socket", f"{host}:{port} async full")]
        return None

    async def place_call(
        self,
        caller: str = "79161234567",
        destination: str = "74951234567",
        variables: dict[str, str] | None = None,
        *,
        uuid: str | None = None,
        caller_name: str | None = None,
        channel_name: str | None = None,
        answered: bool = False,
        run_dialplan: bool = True,
        talk_seconds: float | None = None,
        endpoint: str = "sofia",
        sip_user: str | None = None,
        domain: str = "127.0.0.1",
        sip_port: int = 5060,
        codecs: list[str] | None = None,
    ) -> Call:
        """An incoming call: CHANNEL_CREATE, then the dialplan (outbound socket if a target is set).

        ``run_dialplan=False`` parks the call instead (with ``answered=True``
        it is a call already in progress, e.g. before a client connects).

        With ``sip_user`` the call comes from a phone registered as that user on
        the ``internal`` profile (``sofia/internal/USER@DOMAIN``, context
        ``default``): the leg carries mod_sofia's fields (``variable_sip_*``,
        digest authorization, directory user, SDP, ``codecs`` negotiated, first
        wins) and ``Caller-Username``/``Caller-Network-Addr``; ``caller``
        defaults to the user, ``caller_name`` is the phone's display name.
        Without it, a trunk-style call ``sofia/external/CALLER@HOST`` (context public).
        """
        if endpoint != "sofia":
            raise ValueError(f"place_call makes sofia legs only, got endpoint {endpoint!r}")
        if sip_user is not None and caller == "79161234567":
            caller = sip_user
        if not re.fullmatch(r"[0-9A-Za-z*#+_.-]+", caller or ""):
            raise ValueError(f"caller must be a number-like string, got {caller!r}")
        if not re.fullmatch(r"[0-9A-Za-z*#+_.-]+", destination or ""):
            raise ValueError(f"destination must be a number-like string, got {destination!r}")
        if sip_user is not None:
            if not re.fullmatch(r"[0-9A-Za-z_.-]+", sip_user) or not re.fullmatch(r"[0-9A-Za-z_.-]+", domain or ""):
                raise ValueError(f"sip_user and domain must be plain SIP user/host parts, got {sip_user!r}@{domain!r}")
            sip = SipCall(user=sip_user, domain=domain, destination=destination, display=caller_name,
                          phone_port=sip_port, codecs=list(codecs or ["PCMA", "PCMU"]))
            name = channel_name or f"sofia/internal/{sip_user}@{domain}"
            ch = self.new_channel(
                name=name, uuid=uuid, layout="sofia",
                profile=Profile(direction="inbound", logical_direction="inbound", caller_id_number=caller,
                                caller_id_name=caller_name, orig_caller_id_name=caller_name,
                                destination_number=destination, source="mod_sofia", context="default",
                                dialplan="XML", callee_id_name=None, callee_id_number=None,
                                username=sip_user, network_addr=sip.phone_ip))
            ch.sip = sip
            request = self.factory.common("REQUEST_PARAMS",
                                          site=("sofia.c", "sofia_handle_sip_i_invite", "10723"))
            for k, v in sip_leg_variables(sip, channel_name=name, invite_us=self.clock.now_us(),
                                          request_block=request):
                ch.set_var(k, v)
            for k, v in (variables or {}).items():
                ch.set_var(k, v)
        else:
            ch = self.new_channel(
                name=channel_name or f"sofia/external/{caller}@{self.host}",
                uuid=uuid,
                profile=Profile(direction="inbound", logical_direction="inbound", caller_id_number=caller,
                                caller_id_name=caller_name, destination_number=destination, source="mod_sofia",
                                context="public", callee_id_name=None, callee_id_number=None),
                variables=list((variables or {}).items()),
            )
            ch.set_var("call_uuid", ch.uuid)
        if talk_seconds is not None:
            ch.talk_seconds = talk_seconds
        call = Call(self, ch)
        self.calls.append(call)
        ch.fire("CHANNEL_CREATE")
        if answered:
            ch.state, ch.state_number = "CS_EXECUTE", 4
            ch.mark_answered()
        if run_dialplan:
            plan = self.route(destination)
            if plan is None:
                ch.state, ch.state_number = "CS_ROUTING", 2
                ch.hangup("NO_ROUTE_DESTINATION")
                self.spawn(ch.finish())
                return call
        else:
            plan = [("park", "")]
        self.spawn(self._run_channel(ch, plan, call))
        await asyncio.sleep(0)
        return call

    def register(self, user: str, domain: str = "127.0.0.1", *, ip: str = "127.0.0.1", port: int = 5060,
                 call_id: str = "", expires_at: int = 0) -> Registration:
        """A phone registers on the ``internal`` profile (shown by ``sofia status … reg``, ``show registrations``)."""
        if not re.fullmatch(r"[0-9A-Za-z_.-]+", user or ""):
            raise ValueError(f"user must be a plain SIP user part, got {user!r}")
        self.registrations = [r for r in self.registrations if (r.user, r.domain) != (user, domain)]
        reg = Registration(user, domain, ip=ip, port=port, call_id=call_id, expires_at=expires_at)
        self.registrations.append(reg)
        return reg

    async def add_existing_call(self, caller: str = "79161234567", destination: str = "74951234567",
                                variables: dict[str, str] | None = None, **kw: Any) -> Call:
        """A call already answered and parked (in progress before any client connected)."""
        return await self.place_call(caller, destination, variables, answered=True, run_dialplan=False, **kw)

    async def _run_channel(self, ch: Channel, plan: list[tuple[str, str]], call: Call | None = None) -> None:
        """The session thread: run dialplan apps, follow transfers, then tear down."""
        ch.state, ch.state_number = "CS_EXECUTE", 4
        if ch.direction == "inbound" and ch.call_state == "DOWN":
            ch.call_state = "RINGING"
        if plan:
            ch.enter_dialplan()
        if ch.sip is not None:
            ch.set_var("call_uuid", ch.uuid)  # mod_sofia sets it again when routing starts (as recorded)
        socket_app: tuple[str, str, str] | None = None
        parked = False
        try:
            while True:
                for app, arg in plan:
                    if ch.hungup:
                        break
                    if app == "socket":
                        socket_app = await self._run_socket(ch, arg, call)
                        parked = socket_app is not None
                    else:
                        await ch.execute(app, arg)
                        parked = parked or app == "park"
                    if ch.transfer_request is not None:
                        break
                if ch.transfer_request is not None and not ch.hungup:
                    dest, dialplan, context = ch.transfer_request
                    ch.transfer_request = None
                    ch.new_profile_for_transfer(dest, dialplan, context)
                    ch.enter_dialplan()
                    # the park under the socket has ended (CF_TRANSFER), but mod_event_socket
                    # keeps that socket's listener (and its events) until the client closes it;
                    # its end then clears CF_CONTROLLED (see _socket_gone)
                    ch.socket_controlled = False
                    socket_app = None
                    if dialplan.lower() == "inline":
                        new_plan = inline_plan(dest)
                        # inline_dialplan_hunt: the destination is the one before the transfer again
                        ch.profile.destination_number, ch.profile.rdnis = ch.profile.rdnis or dest, None
                    else:
                        new_plan = self.route(dest)
                    if new_plan is None:
                        ch.hangup("NO_ROUTE_DESTINATION")
                        break
                    plan = new_plan
                    continue
                break
            if not ch.hungup:
                ch.hangup("NORMAL_CLEARING")
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug or bad input in an app: hang up like a crashed session would
            log.exception("fsim: application failed on %s", ch.uuid)
            ch.hangup("NORMAL_TEMPORARY_FAILURE")
        await ch.finish(socket_app=socket_app, parked=parked and socket_app is not None)

    async def _run_socket(self, ch: Channel, arg: str, call: Call | None) -> tuple[str, str, str] | None:
        """The ``socket host:port async full`` application (outbound mode)."""
        app_uuid = str(uuidlib.uuid4())
        ch.set_var("current_application_response", None)
        ch.set_var("current_application", "socket")
        ch.set_var("current_application_data", arg)
        ch.fire("CHANNEL_EXECUTE", [("Application", "socket"), ("Application-Data", arg),
                                    ("Application-UUID", app_uuid)])
        ch.set_var("current_application_data", arg)
        ch.set_var("current_application", "socket")
        # socket_function: "host1:port1|host2:port2 …" — each host in order until one accepts
        opened = None
        for target in arg.split()[0].split("|"):
            host, _, port_s = target.rpartition(":")
            ch.set_var("socket_host", host)
            self.socket_attempts.append((ch.uuid, target))
            try:
                opened = await asyncio.open_connection(host, int(port_s))
                break
            except (OSError, ValueError) as exc:
                log.warning("fsim: outbound socket to %s failed: %s", target, exc)
        if opened is None:
            ch.fire("CHANNEL_EXECUTE_COMPLETE", [("Application", "socket"), ("Application-Data", arg),
                                                 ("Application-Response", "_none_"), ("Application-UUID", app_uuid)])
            return None
        reader, writer = opened
        conn = Connection(self, reader, writer, channel=ch)
        self._add_connection(conn)
        ch.socket_controlled = True
        ch.socket_lost = False  # switch_ivr_park sets CF_CONTROLLED again
        if call is not None:
            call.socket = conn
        reader_task = self.spawn(self._serve(conn))
        # wait for 'connect' (the session waits for the app before parking)
        while not conn.connected and not conn.closed and not ch.hungup:
            await asyncio.sleep(0.002)
        if call is not None:
            call.socket_connected.set()
        for waiter in self._outbound_waiters:
            if not waiter.done():
                waiter.set_result(conn)
        self._outbound_waiters = [w for w in self._outbound_waiters if not w.done()]
        if conn.closed and not ch.hungup:
            # the app went away before or right after connect: FreeSWITCH hangs up
            ch.hangup("NORMAL_CLEARING")
        if not ch.hungup:
            ch.state, ch.state_number = "CS_EXECUTE", 4
            await apps_mod.park_loop(ch)
        del reader_task
        return ("socket", arg, app_uuid)

    async def wait_outbound_connection(self, timeout: float = 2.0) -> Connection:
        """Wait for the next outbound socket to complete its ``connect``."""
        fut: asyncio.Future[Connection] = asyncio.get_running_loop().create_future()
        self._outbound_waiters.append(fut)
        return await asyncio.wait_for(fut, timeout)

    # -- originate (loopback pairs, other endpoints via bridge_policy) -----------------------
    async def originate(self, arg: str) -> str:
        """``originate <dial string> <&app(arg) | extension> [dialplan] [context] [cid_name] [cid_num] [timeout]``."""
        parts = arg.split()
        if len(parts) < 2:
            return "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n"
        dial, target = parts[0], parts[1]
        variables, endpoints = parse_dial_string(dial)
        if not endpoints:
            return "-ERR INVALID_URL\n"
        endpoint = endpoints[0]
        a_uuid = variables.get("origination_uuid") or str(uuidlib.uuid4())
        cid_num = variables.get("origination_caller_id_number") or (parts[5] if len(parts) > 5 else "0000000000")
        cid_name = variables.get("origination_caller_id_name")
        timeout = float(variables.get("originate_timeout") or (parts[6] if len(parts) > 6 else 60))
        is_loop = endpoint.startswith("loopback/")
        dest = endpoint.split("/")[1] if is_loop else endpoint.rsplit("/", 1)[-1]
        if is_loop and self.route(dest) is None:
            return "-ERR NO_ROUTE_DESTINATION\n"
        a = self.new_channel(
            name=f"loopback/{dest}-a" if is_loop else endpoint, uuid=a_uuid, direction="outbound",
            profile=Profile(direction="outbound", logical_direction="outbound", caller_id_number=cid_num,
                            caller_id_name=cid_name, destination_number=dest,
                            source="mod_loopback" if is_loop else "mod_sofia"),
            layout="originate")
        a.hit_dialplan = False
        a.set_var("call_uuid", a.uuid)
        for k, v in variables.items():
            a.set_var(k, v)
        a.set_var("originate_early_media", "true")
        a.set_var("originate_endpoint", endpoint.split("/")[0])
        b: Channel | None = None
        if is_loop:
            b = self.new_channel(
                name=f"loopback/{dest}-b", direction="inbound", layout="loopback_b",
                profile=Profile(direction="inbound", logical_direction="inbound", caller_id_number=cid_num,
                                caller_id_name=cid_name, destination_number=dest),
                variables=list(variables.items()))
            b.set_var("other_loopback_leg_uuid", a.uuid)
            b.set_var("loopback_leg", "B")
            b.set_var("call_uuid", b.uuid)  # FreeSWITCH's session thread sets it: races with the lines above
            a.set_var("other_loopback_leg_uuid", b.uuid)
            a.set_var("loopback_leg", "A")
            a.loopback_peer, b.loopback_peer = b, a
        a.fire("CHANNEL_CREATE")
        a.state, a.state_number = "CS_CONSUME_MEDIA", 7  # waits in the originate for the far end
        if b is not None:
            b.fire("CHANNEL_CREATE")
            plan = self.route(dest) or [("park", "")]
            self.spawn(self._run_channel(b, plan))
            await a.wait_input(timeout, dtmf=False,
                               until=lambda: a.answered.is_set() or a.transfer_request is not None)
            if a.transfer_request is not None and not a.answered.is_set() and not a.hungup:
                # the ringing leg was transferred away: the originate gives up, the leg follows the transfer
                self.spawn(self._run_channel(a, []))
                return "-ERR ORIGINATOR_CANCEL\n"
            if not a.answered.is_set():
                cause = a.hangup_cause or "NO_ANSWER"
                a.hangup(cause)
                self.spawn(a.finish())
                return f"-ERR {cause}\n"
        else:
            outcome = self.bridge_policy(endpoint)
            if outcome.cause is not None or outcome.answer_after > timeout:
                cause = outcome.cause or "NO_ANSWER"
                a.hangup(cause)
                self.spawn(a.finish())
                return f"-ERR {cause}\n"
            await self.clock.sleep(outcome.answer_after)
            a.mark_answered()
            if outcome.talk_seconds is not None:
                self.spawn(apps_mod._hangup_later(a, outcome.talk_seconds))
        if target.startswith("&"):
            m = re.fullmatch(r"&([A-Za-z0-9_]+)(?:\((.*)\))?", target)
            app_plan = [(m.group(1), m.group(2) or "")] if m else [("park", "")]
        else:
            app_plan = self.route(target) or [("park", "")]
        self.spawn(self._run_channel(a, app_plan))
        return f"+OK {a.uuid}\n"

    # -- inbound connections ------------------------------------------------------------------
    async def _handle_inbound(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        self._add_connection(conn)
        await self._awake.wait()
        conn.send(auth_request())
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        try:
            await self._serve(conn)
        finally:
            if task is not None:
                self._handlers.discard(task)

    async def _serve(self, conn: Connection) -> None:
        try:
            # when the bytes of each command were read: the commands left over from one read
            # share its time, unless more came in meanwhile (then it is the time of parsing)
            buffered, read_at, left = conn.reader._buffer, 0.0, -1
            while not conn.closed:
                fresh = len(buffered) != left or b"\n\n" not in buffered
                cmd = await read_command(conn.reader)
                if cmd is None:
                    break
                left = len(buffered)
                if fresh:
                    read_at = time.perf_counter()
                await self._awake.wait()
                self.received_commands.append(ReceivedCommand(conn.origin, cmd.line, dict(cmd.headers), cmd.body,
                                                              read_at))
                await self._handle_command(conn, cmd)
                self._reindex(conn)
                if not conn.closed:
                    try:
                        await conn.drain()
                    except (ConnectionError, RuntimeError):
                        break
        except (ConnectionError, asyncio.IncompleteReadError, ProtocolError) as exc:
            log.debug("fsim connection ended: %s", exc)
        finally:
            conn.close(by_peer=True)  # a no-op when the node closed it

    def _socket_gone(self, ch: Channel) -> None:
        """The application closed a call's outbound socket (it stopped or crashed) while the
        call is up. As mod_event_socket does (``listener_run``'s end clears CF_CONTROLLED, which
        ends ``switch_ivr_park``): the application running now (a playback, a bridge with its
        talk) goes on to its end, queued ones run, then the ``socket`` application returns and
        the dialplan goes on — Pult's answer has nothing after ``socket``, so the call is hung
        up with NORMAL_CLEARING. Nothing is left parked without a controller."""
        if ch.hungup or ch.destroyed or not ch.socket_controlled:
            return
        ch.socket_controlled = False
        ch.socket_lost = True
        ch._poke()

    async def _handle_command(self, conn: Connection, cmd: Command) -> None:
        verb = cmd.verb
        if conn.channel is not None and not conn.connected:
            if verb == "connect":
                conn.connected = True
                conn.send(format_message(conn.channel.channel_data_headers() + [
                    ("Content-Type", "command/reply"), ("Reply-Text", "%2BOK%0A"),
                    ("Socket-Mode", "async"), ("Control", "full")]))
            else:
                conn.send(command_reply("-ERR command not found"))
            return
        if not conn.authed:
            if verb == "auth":
                if cmd.arg.strip() == self.password:
                    conn.authed = True
                    conn.send(command_reply("+OK accepted"))
                else:
                    conn.send(command_reply("-ERR invalid"))
                    conn.send(disconnect_notice())
                    await self._flush_close(conn)
            else:
                conn.send(command_reply("-ERR invalid"))
            return
        handler = {
            "api": self._cmd_api, "bgapi": self._cmd_bgapi, "event": self._cmd_event,
            "nixevent": self._cmd_nixevent, "noevents": self._cmd_noevents, "filter": self._cmd_filter,
            "exit": self._cmd_exit, "log": self._cmd_log, "nolog": self._cmd_nolog,
            "sendmsg": self._cmd_sendmsg, "myevents": self._cmd_myevents, "linger": self._cmd_linger,
            "nolinger": self._cmd_nolinger, "divert_events": self._cmd_divert, "resume": self._cmd_resume,
            "getvar": self._cmd_getvar, "sendevent": self._cmd_sendevent,
        }.get(verb)
        if handler is None:
            conn.send(command_reply("-ERR command not found"))
            return
        await handler(conn, cmd)

    async def _flush_close(self, conn: Connection) -> None:
        try:
            await asyncio.wait_for(conn.drain(), 1.0)
        except (ConnectionError, asyncio.TimeoutError, RuntimeError):
            pass
        conn.close()

    async def _cmd_api(self, conn: Connection, cmd: Command) -> None:
        output = await self.api(cmd.arg)
        conn.send(api_response(output))

    async def _cmd_bgapi(self, conn: Connection, cmd: Command) -> None:
        job_uuid = cmd.headers.get("Job-UUID") or str(uuidlib.uuid4())
        conn.send(command_reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)]))
        command, _, arg = cmd.arg.partition(" ")

        async def job() -> None:
            output = await self.api(cmd.arg)
            self.dispatch(self.factory.background_job(job_uuid, command, arg, output))

        self.spawn(job())

    def _parse_event_names(self, conn: Connection, names: list[str], add: bool) -> None:
        custom = False
        for name in names:
            if custom or ("::" in name and name.upper() != "ALL"):
                (conn.custom.add if add else conn.custom.discard)(name)
                continue
            upper = name.upper()
            if upper == "CUSTOM":
                custom = True
                continue
            if upper == "ALL":
                conn.all_events = add
                if not add:
                    conn.events.clear()
                    conn.custom.clear()
                continue
            (conn.events.add if add else conn.events.discard)(upper)

    async def _cmd_event(self, conn: Connection, cmd: Command) -> None:
        parts = cmd.arg.split()
        fmt = "plain"
        if parts and parts[0].lower() in ("plain", "json", "xml"):
            fmt = parts.pop(0).lower()
        if fmt == "xml":
            conn.send(command_reply("-ERR xml event format is not supported by the simulator"))
            return
        if not parts:
            conn.send(command_reply("-ERR no keywords supplied"))
            return
        conn.format = fmt
        self._parse_event_names(conn, parts, add=True)
        conn.send(command_reply(f"+OK event listener enabled {fmt}"))
        self._flush_pending(conn)

    async def _cmd_nixevent(self, conn: Connection, cmd: Command) -> None:
        self._parse_event_names(conn, cmd.arg.split(), add=False)
        conn.send(command_reply("+OK events nixed"))

    async def _cmd_noevents(self, conn: Connection, cmd: Command) -> None:
        conn.events.clear()
        conn.custom.clear()
        conn.all_events = False
        conn.send(command_reply("+OK no longer listening for events"))

    async def _cmd_filter(self, conn: Connection, cmd: Command) -> None:
        parts = cmd.arg.split(" ", 1)
        if parts and parts[0].lower() == "delete":
            rest = parts[1].strip() if len(parts) > 1 else ""
            if rest.lower() == "all" or not rest:
                conn.filters.clear()
                conn.send(command_reply("+OK filter deleted."))
                return
            header, _, value = rest.partition(" ")
            conn.filters = [(h, v) for h, v in conn.filters if not (h == header and (not value or v == value))]
            conn.send(command_reply(f"+OK filter deleted. [{header}]=[{value}]"))
            return
        if len(parts) < 2 or not parts[0]:
            conn.send(command_reply("-ERR invalid syntax"))
            return
        header, value = parts[0], parts[1].strip()
        conn.filters.append((header, value))
        conn.send(command_reply(f"+OK filter added. [{header}]=[{value}]"))

    async def _cmd_exit(self, conn: Connection, cmd: Command) -> None:
        conn.send(command_reply("+OK bye"))
        if conn.channel is None:
            conn.send(disconnect_notice())
        await self._flush_close(conn)
        if conn.channel is not None:  # the listener ends: as when the application closes the socket
            self._socket_gone(conn.channel)

    async def _cmd_log(self, conn: Connection, cmd: Command) -> None:
        level = cmd.arg.strip() or "debug"
        levels = {"console": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}
        num = int(level) if level.isdigit() else levels.get(level.lower(), 7)
        name = next((k for k, v in levels.items() if v == num), "DEBUG").upper()
        conn.send(command_reply(f"+OK log level {name} [{num}]"))

    async def _cmd_nolog(self, conn: Connection, cmd: Command) -> None:
        conn.send(command_reply("+OK no longer logging"))

    async def _cmd_divert(self, conn: Connection, cmd: Command) -> None:
        conn.send(command_reply("+OK events diverted" if cmd.arg.strip().lower() == "on" else "+OK events not diverted"))

    async def _cmd_resume(self, conn: Connection, cmd: Command) -> None:
        conn.send(command_reply("+OK"))

    async def _cmd_getvar(self, conn: Connection, cmd: Command) -> None:
        ch = conn.channel
        value = ch.get_var(cmd.arg.strip(), "") if ch else ""
        conn.send(api_response(value or ""))

    async def _cmd_sendevent(self, conn: Connection, cmd: Command) -> None:
        name = cmd.arg.strip().upper() or "CUSTOM"
        headers = self.factory.common(name, subclass=cmd.headers.get("Event-Subclass"))
        headers += [(k, v) for k, v in cmd.headers.items() if k not in ("Event-Subclass", "Content-Length")]
        self.dispatch(Event(headers, cmd.body or None))
        conn.send(command_reply(f"+OK {uuidlib.uuid4()}"))

    async def _cmd_myevents(self, conn: Connection, cmd: Command) -> None:
        parts = cmd.arg.split()
        uuid = conn.channel.uuid if conn.channel is not None else None
        if parts and parts[0].lower() not in ("plain", "json", "xml"):
            uuid = parts.pop(0)
        if parts:
            conn.format = "json" if parts[0].lower() == "json" else "plain"
        if uuid is None or (conn.channel is None and uuid not in self.channels):
            conn.send(command_reply("-ERR invalid uuid" if uuid else "-ERR no uuid given"))
            return
        conn.myevents_uuid = uuid
        conn.events |= MYEVENTS
        conn.send(command_reply("+OK Events Enabled"))
        self._flush_pending(conn)

    def _flush_pending(self, conn: Connection) -> None:
        pending, conn.pending = conn.pending, []
        for event in pending:
            if conn.wants(event):
                conn.send(event.encode(conn.format))

    async def _cmd_linger(self, conn: Connection, cmd: Command) -> None:
        # mod_event_socket: "linger" = until the client closes; "linger N" = N seconds
        # (atoi, so a non-number is 0 seconds)
        conn.linger = True
        arg = cmd.arg.strip()
        if arg:
            digits = re.match(r"[+-]?\d+", arg)
            conn.linger_seconds = int(digits.group(0)) if digits else 0
            conn.send(command_reply(f"+OK will linger {conn.linger_seconds} seconds"))
        else:
            conn.linger_seconds = -1
            conn.send(command_reply("+OK will linger"))

    async def _cmd_nolinger(self, conn: Connection, cmd: Command) -> None:
        conn.linger = False
        conn.send(command_reply("+OK will not linger"))

    async def _cmd_sendmsg(self, conn: Connection, cmd: Command) -> None:
        uuid = cmd.arg.strip() or cmd.headers.get("Unique-ID") or (conn.channel.uuid if conn.channel else "")
        ch = self.channels.get(uuid)
        if ch is None:
            conn.send(command_reply("-ERR invalid session id [%s]" % uuid))
            return
        h = {k.lower(): v for k, v in cmd.headers.items()}
        what = h.get("call-command", "").lower()
        if what == "execute":
            app = h.get("execute-app-name", "")
            arg = h.get("execute-app-arg", "")
            if not arg and cmd.body and h.get("content-type", "") == "text/plain":
                arg = cmd.body
            loops = int(h.get("loops", "1") or "1")
            if not app:
                conn.send(command_reply("-ERR no execute-app-name"))
                return
            for _ in range(max(1, loops)):
                ch.enqueue_app(app, arg, cmd.headers.get("Event-UUID"))
            conn.send(command_reply("+OK"))
        elif what == "hangup":
            conn.send(command_reply("+OK"))
            cause = h.get("hangup-cause", "NORMAL_CLEARING")
            if ch.app_queue:  # async mode: one private event queue (switch_ivr_parse_event), in order
                ch.enqueue_app(apps_mod.HANGUP_COMMAND, cause)
            else:
                ch.hangup(cause)
        elif what in ("unicast", "nomedia", "xferext", "unhold", "hold"):
            conn.send(command_reply("+OK"))
        else:
            conn.send(command_reply(f"-ERR invalid command {what}" if what else "-ERR no call-command"))

    # -- API commands -------------------------------------------------------------------------
    async def api(self, line: str) -> str:
        """Run an API command and return its output (the api/response body)."""
        command, _, arg = line.strip().partition(" ")
        arg = arg.strip()
        fn = getattr(self, f"_api_{command.lower()}", None) if re.fullmatch(r"[A-Za-z_]+", command or "") else None
        if fn is None:
            return f"-ERR {command} Command not found!\n"
        return await fn(arg)

    def _channel_or_none(self, uuid: str) -> Channel | None:
        ch = self.channels.get(uuid)
        return ch if ch is not None and not ch.hungup else None

    async def _api_version(self, arg: str) -> str:
        return VERSION + "\n"

    def _uptime_text(self) -> str:
        total = time.monotonic() - self._started_at
        secs = int(total)
        ms = int((total - secs) * 1000)
        us = int((total * 1_000_000) % 1000)
        y, rem = divmod(secs, 365 * 86400)
        d, rem = divmod(rem, 86400)
        h, rem = divmod(rem, 3600)
        m, s = divmod(rem, 60)
        return (f"UP {y} years, {d} days, {h} hours, {m} minutes, {s} seconds, {ms} milliseconds, "
                f"{us} microseconds")

    async def _api_status(self, arg: str) -> str:
        n = len(self.channels)
        return (
            f"{self._uptime_text()}\n"
            "FreeSWITCH (Version 1.10.12-release git a88d069 2024-08-02 21:02:27Z 64bit) is ready\n"
            f"{self.sessions_since_startup} session(s) since startup\n"
            f"{n} session(s) - peak {self.peak_sessions}, last 5min {self.sessions_since_startup} \n"
            "0 session(s) per Sec out of max 200, peak 0, last 5min 0 \n"
            "2000 session(s) max\n"
            "min idle cpu 0.00/99.13\n"
            "Current Stack Size/Max 240K/8192K\n"
        )

    async def _api_uptime(self, arg: str) -> str:
        total = time.monotonic() - self._started_at
        div = {"us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}.get(arg or "s", 1)
        return f"{int(total / div)}\n"

    _SHOW_COLUMNS = ["uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
                     "ip_addr", "dest", "application", "application_data", "dialplan", "context", "read_codec",
                     "read_rate", "read_bit_rate", "write_codec", "write_rate", "write_bit_rate", "secure",
                     "hostname", "presence_id", "presence_data", "accountcode", "callstate", "callee_name",
                     "callee_num", "callee_direction", "call_uuid", "sent_callee_name", "sent_callee_num",
                     "initial_cid_name", "initial_cid_num", "initial_ip_addr", "initial_dest",
                     "initial_dialplan", "initial_context"]

    def _show_row(self, ch: Channel) -> dict[str, str]:
        from .events import local_stamp

        p = ch.profile
        row = dict.fromkeys(self._SHOW_COLUMNS, "")
        row.update(uuid=ch.uuid, direction=ch.direction, created=local_stamp(ch.created_us),
                   created_epoch=str(ch.created_us // 1_000_000), name=ch.name, state=ch.state,
                   cid_name=p.caller_id_name or "", cid_num=p.caller_id_number, dest=p.destination_number,
                   application=ch.current_app or "", dialplan=p.dialplan, context=p.context,
                   read_codec="L16", read_rate="8000", read_bit_rate="128000", write_codec="L16",
                   write_rate="8000", write_bit_rate="128000", hostname=self.core.hostname,
                   callstate=ch.call_state, call_uuid=ch.uuid, initial_cid_num=p.caller_id_number,
                   initial_dest=p.destination_number, initial_dialplan=p.dialplan, initial_context=p.context)
        return row

    async def _api_show(self, arg: str) -> str:
        words = arg.split()
        if words and words[0].lower() == "registrations":
            rows = [r.json_row(self.core.hostname) for r in self.registrations]
            if words[-2:] == ["as", "json"]:
                doc = {"row_count": len(rows), "rows": rows} if rows else {"row_count": 0}
                return json.dumps(doc, separators=(",", ":"))
            cols = list(Registration("x", "x").json_row("").keys())
            return "\n".join([",".join(cols)] + [",".join(r[c] for c in cols) for r in rows]) + \
                f"\n\n{len(rows)} total.\n"
        if not words or words[0].lower() not in ("channels", "calls"):
            return "-USAGE: show channels|calls|registrations [count] [as json]\n"
        chans = [ch for ch in self.channels.values() if not ch.destroyed]
        if words[0].lower() == "calls":
            chans = [ch for ch in chans if not (ch.loopback_peer is not None and ch.direction == "inbound")
                     and not (ch.other_leg is not None and ch.other_type == "originator")]
        if "count" in [w.lower() for w in words[1:]]:
            if "json" in [w.lower() for w in words]:
                return json.dumps({"row_count": len(chans)}) + "\n"
            return f"\n{len(chans)} total.\n"
        if words[-2:] == ["as", "json"]:
            if not chans:
                return '{"row_count": 0}\n'
            return json.dumps({"row_count": len(chans), "rows": [self._show_row(ch) for ch in chans]},
                              indent=1) + "\n"
        lines = [",".join(self._SHOW_COLUMNS)]
        lines += [",".join(self._show_row(ch)[c] for c in self._SHOW_COLUMNS) for ch in chans]
        return "\n".join(lines) + f"\n\n{len(chans)} total.\n"

    async def _api_uuid_kill(self, arg: str) -> str:
        parts = arg.split()
        if not parts:
            return "-USAGE: <uuid> [cause]\n"
        ch = self._channel_or_none(parts[0])
        if ch is None:
            return "-ERR No such channel!\n"
        cause = parts[1].upper() if len(parts) > 1 else "NORMAL_CLEARING"
        if cause not in HANGUP_CAUSES:
            cause = "NORMAL_CLEARING"
        ch.hangup(cause)
        return "+OK\n"

    async def _api_hupall(self, arg: str) -> str:
        cause = (arg.split()[0].upper() if arg.split() else "MANAGER_REQUEST")
        for ch in list(self.channels.values()):
            if not ch.hungup:
                ch.hangup(cause)
        return f"+OK hangup all channels with cause {cause}\n"

    async def _api_uuid_transfer(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        ch = self._channel_or_none(parts[0])
        if ch is None:
            return "-ERR No such channel!\n"
        rest = parts[1:]
        if rest[0].startswith("-"):
            rest = rest[1:]
        if not rest:
            return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
        dest = rest[0]
        dialplan = rest[1] if len(rest) > 1 else "XML"
        context = rest[2] if len(rest) > 2 else ch.profile.context
        self._request_transfer(ch, dest, dialplan, context)
        return "+OK\n"

    async def _api_uuid_send_dtmf(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> <dtmf_data>\n"
        ch = self._channel_or_none(parts[0])
        if ch is None:
            return "-ERR No such channel!\n"
        digits = parts[1].split("@")[0]
        target = ch.loopback_peer or ch
        try:
            target.queue_dtmf(digits)
        except ValueError as exc:
            return f"-ERR {exc}\n"
        ch.set_var("last_dtmf_duration", "1500")  # the sending leg keeps the duration it used (as recorded)
        return f"+OK {ch.uuid} sent DTMF {digits}.\n"

    async def _api_uuid_getvar(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> <var>\n"
        ch = self.channels.get(parts[0])
        if ch is None:
            return "-ERR No such channel!\n"
        return ch.get_var(parts[1], "_undef_") or "_undef_"

    async def _api_uuid_setvar(self, arg: str) -> str:
        parts = arg.split(" ", 2)
        if len(parts) < 2:
            return "-USAGE: <uuid> <var> [value]\n"
        ch = self.channels.get(parts[0])
        if ch is None:
            return "-ERR No such channel!\n"
        ch.set_var(parts[1], parts[2] if len(parts) > 2 else None)
        return "+OK\n"

    async def _api_uuid_exists(self, arg: str) -> str:
        return "true" if self._channel_or_none(arg.strip()) else "false"

    async def _api_uuid_break(self, arg: str) -> str:
        ch = self._channel_or_none(arg.split()[0] if arg.split() else "")
        if ch is None:
            return "-ERR No such channel!\n"
        ch.request_break()
        return "+OK\n"

    async def _api_uuid_answer(self, arg: str) -> str:
        ch = self._channel_or_none(arg.strip())
        if ch is None:
            return "-ERR No such channel!\n"
        ch.mark_answered()
        return "+OK\n"

    async def _api_uuid_broadcast(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 2:
            return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
        ch = self._channel_or_none(parts[0])
        if ch is None:
            return "-ERR No such channel!\n"
        path = parts[1]
        app, _, app_arg = path.partition("::")
        if app_arg:
            ch.enqueue_app(app, app_arg.replace(" ", " "))
        else:
            ch.enqueue_app("playback", path)
        return "+OK Message sent\n"

    async def _api_uuid_record(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 3:
            return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
        ch = self._channel_or_none(parts[0])
        if ch is None:
            return "-ERR Cannot locate session!\n"
        action, path = parts[1].lower(), parts[2]
        if action == "start":
            ch._bg_record_start = self.clock.now_us()  # type: ignore[attr-defined]
            ch.fire("RECORD_START", [("Record-File-Path", path)])
        elif action == "stop":
            start = getattr(ch, "_bg_record_start", self.clock.now_us())
            ms = (self.clock.now_us() - start) // 1000
            size = apps_mod._write_silence_wav(str(self.local_path(path)), ms) if self.write_recordings else 44 + ms * 16
            for k, v in (("record_file_size", size), ("record_samples", ms * 8), ("record_seconds", ms // 1000),
                         ("record_ms", ms), ("record_completion_cause", "success-maxtime")):
                ch.set_var(k, v)
            ch.fire("RECORD_STOP", [("Record-File-Path", path), ("Record-Completion-Cause", "success-maxtime")])
        else:
            return "-ERR unsupported action\n"
        return "+OK Success\n"

    async def _api_originate(self, arg: str) -> str:
        return await self.originate(arg)

    async def _api_conference(self, arg: str) -> str:
        parts = arg.split()
        if len(parts) < 2:
            return "-ERR no conference specified\n" if not parts else f"Conference {parts[0]} not found\n"
        conf = self.conferences.get(parts[0])
        if conf is None:
            return f"+OK Conference {parts[0]} not found\n"
        sub = parts[1].lower()
        if sub == "list":
            return conf.list_text()
        if sub == "count":
            return f"{len(conf.members)}\n"
        if sub == "kick":
            who = parts[2] if len(parts) > 2 else ""
            ids = sorted(conf.members, reverse=True) if who == "all" else ([int(who)] if who.isdigit() else [])
            out = "".join(f"+OK kicked {mid}\n" for mid in conf.kick(ids))
            return out or "-ERR Non-Existant ID\n"
        if sub == "json_list":
            return cjson_print([conf.as_json()])
        return f"-ERR unsupported conference command {sub}\n"

    async def _api_reloadxml(self, arg: str) -> str:
        return "+OK [Success]\n"

    async def _api_echo(self, arg: str) -> str:
        return arg + "\n"

    async def _api_global_getvar(self, arg: str) -> str:
        return {"hostname": self.core.hostname, "core_uuid": self.core.core_uuid}.get(arg.strip(), "")

    async def _api_sofia(self, arg: str) -> str:
        """``sofia status`` (one profile, ``internal``) and ``sofia status profile internal reg``."""
        words = arg.split()
        rule = "=" * 97 + "\n"
        if words[:3] == ["status", "profile", "internal"] and words[3:4] == ["reg"]:
            blocks = "".join(r.status_text(self.core.hostname) for r in self.registrations)
            return f"\nRegistrations:\n{rule}{blocks}Total items returned: {len(self.registrations)}\n{rule}"
        # The simulator has no SIP gateways: mod_sofia's empty gateway listings (not recorded in
        # the traces; shapes from mod_sofia's source, see README "Differences from the traces").
        if words[:2] == ["xmlstatus", "gateway"]:
            return '<?xml version="1.0" encoding="ISO-8859-1"?>\n<gateways>\n</gateways>\n'
        if words[:2] == ["status", "gateway"]:
            return ("                                            Profile::Gateway-Name\t"
                    "                                      Data\t    State\tIB Calls(F/T)\tOB Calls(F/T)\n"
                    f"{rule}{rule}0 gateways: 0 up, 0 down\n")
        return ("                     Name\t   Type\t                                      Data\tState\n"
                f"{rule}"
                "                 internal\tprofile\t           sip:mod_sofia@127.0.0.1:5060\tRUNNING (0)\n"
                f"{rule}"
                "1 profile 0 aliases\n")

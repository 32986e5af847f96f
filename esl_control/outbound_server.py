"""The outbound socket server: FreeSWITCH's dialplan ``socket <host>:<port> async full`` lands here.

Each call is a greenswitch ``OutboundSession`` in the gevent thread, which does what the
recorded trace shows a working client do — ``connect`` (the reply carries the channel data),
``myevents``, ``linger``, ``event plain DTMF CHANNEL_EXECUTE_COMPLETE`` — sent in one write and
answered in order (FreeSWITCH runs a socket's commands one after the other, so this is one round
trip instead of four) — and then hands the call to asyncio as a :class:`Call`, driven by a :class:`FlowRunner`::

    class MyFlow:
        async def run(self, call: Call) -> None:
            await call.execute("answer")
            done = await call.execute("playback", "ivr/ivr-welcome.wav")  # waits for completion
            digit = await call.next_dtmf(timeout=5)
            await call.hangup("NORMAL_CLEARING")

``linger N`` keeps the socket open after hang-up until FreeSWITCH has sent everything, so the
CHANNEL_HANGUP_COMPLETE with all billing variables reaches the call-record writer (the same
event also arrives on the inbound connection; the writer stores it once). Pult closes the socket
as soon as that final event is in and the flow has finished; the ``N`` seconds bound it on the
switch's side too. (A plain ``linger`` means "until the client closes": the switch keeps the dead
channel in ``show channels``, counted against ``max-sessions``, for as long as the socket is
open — found on the real switch.)
"""
from __future__ import annotations

import asyncio
import functools
import inspect
import random
import re
import uuid as uuidlib
from typing import Any, Callable, Coroutine, Protocol

import gevent
import gevent.event

from pult.observability import OUTBOUND_SESSIONS, get_logger
from pult.settings import Settings
from storage.priority import mark_urgent

from .transport.connection import in_background
from .transport.errors import CallGone, EslCommandError, EslNotConnected, EslTimeout
from .transport.greenswitch_ext import (Closed, NotConnectedError, OutboundSessionHasGoneAway,
                                        PultOutboundServer, PultOutboundSession)
from .transport.hub import GeventThread, HubStopped
from .transport.protocol import EslEvent, EslMessage, format_command

log = get_logger(__name__)

__all__ = ["Call", "FlowRunner", "DefaultFlow", "OutboundServer", "OUTBOUND_EVENTS", "CALL_EVENTS_KEPT"]

#: Subscribed after ``myevents``, exactly as in the recorded working session.
OUTBOUND_EVENTS = ("DTMF", "CHANNEL_EXECUTE_COMPLETE")
_CAUSE_RE = re.compile(r"[A-Z][A-Z0-9_]*")
_APP_RE = re.compile(r"[A-Za-z0-9_:.-]+")


class FlowRunner(Protocol):
    """What drives a call: the flow engine implements this; :class:`DefaultFlow` is the fallback."""

    async def run(self, call: "Call") -> None: ...


class DefaultFlow:
    """Answer, play one prompt, hang up — what a call does when no flow engine is configured."""

    def __init__(self, prompt: str = "ivr/ivr-welcome.wav") -> None:
        self.prompt = prompt

    async def run(self, call: "Call") -> None:
        await call.execute("answer")
        await call.execute("playback", self.prompt)
        await call.hangup("NORMAL_CLEARING")


#: applications sent without waiting (``execute(wait=False)``) whose replies are checked at the
#: latest when this many are outstanding
MAX_UNCONFIRMED = 16


def _retrieved(fut: asyncio.Future) -> None:
    if not fut.cancelled():
        fut.exception()


#: the ids of executions (``Event-UUID``): unique per call is all they need, so not from
#: ``os.urandom`` (a system call per command, tens of µs on a busy machine)
_app_ids = random.Random()


def _app_uuid() -> str:
    return str(uuidlib.UUID(int=_app_ids.getrandbits(128), version=4))


# ---------------------------------------------------------------------------------- hub side
class _Link:
    """Joins one outbound session (hub) to its :class:`Call` (asyncio); created per socket."""

    def __init__(self, hub: GeventThread) -> None:
        self.hub = hub
        self.session: PultOutboundSession | None = None
        self.g_closed = gevent.event.Event()  # hub side: the socket is gone
        self.call: Call | None = None  # asyncio side
        self._early: list = []

    def from_hub(self, batch: list) -> None:
        if batch and type(batch[-1]) is Closed:
            self.g_closed.set()
        self.hub.to_asyncio(self.deliver, batch)

    def deliver(self, batch: list) -> None:  # asyncio
        if self.call is None:
            self._early.extend(batch)
        else:
            self.call._on_events(batch)

    def attach(self, call: "Call") -> None:  # asyncio
        self.call = call
        early, self._early = self._early, []
        if early:
            call._on_events(early)


class _SessionApp:
    """greenswitch's "application": runs in a greenlet for the life of the call socket."""

    def __init__(self, server: "OutboundServer", session: PultOutboundSession) -> None:
        self.server = server
        self.session = session

    def run(self) -> None:
        session = self.session
        link: _Link = session.link
        try:  # myevents, linger, event: sent with ``connect`` (one round trip), replies checked here
            replies = session.set_up_replies
            if len(replies) < 3:
                raise OutboundSessionHasGoneAway("no replies to the call set-up")
            if not replies[1].data.startswith("+OK"):
                raise OutboundSessionHasGoneAway(f"linger refused: {replies[1].data}")
        except (NotConnectedError, OutboundSessionHasGoneAway, OSError) as exc:
            _release_hold(session)
            log.warning("outbound call gone during set-up", peer=str(session.client_address),
                        error=str(exc))
            return
        data = {k: v for k, v in (session.session_data or {}).items()
                if k not in ("Content-Type", "Reply-Text", "Content-Length")}
        self.server.hub.to_asyncio(self.server._start_call, link, data, session.client_address)
        link.g_closed.wait()  # until FreeSWITCH (or Call.close) ends the socket


def _release_hold(session: Any) -> None:
    """Release the call's collector hold (normally released by its first write); any thread."""
    hold = getattr(session, "collector_hold", None)
    if hold is not None:
        session.after_write = None
        hold.release()


def _g_send(session: PultOutboundSession, text: str) -> EslMessage:
    try:
        return session.send(text)
    except (NotConnectedError, OutboundSessionHasGoneAway, OSError) as exc:
        raise CallGone(f"call socket closed: {exc}") from None


def _g_release(link: _Link, commands: list[str]) -> list[EslMessage]:
    """Send ``commands`` in one write, wait for their replies, close the socket (hub side)."""
    session = link.session
    try:
        return session.send_many(commands)
    except (NotConnectedError, OutboundSessionHasGoneAway, OSError) as exc:
        raise CallGone(f"call socket closed: {exc}") from None
    finally:
        _g_close(link)


def _g_send_all(session: PultOutboundSession, texts: list[str]) -> list:
    """Several commands of one call in one write; each one's reply, or the error it got."""
    try:
        replies = session.send_many(texts, return_exceptions=True)
    except (NotConnectedError, OutboundSessionHasGoneAway, OSError) as exc:
        return [CallGone(f"call socket closed: {exc}")] * len(texts)
    return [CallGone(f"call socket closed: {r}") if isinstance(r, BaseException) else r for r in replies]


def _g_close(link: _Link) -> None:
    """Close a call socket whose call is over (hub side)."""
    if not link.g_closed.is_set() and link.session is not None:
        link.session.stop(timeout=0.5)


# ---------------------------------------------------------------------------------- asyncio side
#: Events a :class:`Call` keeps for its flow (``Call.events``); a flow that never reads them
#: (most do not) must not make a long call hold every event it ever had: the oldest are dropped.
CALL_EVENTS_KEPT = 500


class Call:
    """One call handed to Pult by the dialplan ``socket`` application, used from asyncio.

    ``channel_data`` is the channel as of ``connect`` (URL-decoded headers). ``events`` receives
    every event of this channel (the last :data:`CALL_EVENTS_KEPT` of them when the flow does
    not read it); ``dtmf`` its digits. After the caller hangs up, commands raise
    :class:`CallGone`; ``hangup_event`` is CHANNEL_HANGUP_COMPLETE once it arrived.
    """

    def __init__(self, server: "OutboundServer", link: _Link, channel_data: dict[str, str],
                 node: str, peer: Any) -> None:
        self.server = server
        self._link = link
        self.channel_data = channel_data
        self.node = node
        self.peer = peer
        self.events: asyncio.Queue[EslEvent] = asyncio.Queue(CALL_EVENTS_KEPT)
        self.dtmf: asyncio.Queue[str] = asyncio.Queue()
        self.hungup = asyncio.Event()
        self.hangup_cause: str | None = None
        self.hangup_event: EslEvent | None = None
        #: set once the call's final event (CHANNEL_HANGUP_COMPLETE) is in, or the socket closed
        self.complete = asyncio.Event()
        self.closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._apps: dict[str, asyncio.Future] = {}
        #: set when the switch reports a calling fax tone (DETECTED_TONE with Detected-Fax-Tone;
        #: subscribed with :meth:`subscribe`, detection started by ``spandsp_start_fax_detect``)
        self.fax_tone = asyncio.Event()
        #: (application, reply future, command) sent without waiting, replies not checked yet
        self._unconfirmed: list[tuple[str, asyncio.Future, str]] = []
        #: commands not handed to the hub yet (see :meth:`_submit`) and their reply futures
        self._outbox: list[tuple[str, asyncio.Future]] = []
        self._flush_scheduled = False
        self._hangup_sent = False
        self._flow_task: asyncio.Task | None = None
        #: bridged to another leg (CHANNEL_BRIDGE seen, no CHANNEL_UNBRIDGE since): talking
        self.bridged = False
        #: what the switch is doing for the caller that must not be cut short when this Pult
        #: instance stops (``"conference"``, ``"record"``, ``"fax"``; set by the channel)
        self.busy_with: str | None = None
        #: handed to another instance (or to the switch's goodbye) when this one stopped
        self.handed_off = False

    def __repr__(self) -> str:
        return f"<Call {self.uuid} {self.caller}->{self.destination} on {self.node}>"

    @property
    def uuid(self) -> str:
        return self.channel_data.get("Unique-ID") or self.channel_data.get("variable_uuid", "")

    @property
    def caller(self) -> str | None:
        return self.channel_data.get("Caller-Caller-ID-Number")

    @property
    def destination(self) -> str | None:
        return self.channel_data.get("Caller-Destination-Number")

    def variable(self, name: str) -> str | None:
        """A channel variable as of ``connect`` (``variable_<name>``)."""
        return self.channel_data.get("variable_" + name)

    @property
    def gone(self) -> bool:
        return self.closed.done()

    # --- events
    def _on_events(self, batch: list) -> None:
        for item in batch:
            if type(item) is Closed:
                self._on_closed(item.reason)
                continue
            name = item.name
            if name == "CHANNEL_EXECUTE_COMPLETE":
                fut = self._apps.pop(item.peek("Application-UUID") or "", None)
                if fut is not None and not fut.done():
                    fut.set_result(item)
            elif name == "DTMF":
                self.dtmf.put_nowait(item.peek("DTMF-Digit") or "")
            elif name == "DETECTED_TONE":
                if (item.peek("Detected-Fax-Tone") or "").lower() == "true":
                    self.fax_tone.set()
            elif name == "CHANNEL_BRIDGE":
                self.bridged = True
            elif name == "CHANNEL_UNBRIDGE":
                self.bridged = False
            elif name == "CHANNEL_HANGUP":
                self.hangup_cause = item.peek("Hangup-Cause")
                self.hungup.set()
            elif name == "CHANNEL_HANGUP_COMPLETE":
                self.hangup_cause = self.hangup_cause or item.peek("Hangup-Cause")
                self.hangup_event = item
                self.hungup.set()
                self.complete.set()
                # the channel is gone: an application still queued on it never runs, and never
                # completes (its CHANNEL_EXECUTE_COMPLETE, had it run, came before this event)
                self._fail_apps("hung up")
            if self.events.full():  # nobody reads them: keep the newest
                self.events.get_nowait()
            self.events.put_nowait(item)
            self.server._on_call_event(self, item)

    def _on_closed(self, reason: str) -> None:
        if self.closed.done():
            return
        self.closed.set_result(reason)
        self.hungup.set()
        self.complete.set()
        self._fail_apps(reason)

    def _fail_apps(self, reason: str) -> None:
        for fut in self._apps.values():
            if not fut.done():
                fut.set_exception(CallGone(f"call {self.uuid} ended ({reason})"))
        self._apps.clear()

    @property
    def stays_on_stop(self) -> bool:
        """Left to the switch when this instance stops: talking (bridged) or in something the
        caller chose that the switch finishes alone (a conference, a message being recorded, a
        fax being received); every other call is handed off (:meth:`OutboundServer.hand_off`)."""
        return self.bridged or self.busy_with is not None

    # --- commands
    def _submit(self, text: str, *, now: bool = True) -> asyncio.Future:
        """Hand a command to the hub; the future is its reply (replies come in sending order).

        With ``now`` false (a command nobody waits for) it is kept until the next command that is
        waited for, or the end of this turn of the loop, whichever comes first, and then written
        together with the others (one hand-off to the ESL thread and one write instead of one per
        command; the order is kept)."""
        if self.closed.done():
            raise CallGone(f"call {self.uuid} has ended")
        fut = asyncio.get_running_loop().create_future()
        self._outbox.append((text, fut))
        if now:
            self._flush_outbox()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_outbox)
        return fut

    def _flush_outbox(self) -> None:
        self._flush_scheduled = False
        batch, self._outbox = self._outbox, []
        if not batch:
            return
        futs = [fut for _, fut in batch]
        try:
            if len(batch) == 1:
                sent = self.server.hub.call(_g_send, self._link.session, batch[0][0])
            else:
                sent = self.server.hub.call(_g_send_all, self._link.session, [text for text, _ in batch])
        except HubStopped as exc:  # the awaiting command (or the next one's check) raises it
            for fut in futs:
                fut.set_exception(CallGone(str(exc)))
            return

        def done(f: asyncio.Future) -> None:
            if f.cancelled() or f.exception() is not None:
                exc = CallGone(f"call {self.uuid}: command cancelled") if f.cancelled() else f.exception()
                if isinstance(exc, HubStopped):
                    exc = CallGone(str(exc))
                for fut in futs:
                    if not fut.done():
                        fut.set_exception(exc)
                return
            results = f.result() if len(futs) > 1 else [f.result()]
            for fut, result in zip(futs, results):
                if fut.done():
                    continue
                if isinstance(result, BaseException):
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
        sent.add_done_callback(done)

    async def _reply(self, fut: asyncio.Future, text: str, timeout: float | None = None) -> EslMessage:
        try:
            return await asyncio.wait_for(fut, timeout or self.server.command_timeout)
        except asyncio.TimeoutError:
            raise EslTimeout(f"call {self.uuid}: no reply to {text.split(chr(10), 1)[0]!r}") from None
        except HubStopped as exc:
            raise CallGone(str(exc)) from None

    async def _send(self, text: str, timeout: float | None = None) -> EslMessage:
        reply = await self._reply(self._submit(text), text, timeout)
        await self._confirm()
        return reply

    async def _confirm(self) -> None:
        """Check the replies of the applications sent without waiting (:meth:`execute`
        ``wait=False``). They were sent before the command just answered, so their replies are
        in; a refusal is raised here, naming its application."""
        pending, self._unconfirmed = self._unconfirmed, []
        for app, fut, text in pending:
            reply = await self._reply(fut, text)
            if reply.data.startswith("-ERR"):
                raise EslCommandError(f"call {self.uuid}: {app}: {reply.data}")

    async def execute(self, app: str, arg: str | None = None, *, wait: bool = True,
                      timeout: float | None = None) -> EslEvent | None:
        """Run a dialplan application on this channel (``sendmsg`` execute).

        With ``wait`` (default) return the CHANNEL_EXECUTE_COMPLETE of exactly this execution
        (matched by the ``Event-UUID`` we give it, which FreeSWITCH reports as Application-UUID);
        ``timeout`` bounds that wait (default: none — a playback lasts as long as it lasts).
        Without ``wait`` return as soon as the command is handed over, without waiting for the
        switch's reply either: the switch runs a channel's applications in the order sent
        (``event-lock``), so the next one sees its effect; its reply is checked when the next
        command's reply is in, and a refusal (``-ERR``) is raised there, naming this application
        (one round trip saved per such command: ``answer`` and the ``set``s before a playback).
        """
        if not wait:
            text, _ = self._sendmsg(app, arg)
            sent = self._submit(text, now=False)
            sent.add_done_callback(_retrieved)  # checked by the next command; never "unretrieved"
            self._unconfirmed.append((app, sent, text))
            if len(self._unconfirmed) >= MAX_UNCONFIRMED:
                await self._confirm()
            return None
        return await self.execute_now(app, arg, timeout=timeout)

    def execute_now(self, app: str, arg: str | None = None, *,
                    timeout: float | None = None) -> Coroutine[Any, Any, EslEvent | None]:
        """:meth:`execute` with ``wait``, except that the command is handed over now, in this
        very turn of the loop (with the commands sent without waiting before it: one write),
        whoever awaits its completion later — e.g. a task of its own, started only at the loop's
        next turn. Returns the awaitable of the CHANNEL_EXECUTE_COMPLETE; raises at once what
        :meth:`execute` would raise before sending (a bad name or argument, a call gone)."""
        text, app_uuid = self._sendmsg(app, arg)
        fut = asyncio.get_running_loop().create_future()
        self._apps[app_uuid] = fut
        try:
            sent = self._submit(text)
        except BaseException:
            self._apps.pop(app_uuid, None)
            raise
        sent.add_done_callback(_retrieved)  # awaited by _executed, unless never started
        return self._executed(app, app_uuid, fut, sent, text, timeout)

    def _sendmsg(self, app: str, arg: str | None) -> tuple[str, str]:
        """The ``sendmsg`` that runs ``app`` on this channel, and its execution id."""
        if not _APP_RE.fullmatch(app or ""):
            raise ValueError(f"not an application name: {app!r}")
        if self.hungup.is_set() and app != "hangup":
            raise CallGone(f"call {self.uuid} has hung up")
        app_uuid = _app_uuid()
        headers = {"call-command": "execute", "execute-app-name": app}
        if arg is not None:
            headers["execute-app-arg"] = arg
        headers["event-lock"] = "true"
        headers["Event-UUID"] = app_uuid
        return format_command("sendmsg", headers), app_uuid  # ValueError on a line break in arg

    async def _executed(self, app: str, app_uuid: str, fut: asyncio.Future, sent: asyncio.Future,
                        text: str, timeout: float | None) -> EslEvent | None:
        try:
            reply = await self._reply(sent, text)
            await self._confirm()
            if reply.data.startswith("-ERR"):
                raise EslCommandError(f"call {self.uuid}: {app}: {reply.data}")
            try:
                return await asyncio.wait_for(asyncio.shield(fut), timeout)
            except asyncio.TimeoutError:
                raise EslTimeout(f"call {self.uuid}: {app} not complete within {timeout} s") from None
        finally:
            self._apps.pop(app_uuid, None)

    async def subscribe(self, *names: str) -> None:
        """Receive these events of the call too (``event plain <names>``, added to the set-up's;
        ``myevents`` alone does not bring e.g. DETECTED_TONE). Not waited for, like
        ``execute(wait=False)``: the switch answers commands in order, so events of a later
        command come after; a refusal is raised with the next command."""
        if not names or not all(_APP_RE.fullmatch(n) for n in names):
            raise ValueError(f"not event names: {names!r}")
        text = format_command("event plain " + " ".join(names))
        sent = self._submit(text, now=False)
        sent.add_done_callback(_retrieved)
        self._unconfirmed.append(("event", sent, text))

    async def playback(self, path: str, *, timeout: float | None = None) -> EslEvent | None:
        return await self.execute("playback", path, timeout=timeout)

    async def set(self, name: str, value: str) -> None:
        """Set a channel variable (``set`` application)."""
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"not a channel variable name: {name!r}")
        await self.execute("set", f"{name}={value}")

    async def api(self, command: str) -> str:
        """An ``api`` command over this call's socket (e.g. ``uuid_getvar``)."""
        reply = await self._send(format_command(f"api {command}"))
        return reply.body

    async def getvar(self, name: str) -> str | None:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"not a channel variable name: {name!r}")
        value = (await self.api(f"uuid_getvar {self.uuid} {name}")).rstrip("\n")
        return None if value in ("_undef_", "") or value.startswith("-ERR") else value

    async def next_dtmf(self, timeout: float | None = None) -> str | None:
        """The next digit pressed, or ``None`` after ``timeout`` seconds / when the call ended."""
        get = asyncio.ensure_future(self.dtmf.get())
        gone = asyncio.ensure_future(self.hungup.wait())
        try:
            done, _ = await asyncio.wait({get, gone}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not get.done():
                get.cancel()
        return get.result() if get in done else None

    async def transfer_and_release(self, target: str, variables: dict[str, str] | None = None) -> str:
        """Hand the call back to the switch's dialplan and let it go: ``api uuid_setvar`` for each
        of ``variables``, ``api uuid_transfer <uuid> <target>``, ``exit`` — in one write, so the
        switch's listener for this socket ends right after the transfer (mod_event_socket runs
        an ``api`` in the listener thread before it reads the next command; the listener's end
        clears CF_CONTROLLED, which must happen before the transferred call parks under its
        next socket) — then the socket is closed. Returns the transfer's reply (``+OK`` or
        ``-ERR …``)."""
        if not re.fullmatch(r"[^\s]+( [^\s]+){0,2}", target or ""):
            raise ValueError(f"not a transfer target: {target!r}")
        commands = []
        for name, value in (variables or {}).items():
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or not re.fullmatch(r"[^\s$]+", value):
                raise ValueError(f"not a channel variable: {name}={value!r}")
            commands.append(format_command(f"api uuid_setvar {self.uuid} {name} {value}"))
        commands.append(format_command(f"api uuid_transfer {self.uuid} {target}"))
        commands.append(format_command("exit"))
        if self.closed.done():
            raise CallGone(f"call {self.uuid} has ended")
        self.handed_off = True
        self._flush_outbox()  # what the flow sent before goes first, as it would have
        try:
            replies = await asyncio.wait_for(self.server.hub.call(_g_release, self._link, commands),
                                             self.server.command_timeout)
        except HubStopped as exc:
            raise CallGone(str(exc)) from None
        except asyncio.TimeoutError:
            raise EslTimeout(f"call {self.uuid}: no reply to uuid_transfer") from None
        return replies[-2].body.strip() if len(replies) >= 2 else ""

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang the call up (idempotent: nothing happens once it is already down)."""
        if not _CAUSE_RE.fullmatch(cause):
            raise ValueError(f"not a hang-up cause: {cause!r} (e.g. NORMAL_CLEARING)")
        if self._hangup_sent or self.hungup.is_set():
            return
        self._hangup_sent = True
        text = format_command("sendmsg", {"call-command": "hangup", "hangup-cause": cause})
        try:
            reply = await self._reply(self._submit(text), text)
        except CallGone:
            return
        finally:
            self._unconfirmed = []  # hung up: an earlier refusal changes nothing any more
        if reply.data.startswith("-ERR") and not self.hungup.is_set():
            raise EslCommandError(f"call {self.uuid}: hangup: {reply.data}")


# ---------------------------------------------------------------------------------- the server
class OutboundServer:
    """Listens for FreeSWITCH's outbound sockets and runs one flow per call (see module doc)."""

    def __init__(self, hub: GeventThread, flow: FlowRunner | None = None, *, host: str = "127.0.0.1",
                 port: int = 8084, max_connections: int = 1000,
                 resolve_node: Callable[[dict, Any], str] | None = None,
                 command_timeout: float = 10.0, linger_seconds: int = 10) -> None:
        self.hub = hub
        self.flow: FlowRunner = flow or DefaultFlow()
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.max_connections = max_connections
        self.resolve_node = resolve_node or (lambda data, peer: data.get("FreeSWITCH-Switchname")
                                             or data.get("FreeSWITCH-Hostname") or "unknown")
        self.command_timeout = command_timeout
        if not 1 <= int(linger_seconds) <= 3600:
            raise ValueError(f"linger_seconds must be 1..3600 (got {linger_seconds!r})")
        #: how long the switch keeps a call socket open after hang-up at most (``linger N``);
        #: Pult closes it itself as soon as the final event is in, and after this long at most
        self.linger_seconds = int(linger_seconds)
        self.calls: dict[str, Call] = {}
        self._tasks: set[asyncio.Task] = set()
        self._handlers: dict[str, list[Callable[[str, EslEvent], Any]]] = {}
        self._g_server: PultOutboundServer | None = None

    @classmethod
    def from_settings(cls, settings: Settings, hub: GeventThread, flow: FlowRunner | None = None,
                      **kw: Any) -> "OutboundServer":
        return cls(hub, flow, host=settings.outbound_host, port=settings.outbound_port,
                   command_timeout=settings.esl_command_timeout, **kw)

    def on_event(self, key: str, handler: Callable[[str, EslEvent], Any]) -> None:
        """``handler(node, event)`` for events of any call socket (``"*"``: all)."""
        self._handlers.setdefault(key, []).append(handler)

    # --- lifecycle
    async def start(self) -> None:
        """Bind (errors such as "address in use" raise here) and start accepting."""
        self._g_server = PultOutboundServer(self.host, self.requested_port,
                                            application=lambda s: _SessionApp(self, s),
                                            max_connections=self.max_connections,
                                            session_factory=self._g_new_session)
        try:
            self.port = await self.hub.call(self._g_server.bind)
        except OSError as exc:
            raise OSError(exc.errno, f"outbound ESL server cannot listen on "
                                     f"{self.host}:{self.requested_port}: {exc.strerror}") from None
        self.hub.submit(self._g_server.listen)
        log.info("outbound ESL server listening", host=self.host, port=self.port)

    def _g_new_session(self, client_address: Any, sock: Any) -> PultOutboundSession:
        link = _Link(self.hub)
        session = PultOutboundSession(client_address, sock, sink=link.from_hub, set_up=(
            "myevents", f"linger {self.linger_seconds}", "event plain " + " ".join(OUTBOUND_EVENTS)))
        session.link = link
        link.session = session
        return session

    async def stop(self) -> None:
        """Stop accepting; end flows; close call sockets."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._g_server is not None:
            try:
                await self.hub.call(self._g_server.stop)
            except HubStopped:
                pass
            self._g_server = None
        log.info("outbound ESL server stopped")

    async def hand_off(self, others_live: bool, *, timeout: float = 5.0) -> dict[str, int]:
        """A clean stop: every call this instance runs that is not talking (see
        :attr:`Call.stays_on_stop`) is handed back to the switch — its flow is cancelled, then
        the flow runner's :meth:`handoff_target` says where it goes (with ``others_live``: the
        dialplan again, which names a live instance; without: the switch's own goodbye) and
        :meth:`Call.transfer_and_release` sends it there. Talking calls are left to the switch
        (their records come by mod_json_cdr). Bounded by ``timeout`` seconds in all; returns
        ``{"handed": n, "left": n, "failed": n}``."""
        target_of = getattr(self.flow, "handoff_target", None)
        counts = {"handed": 0, "left": 0, "failed": 0}
        calls = [c for c in list(self.calls.values()) if not c.gone and not c.hungup.is_set()]
        if not calls:
            return counts
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        async def one(call: Call) -> None:
            if call.stays_on_stop or target_of is None:
                counts["left"] += 1
                return
            task = call._flow_task
            if task is not None and not task.done():
                task.cancel()
                # its clean-up (counted out of the PBX's calls, …) before the next instance counts
                # the call in; a clean-up that waits on the switch is not waited for long
                await asyncio.wait({task}, timeout=min(1.0, max(0.1, deadline - loop.time()) / 2))
            if call.gone or call.hungup.is_set():
                return
            try:
                target, variables = target_of(call, others_live)
                reply = await call.transfer_and_release(target, variables)
            except Exception as exc:
                counts["failed"] += 1
                log.warning("call not handed off", uuid=call.uuid, error=f"{type(exc).__name__}: {exc}")
                return
            if reply.startswith("+OK"):
                counts["handed"] += 1
                log.info("call handed off", uuid=call.uuid, to=target.split(" ", 1)[0][:80],
                         others_live=others_live)
            else:
                counts["failed"] += 1
                log.warning("call not handed off: the switch refused the transfer", uuid=call.uuid,
                            reply=reply[:200])

        jobs = [asyncio.ensure_future(one(c)) for c in calls]
        done, pending = await asyncio.wait(jobs, timeout=max(0.0, deadline - loop.time()))
        for job in pending:
            job.cancel()
            counts["failed"] += 1
        for job in done:
            job.exception()  # one() logs its own failures
        log.info("outbound calls handed off", **counts)
        return counts

    # --- calls
    def _start_call(self, link: _Link, data: dict[str, str], peer: Any) -> None:  # asyncio
        try:
            node = self.resolve_node(data, peer)
        except Exception:
            log.exception("could not tell which node a call came from")
            node = "unknown"
        call = Call(self, link, data, node, peer)
        self.calls[call.uuid] = call
        link.attach(call)
        task = asyncio.create_task(self._run_flow(call), name=f"call-{call.uuid}")
        call._flow_task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_flow(self, call: Call) -> None:
        mark_urgent()  # a caller is waiting: this flow's store reads go ahead of the cabinet's
        OUTBOUND_SESSIONS.inc()
        # logged at the loop's next turn: after the flow has sent its first command, not before
        asyncio.get_running_loop().call_soon(functools.partial(
            log.info, "call started", uuid=call.uuid, node=call.node, caller=call.caller,
            destination=call.destination))
        try:
            await self.flow.run(call)
        except CallGone:
            log.info("caller hung up during the flow", uuid=call.uuid)
        except asyncio.CancelledError:
            log.info("call flow cancelled (shutdown)", uuid=call.uuid)
            raise
        except Exception:
            log.exception("call flow failed", uuid=call.uuid)
            try:
                await call.hangup("NORMAL_TEMPORARY_FAILURE")
            except Exception:
                pass
        else:
            if not call.hungup.is_set():
                try:
                    await call.hangup("NORMAL_CLEARING")
                except (CallGone, EslNotConnected, EslTimeout, EslCommandError):
                    pass
        finally:
            OUTBOUND_SESSIONS.dec()
            if call._link.session is not None:  # a flow that ended without writing anything
                _release_hold(call._link.session)
            self._forget_when_closed(call)
            if not call.closed.done():
                closer = asyncio.ensure_future(self._close_when_complete(call))
                self._tasks.add(closer)
                closer.add_done_callback(self._tasks.discard)

    async def _close_when_complete(self, call: Call) -> None:
        """Close the call socket once the call's final event is in (at most ``linger_seconds``)."""
        try:
            await asyncio.wait_for(call.complete.wait(), self.linger_seconds)
        except asyncio.TimeoutError:
            log.warning("no CHANNEL_HANGUP_COMPLETE on the call socket; closing it", uuid=call.uuid,
                        waited_s=self.linger_seconds)
        if not call.closed.done():
            try:
                self.hub.submit(_g_close, call._link)
            except HubStopped:
                pass

    def _forget_when_closed(self, call: Call) -> None:
        def forget(_: Any) -> None:
            if self.calls.get(call.uuid) is call:
                del self.calls[call.uuid]
            log.info("call ended", uuid=call.uuid, cause=call.hangup_cause)
        call.closed.add_done_callback(forget)

    def _on_call_event(self, call: Call, event: EslEvent) -> None:
        for key in (event.key, "*"):
            for handler in self._handlers.get(key, ()):
                try:
                    result = handler(call.node, event)
                    if inspect.isawaitable(result):
                        in_background(result, where="outbound event handler", uuid=call.uuid,
                                      esl_event=event.key)
                except Exception:
                    log.exception("outbound event handler failed", uuid=call.uuid, esl_event=event.key)

"""An inbound event-socket connection to one FreeSWITCH, used from asyncio.

    conn = EslConnection(hub, "fs1", "10.0.0.5", 8021, "ClueCon")
    await conn.open()                              # EslConnectError / EslAuthError
    conn.on("CHANNEL_ANSWER", handler)             # handler(event) called in asyncio
    await conn.subscribe(["CHANNEL_ANSWER", "BACKGROUND_JOB"])
    text = await conn.api("status")                # str, the api/response body
    job = await conn.bgapi("originate …")          # BackgroundJob, once its BACKGROUND_JOB came
    await conn.send("sendmsg <uuid>\\ncall-command: hangup")   # reply text; EslCommandError on -ERR
    reason = await conn.closed                     # resolves when the socket is gone

The greenswitch object lives in the hub thread; every command runs there in its own greenlet
(sends are serialised there so replies match commands in order) and its reply comes back as an
asyncio future. Events come back in batches, one hand-off per socket read.
"""
from __future__ import annotations

import asyncio
import inspect
import uuid as uuidlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from pult.observability import get_logger

from .errors import (EslAuthError, EslCommandError, EslConnectError, EslNotConnected, EslTimeout)
from .greenswitch_ext import Closed, NotConnectedError, PultInboundESL
from .hub import GeventThread, HubStopped
from .protocol import EslEvent, EslMessage, format_command

log = get_logger(__name__)

__all__ = ["EslConnection", "BackgroundJob", "EventHandler", "dispatch", "in_background"]

EventHandler = Callable[[EslEvent], Any]


@dataclass(frozen=True)
class BackgroundJob:
    """The outcome of a ``bgapi`` command: its ``BACKGROUND_JOB`` event's body is the output."""

    job_uuid: str
    command: str
    output: str
    event: EslEvent = field(repr=False)

    @property
    def ok(self) -> bool:
        """FreeSWITCH convention: the output starts with ``+OK`` on success, ``-ERR`` on failure."""
        return not self.output.startswith("-ERR")


def dispatch(handlers: dict[str, list[EventHandler]], event: EslEvent, what: str) -> None:
    """Call the handlers for ``event.key`` then the ``"*"`` ones; log (never raise) their errors.

    A handler may be a coroutine function: it is scheduled as a task (its errors logged too).
    """
    for key in (event.key, "*"):
        for handler in handlers.get(key, ()):
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    in_background(result, where=what, esl_event=event.key)
            except Exception:
                log.exception("ESL event handler failed", where=what, esl_event=event.key,
                              handler=getattr(handler, "__qualname__", repr(handler)))


#: Handler tasks still running. The event loop keeps only weak references to tasks, so a task
#: nobody holds may be garbage-collected before it finishes (its work silently lost): hold them.
_background: set[asyncio.Future] = set()


def in_background(awaitable: Any, **context: Any) -> asyncio.Future:
    """Run an event handler's (or callback's) awaitable as a task that is kept referenced until it
    ends and whose failure is logged with ``context`` — never silently dropped."""
    task = asyncio.ensure_future(awaitable)
    _background.add(task)
    task.add_done_callback(lambda t: _finished(t, context))
    return task


def _finished(task: asyncio.Future, context: dict) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("ESL event handler task failed", exc_info=task.exception(), **context)


def _g_send(esl: Any, text: str) -> EslMessage:
    """In the hub: send and map greenswitch's exceptions to ours."""
    try:
        return esl.send(text)
    except NotConnectedError as exc:
        raise EslNotConnected(str(exc) or "not connected") from None
    except OSError as exc:
        raise EslNotConnected(f"socket error: {exc}") from None


class EslConnection:
    """See the module docstring. Not reusable: after ``closed`` resolves, make a new one."""

    def __init__(self, hub: GeventThread, name: str, host: str, port: int, password: str, *,
                 connect_timeout: float = 5.0, command_timeout: float = 10.0) -> None:
        self.hub = hub
        self.name = name
        self.host = host
        self.port = port
        self._password = password
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self._esl: PultInboundESL | None = None
        self._handlers: dict[str, list[EventHandler]] = {}
        self._batch_listeners: list[Callable[[int], Any]] = []
        self._jobs: dict[str, asyncio.Future] = {}
        self._loop = hub.loop
        self.closed: asyncio.Future[str] = self._loop.create_future()

    def __repr__(self) -> str:
        return f"<EslConnection {self.name} {self.host}:{self.port}>"

    @property
    def is_open(self) -> bool:
        return self._esl is not None and not self.closed.done()

    # ------------------------------------------------------------------ lifecycle
    async def open(self) -> None:
        """Connect and authenticate; raise :class:`EslConnectError` or :class:`EslAuthError`."""
        try:
            self._esl = await self.hub.call(self._g_open)
        except (EslAuthError, EslConnectError):
            if not self.closed.done():
                self.closed.set_result("not connected")
            raise

    def _g_open(self) -> PultInboundESL:
        esl = PultInboundESL(self.host, self.port, self._password, timeout=self.connect_timeout,
                             sink=self._g_sink)
        try:
            esl.connect()
        except ValueError:  # greenswitch: reply to "auth" was not "+OK accepted"
            raise EslAuthError(f"authentication failed for node {self.name} "
                               f"({self.host}:{self.port}): wrong event-socket password") from None
        except NotConnectedError as exc:
            raise EslConnectError(f"node {self.name} ({self.host}:{self.port}): "
                                  f"{exc or 'connection failed'}") from None
        return esl

    def _g_sink(self, batch: list) -> None:
        # in the hub: one hand-off per batch
        self.hub.to_asyncio(self._deliver, batch)

    async def close(self) -> None:
        """Say ``exit`` and close; resolves ``closed`` (idempotent)."""
        esl = self._esl
        if esl is not None and not self.closed.done():
            try:
                await self.hub.call(esl.stop)
            except HubStopped:
                pass
        if not self.closed.done():
            self._on_closed("closed by Pult")

    # ------------------------------------------------------------------ events
    def on(self, key: str, handler: EventHandler) -> None:
        """Call ``handler(event)`` for events named ``key`` (CUSTOM: the subclass; ``"*"``: all)."""
        self._handlers.setdefault(key, []).append(handler)

    def off(self, key: str, handler: EventHandler) -> None:
        handlers = self._handlers.get(key, [])
        if handler in handlers:
            handlers.remove(handler)

    def on_batch(self, listener: Callable[[int], Any]) -> None:
        """``listener(n)`` after each batch of ``n`` events (cheap metrics)."""
        self._batch_listeners.append(listener)

    def _deliver(self, batch: list) -> None:
        # in asyncio
        handlers = self._handlers
        jobs = self._jobs
        count = 0
        for item in batch:
            if type(item) is Closed:
                self._on_closed(item.reason)
                continue
            count += 1
            if jobs and item.name == "BACKGROUND_JOB":
                fut = jobs.get(item.peek("Job-UUID") or "")
                if fut is not None and not fut.done():
                    fut.set_result(item)
            dispatch(handlers, item, self.name)
        if count:
            for listener in self._batch_listeners:
                listener(count)

    def _on_closed(self, reason: str) -> None:
        if self.closed.done():
            return
        self.closed.set_result(reason)
        for job_uuid, fut in list(self._jobs.items()):
            if not fut.done():
                fut.set_exception(EslNotConnected(
                    f"node {self.name}: connection closed before background job {job_uuid} "
                    f"finished ({reason})"))
        log.info("ESL connection closed", node=self.name, reason=reason)

    # ------------------------------------------------------------------ commands
    async def _command(self, text: str, timeout: float | None) -> EslMessage:
        esl = self._esl
        if esl is None or self.closed.done():
            raise EslNotConnected(f"node {self.name}: not connected")
        try:
            fut = self.hub.call(_g_send, esl, text)
        except HubStopped as exc:
            raise EslNotConnected(f"node {self.name}: {exc}") from None
        try:
            return await asyncio.wait_for(fut, timeout or self.command_timeout)
        except asyncio.TimeoutError:
            raise EslTimeout(f"node {self.name}: no reply to {text.split(chr(10), 1)[0]!r} "
                             f"within {timeout or self.command_timeout} s") from None
        except HubStopped as exc:
            raise EslNotConnected(f"node {self.name}: {exc}") from None

    async def api(self, command: str, *, timeout: float | None = None) -> str:
        """Run ``api <command>``; return its output (which may itself be ``-ERR …``)."""
        reply = await self._command(format_command(f"api {command}"), timeout)
        return reply.body

    async def bgapi(self, command: str, *, timeout: float | None = None) -> BackgroundJob:
        """Run ``bgapi <command>`` and wait for its ``BACKGROUND_JOB`` (matched by Job-UUID).

        The Job-UUID is chosen here and registered before sending, so the job event cannot
        arrive before we look for it. The connection must be subscribed to BACKGROUND_JOB.
        ``timeout`` bounds the wait for the job (default: until the connection closes).
        """
        job_uuid = str(uuidlib.uuid4())
        fut: asyncio.Future = self._loop.create_future()
        self._jobs[job_uuid] = fut
        try:
            reply = await self._command(format_command(f"bgapi {command}", {"Job-UUID": job_uuid}),
                                        None)
            if not reply.data.startswith("+OK"):
                raise EslCommandError(f"node {self.name}: bgapi {command!r}: {reply.data}")
            try:
                event = await asyncio.wait_for(fut, timeout)
            except asyncio.TimeoutError:
                raise EslTimeout(f"node {self.name}: background job {job_uuid} ({command!r}) "
                                 f"not finished within {timeout} s") from None
        finally:
            self._jobs.pop(job_uuid, None)
        return BackgroundJob(job_uuid, command, event.body, event)

    async def send(self, command: str, headers: dict[str, str] | None = None, *,
                   timeout: float | None = None) -> str:
        """Send any command (``event``, ``filter``, ``sendmsg <uuid>`` + headers, …).

        ``command`` may already hold header lines (``"sendmsg X\\ncall-command: hangup"``);
        return the ``Reply-Text``; raise :class:`EslCommandError` when it is ``-ERR …``.
        """
        first, _, rest = command.partition("\n")
        all_headers: dict[str, str] = {}
        for line in filter(None, rest.split("\n")):
            key, sep, value = line.partition(": ")
            if not sep:
                raise ValueError(f"ESL command header line {line!r} is not 'Name: value'")
            all_headers[key] = value
        all_headers.update(headers or {})
        text = format_command(first, all_headers)
        reply = await self._command(text, timeout)
        if reply.data.startswith("-ERR"):
            raise EslCommandError(f"node {self.name}: {first}: {reply.data}")
        return reply.data

    async def subscribe(self, events: Iterable[str]) -> str:
        """``event plain <names>`` (greenswitch and our reader parse plain events)."""
        names = " ".join(events)
        return await self.send(f"event plain {names}")

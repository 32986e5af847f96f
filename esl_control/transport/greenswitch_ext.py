"""greenswitch, kept for connections and commands, with a faster and safer read path.

Runs only inside :class:`~esl_control.transport.hub.GeventThread`. What is greenswitch's and what
is replaced, and why:

- kept: the connection objects (:class:`greenswitch.esl.InboundESL`, ``OutboundSession``,
  ``OutboundESLServer``), command/reply matching (``_commands_sent``: replies answer commands in
  send order), authentication, ``connect``/``myevents``/``linger`` of outbound sessions.
- replaced, in :class:`FastReadMixin`: the reader. greenswitch reads one line per call, decodes
  each, URL-decodes whole blocks *before* splitting them (an encoded newline in a caller-chosen
  value forges headers) and merges an event's inner body into its headers; then it passes every
  event through a gevent queue to a second greenlet. Here a greenlet reads 64 KiB at a time,
  frames with :class:`~esl_control.transport.protocol.FrameParser`, resolves replies directly
  and hands events to a *sink* in batches — one batch per burst (flushed when the reader would
  block, or every few reads under a flood), which becomes one ``call_soon_threadsafe`` into
  asyncio.
- fixed: ``send`` uses ``sendall`` under a lock (greenswitch's ``sock.send`` may write part of a
  command, and two greenlets could interleave theirs, breaking reply order); pending commands
  fail with ``NotConnectedError`` when the socket closes (greenswitch leaves inbound ones
  waiting forever); waits for ``auth/request`` are bounded; the outbound server binds port 0,
  accepts without polling (greenswitch sleeps 100 ms between accept attempts) and never calls
  ``sys.exit``.
"""
from __future__ import annotations

import errno
from typing import Any, Callable

import gevent
import gevent.event
import gevent.lock
import gevent.socket
from greenswitch.esl import (InboundESL, NotConnectedError, OutboundESLServer, OutboundSession,
                             OutboundSessionHasGoneAway)

from pult.observability import get_logger
from pult.runtime import HOLD

from .protocol import EslEvent, EslMessage, FrameParser, ProtocolError, event_from_message

log = get_logger(__name__)

__all__ = ["Closed", "FastReadMixin", "PultInboundESL", "PultOutboundSession", "PultOutboundServer",
           "NotConnectedError", "OutboundSessionHasGoneAway"]

Sink = Callable[[list], None]


class Closed:
    """Last item of the event stream of a connection: it is closed, and why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Closed({self.reason!r})"


def disconnect_event(msg: EslMessage) -> EslEvent:
    """A ``text/disconnect-notice`` as an event named ``DISCONNECT`` (greenswitch's name)."""
    headers = dict(msg.headers)
    headers["Event-Name"] = "DISCONNECT"
    return EslEvent(headers, msg.body)


class FastReadMixin:
    """The read path and send fixes shared by inbound and outbound connections (see module doc).

    Call :meth:`_init_fast` before greenswitch's ``__init__`` (which may start the reader).
    Events go to ``self.sink(batch)`` — a list of :class:`EslEvent` and finally one
    :class:`Closed` — called in the hub.
    """

    recv_size = 65536
    #: reads in a row before the reader yields to the hub even though more data is waiting
    #: (so replies, other connections and the batched hand-off get their turn under a flood)
    reads_per_yield = 8

    def _init_fast(self, sink: Sink | None) -> None:
        self.sink = sink or (lambda batch: None)
        self._send_lock = gevent.lock.Semaphore()
        self._parser = FrameParser()
        self._outbox: list = []
        self._flush_scheduled = False
        self.close_reason: str | None = None
        self._closing_by_us = False

    # --- greenswitch hooks ----------------------------------------------------------------
    def start_event_handlers(self) -> None:
        # only the reader; events are dispatched by the sink, not by a second greenlet
        self._receive_events_greenlet = gevent.spawn(self.receive_events)

    def receive_events(self) -> None:
        sock = self.sock
        parser = self._parser
        run_callback = gevent.get_hub().loop.run_callback
        reason = "connection closed by FreeSWITCH"
        reads = 0
        try:
            while self._run:
                data = sock.recv(self.recv_size)
                if not data:
                    break
                messages = parser.feed(data)
                # nothing of this read is kept while the next one waits (a call's socket waits
                # minutes between bursts): the chunk alone is up to recv_size bytes
                data = None
                for msg in messages:
                    self.handle_event(msg)
                msg = messages = None
                # Hand events over when the hub next runs — when this reader would block
                # (the burst is over) or yields below — so one hand-off carries a whole burst.
                if self._outbox and not self._flush_scheduled:
                    self._flush_scheduled = True
                    run_callback(self._scheduled_flush)
                reads += 1
                if reads >= self.reads_per_yield:
                    reads = 0
                    gevent.sleep(0)
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.error("ESL protocol error, dropping connection", error=str(exc))
        except OSError as exc:
            reason = f"socket error: {exc.strerror or exc}"
        except Exception as exc:  # a bug in a handler must not leave callers waiting forever
            reason = f"internal error: {exc!r}"
            log.exception("ESL reader failed")
        finally:
            if self._closing_by_us:
                reason = "closed by Pult"
            self._run = False
            self.connected = False
            self.close_reason = reason
            self._fail_pending(reason)
            self._auth_request_event.set()  # a connect() waiting for auth/request wakes up
            try:
                self.sock.close()
            except OSError:
                pass
            self._outbox.append(Closed(reason))
            self._flush()

    def handle_event(self, msg: EslMessage) -> None:  # greenswitch's name for "handle a message"
        ctype = msg.headers.get("Content-Type")
        if ctype == "text/event-plain" or ctype == "text/event-json":
            self._outbox.append(event_from_message(msg))
        elif ctype == "command/reply" or ctype == "api/response":
            if self._commands_sent:
                self._commands_sent.pop(0).set(msg)
            else:
                log.warning("ESL reply without a command waiting", content_type=ctype,
                            reply=msg.data[:200])
        elif ctype == "auth/request":
            self._auth_request_event.set()
        elif ctype == "text/disconnect-notice":
            if msg.headers.get("Content-Disposition") == "linger":
                self._lingering = True
            else:
                self.connected = False
            self._outbox.append(disconnect_event(msg))
        elif ctype == "text/rude-rejection":
            self.connected = False
            self.close_reason = f"rejected by FreeSWITCH: {msg.body.strip()}"
            self._auth_request_event.set()
        # log/data and unknown types: not subscribed by Pult, ignored

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        if self._outbox:
            self._flush()

    def _flush(self) -> None:
        batch, self._outbox = self._outbox, []
        try:
            self.sink(batch)
        except Exception:
            log.exception("ESL event sink failed")

    def _fail_pending(self, reason: str) -> None:
        pending, self._commands_sent = self._commands_sent, []
        for result in pending:
            result.set_exception(NotConnectedError(reason))

    #: called once, right after the next write (then cleared): an outbound call releases its
    #: collector hold there (pult.runtime.CollectorHold)
    after_write: Callable[[], Any] | None = None

    def _written(self) -> None:
        hook = self.after_write
        if hook is not None:
            self.after_write = None
            hook()

    def send(self, data: str) -> EslMessage:
        """Send one command and wait for its reply (greenswitch semantics, made safe)."""
        if not self.connected:
            raise NotConnectedError(self.close_reason or "not connected")
        result = gevent.event.AsyncResult()
        raw = (data + "\n\n").encode("utf-8")
        with self._send_lock:  # append + write atomically: reply order == send order
            self._commands_sent.append(result)
            try:
                self.sock.sendall(raw)
            except OSError as exc:
                if result in self._commands_sent:
                    self._commands_sent.remove(result)
                raise NotConnectedError(f"send failed: {exc.strerror or exc}") from None
        self._written()
        return result.get()

    def send_many(self, commands: list[str], *, return_exceptions: bool = False) -> list[Any]:
        """Send several commands in one write and wait for their replies (in order; with
        ``return_exceptions`` a command whose reply cannot come has its error in its place).

        FreeSWITCH's mod_event_socket reads a command byte by byte up to its blank line and runs
        it before it reads the next, so commands sent together run exactly as if each had waited
        for the previous reply; what is saved is the round trips (the call set-up's)."""
        if not self.connected:
            raise NotConnectedError(self.close_reason or "not connected")
        results = [gevent.event.AsyncResult() for _ in commands]
        raw = "".join(c + "\n\n" for c in commands).encode("utf-8")
        with self._send_lock:
            self._commands_sent.extend(results)
            try:
                self.sock.sendall(raw)
            except OSError as exc:
                for r in results:
                    if r in self._commands_sent:
                        self._commands_sent.remove(r)
                raise NotConnectedError(f"send failed: {exc.strerror or exc}") from None
        self._written()
        if not return_exceptions:
            return [r.get() for r in results]
        replies: list[Any] = []
        for r in results:
            try:
                replies.append(r.get())
            except Exception as exc:  # noqa: BLE001 - handed back in its place
                replies.append(exc)
        return replies

    def stop(self, timeout: float = 2.0) -> None:
        """Say ``exit`` if still connected and let FreeSWITCH close (its goodbye is delivered),
        then close the socket ourselves if it has not, and wait for the reader to finish."""
        reader = self._receive_events_greenlet
        own = reader is not None and reader is not gevent.getcurrent()
        if self._run:
            self._closing_by_us = True
        if self.connected and not self._lingering:
            try:
                with gevent.Timeout(timeout):
                    self.send("exit")
                    if own:
                        reader.join()
            except (NotConnectedError, OSError, OutboundSessionHasGoneAway, gevent.Timeout):
                pass
        self._run = False
        try:
            self.sock.shutdown(gevent.socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        if own:
            reader.join(timeout)
            if not reader.dead:
                reader.kill(block=False)
        sock_file = getattr(self, "sock_file", None)
        if sock_file is not None:
            sock_file.close()


class PultInboundESL(FastReadMixin, InboundESL):
    """An inbound connection to FreeSWITCH's mod_event_socket (hub thread only)."""

    def __init__(self, host: str, port: int, password: str, timeout: float = 5.0,
                 sink: Sink | None = None) -> None:
        self._init_fast(sink)
        super().__init__(host, port, password, timeout=timeout)
        self.sock = None
        self.sock_file = None

    def connect(self) -> None:
        """TCP connect (IPv4, IPv6 or a name), wait for ``auth/request``, authenticate.

        Raises ``NotConnectedError`` (unreachable, refused, no greeting) or ``ValueError``
        (greenswitch's "Invalid password.").
        """
        try:
            self.sock = gevent.socket.create_connection((self.host, self.port), timeout=self.timeout)
        except gevent.socket.timeout:
            raise NotConnectedError(f"connection timed out after {self.timeout} s") from None
        except OSError as exc:
            raise NotConnectedError(exc.strerror or str(exc)) from None
        self.sock.settimeout(None)
        self.sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        self.connected = True
        self._run = True
        self.start_event_handlers()
        try:
            with gevent.Timeout(self.timeout, NotConnectedError(
                    f"no auth/request from FreeSWITCH within {self.timeout} s")):
                self._auth_request_event.wait()
                if not self.connected:
                    raise NotConnectedError(self.close_reason or "FreeSWITCH closed the connection")
                self.authenticate()
        except BaseException:
            self.stop(timeout=0.5)
            raise


class PultOutboundSession(FastReadMixin, OutboundSession):
    """One call that FreeSWITCH's dialplan ``socket`` application handed to us (hub thread only)."""

    def __init__(self, client_address: Any, sock: Any, sink: Sink | None = None,
                 set_up: tuple[str, ...] = ()) -> None:
        self._init_fast(sink)
        self.client_address = client_address
        #: commands sent together with ``connect`` (one round trip for the call's set-up)
        self.set_up = tuple(set_up)
        #: their replies, in order (read by the application, which decides what a refusal means)
        self.set_up_replies: list[EslMessage] = []
        #: the call's collector hold until its first command is written (see _handle_call)
        self.collector_hold: Any = None
        sock.setsockopt(gevent.socket.IPPROTO_TCP, gevent.socket.TCP_NODELAY, 1)
        super().__init__(client_address, sock)

    def connect(self) -> Any:
        """``connect`` (its reply is the channel data) and the :attr:`set_up` commands, sent in
        one write (see :meth:`FastReadMixin.send_many`)."""
        if self._outbound_connected:
            return self.session_data
        try:
            replies = self.send_many(["connect", *self.set_up])
        except OutboundSessionHasGoneAway:
            self.stop()
            raise
        self.session_data = replies[0].headers
        self.set_up_replies = replies[1:]
        self._outbound_connected = True
        return self.session_data


class PultOutboundServer(OutboundESLServer):
    """greenswitch's outbound server with a real bind (port 0 allowed) and a blocking accept.

    ``application(session)`` is greenswitch's contract: an object whose ``run()`` drives the call
    in a greenlet; the session is stopped when ``run()`` returns.
    """

    def __init__(self, bind_address: str, bind_port: int, application: Any,
                 max_connections: int = 1000, session_factory: Callable[..., Any] = PultOutboundSession):
        super().__init__(bind_address=bind_address, bind_port=bind_port, application=application,
                         max_connections=max_connections)
        self.session_factory = session_factory
        self.sessions: set = set()

    def bind(self) -> int:
        """Bind and listen now (so errors surface to the caller); return the bound port."""
        server = gevent.socket.socket(gevent.socket.AF_INET6 if ":" in self.bind_address
                                      else gevent.socket.AF_INET, gevent.socket.SOCK_STREAM)
        server.setsockopt(gevent.socket.SOL_SOCKET, gevent.socket.SO_REUSEADDR, 1)
        try:
            server.bind((self.bind_address, self.bind_port[0]))
            server.listen(128)
        except OSError:
            server.close()
            raise
        self.server = server
        self.bound_port = server.getsockname()[1]
        self._running = True
        return self.bound_port

    def listen(self) -> None:
        """Accept calls until :meth:`stop`; each runs ``_accept_call`` in its own greenlet."""
        if self.server is None:
            self.bind()
        while self._running:
            try:
                sock, client_address = self.server.accept()
            except OSError as exc:
                if not self._running:
                    break
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error("outbound ESL accept failed, retrying", error=str(exc))
                    gevent.sleep(0.1)
                    continue
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO, errno.EINTR):
                    continue
                raise
            try:
                session = self.session_factory(client_address, sock)
            except OSError as exc:
                log.warning("outbound ESL session could not start", error=str(exc))
                sock.close()
                continue
            gevent.spawn(self._accept_call, session)

    def _handle_call(self, session: Any) -> None:
        # the caller waits in silence from here to the call's first command: no collection of
        # the cyclic garbage collector in between (released right after that write)
        hold = HOLD.take()
        try:
            session.connect()
        except BaseException as exc:
            if hold is not None:
                hold.release()
            if not isinstance(exc, (OutboundSessionHasGoneAway, NotConnectedError)):
                raise
            log.warning("outbound ESL call gone before connect", peer=str(session.client_address),
                        error=str(exc))
            session.stop()
            return
        if hold is not None:
            session.collector_hold = hold
            session.after_write = hold.release
        self._start_application(session)

    def _start_application(self, session: Any) -> None:
        app = self.application(session)
        handler = gevent.spawn(app.run)
        self._greenlets.add(handler)
        self.sessions.add(session)
        handler.session = session
        handler.link(self._handle_call_finish)
        self.connection_count += 1

    def _handle_call_finish(self, handler: Any) -> None:
        self.sessions.discard(handler.session)
        self._greenlets.discard(handler)
        self.connection_count -= 1
        handler.session.stop()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop accepting, close every call socket, wait briefly for their greenlets."""
        self._running = False
        if self.server is not None:
            try:
                self.server.close()
            except OSError:
                pass
        for session in list(self.sessions):
            session.stop(timeout=0.2)
        gevent.joinall(list(self._greenlets), timeout=timeout)

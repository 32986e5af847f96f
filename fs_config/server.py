"""The FreeSWITCH-facing HTTP server: its own event loop, in its own thread, on its own port.

The cabinet's event loop also runs page rendering, JSON encoding and the like; a history page costs
it milliseconds of CPU, so with many cabinet users a mod_xml_curl lookup queued behind them waits
(a caller hears silence, a phone fails to register). :class:`FsHttpServer` serves what FreeSWITCH
asks — ``/fs/xml-curl``, ``/fs/cdr`` — and ``/healthz`` on a loop nothing of the cabinet runs on::

    server = FsHttpServer(switch_routes(settings, store, socket_address=..., accept_cdr=...),
                          host=settings.fs_host or settings.http_host, port=settings.fs_port)
    await asyncio.to_thread(server.start)      # listening when it returns (bind errors raise here)
    ...
    await asyncio.to_thread(server.stop)       # stops serving, closes connections, joins the thread

What runs in that thread must not share loop-bound objects with the main loop: the routes are built
*inside* the new loop by the ``setup`` coroutine (so a Redis or MongoDB client, an asyncio lock, a
cache are that loop's own), and what the main loop owns is reached through :func:`call_in_loop`.

- The embedded store is shared as it is: its operations run in the store's own threads and are
  awaited with ``asyncio.wrap_future``, from any loop (``storage.embedded.EmbeddedEngine.run``).
  MongoDB gets a client of this loop (PyMongo's async client is bound to the loop that uses it).
- The xml_curl providers (the directory's kept answers, the PBXs' blocked states) are a second
  instance, used by this thread only: nothing of them is touched from two threads. What they share
  with the main loop's providers is made for threads: the process's copy of the change counters
  (``storage.versions.LocalVersions``, under a lock) and its Redis feed (a synchronous client,
  polled under a lock, with a thread of its own).
- A call record posted to ``/fs/cdr`` is stored by the main loop (the call-record writer and its
  hooks live there): the handler hands it over and waits; the switch retries on an error anyway.
- ``/readyz`` is not served here: it asks Redis, the job workers and the ESL nodes, which belong
  to the main loop (the main port answers it).

The main port keeps serving ``/fs/xml-curl`` and ``/fs/cdr`` too (installations whose switch still
points there keep working); ``pult freeswitch-vars`` points the switch at this port.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler, URLSpec

from pult.observability import HTTP_REQUESTS

log = logging.getLogger(__name__)

#: The interpreter's thread switch interval for a process that runs this server (``pult serve``
#: sets it, see pult/cli.py): the server's thread shares one GIL with the cabinet's loop and the
#: store's threads, and with CPython's default (5 ms) it waits up to that long each time it needs
#: the GIL while they compute — several times per request. Measured with two CPU-bound threads
#: beside it: ``/healthz`` p50 ≈ 33 ms at 5 ms, ≈ 12 ms at 1 ms (no gain below).
FS_SWITCH_INTERVAL = 0.001

#: ``async setup(stack) -> routes``: builds the routes inside the server's loop; what it opens it
#: registers on ``stack`` (closed, in that loop, when the server stops).
Setup = Callable[[AsyncExitStack], Awaitable[list]]


class HealthHandler(RequestHandler):
    """``GET /healthz``: 200 whenever this loop answers (the switch-facing loop is alive)."""

    def check_xsrf_cookie(self) -> None:
        pass

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish({"status": "ok"})


class NotFound(RequestHandler):
    """Everything else: 404 (the cabinet and the API are not served on this port)."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("not found\n")


def _log_request(handler: RequestHandler) -> None:
    status = handler.get_status()
    seconds = handler.request.request_time()
    HTTP_REQUESTS.labels(handler.request.method, str(status)).observe(seconds)
    if status >= 500:
        log.error("fs http %s %s %s %.1fms", status, handler.request.method, handler.request.path,
                  seconds * 1000)


def make_fs_app(routes: list) -> Application:
    """The switch-facing application: ``routes`` (URL specs) and ``/healthz``, 404 for the rest."""
    return Application([*routes, URLSpec("/healthz", HealthHandler, name="fs_healthz")],
                       default_handler_class=NotFound, log_function=_log_request,
                       xsrf_cookies=False, autoreload=False, compress_response=False)


def call_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``fn`` (a coroutine function of objects bound to ``loop``) made callable from another loop:
    the call runs as a task in ``loop`` and is awaited here; cancelling the wait cancels the task."""

    async def call(*args: Any, **kwargs: Any) -> Any:
        if asyncio.get_running_loop() is loop:
            return await fn(*args, **kwargs)
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(fn(*args, **kwargs), loop))

    call.__name__ = getattr(fn, "__name__", "call")
    return call


class FsHttpServer:
    """An HTTP server with its own asyncio loop in its own (daemon) thread; see the module doc.

    ``setup`` builds the routes in that loop; ``host``/``port`` are bound by :meth:`start` in the
    caller's thread (so a busy port raises there; port 0 takes a free one, see :attr:`port`).
    """

    def __init__(self, setup: Setup, *, host: str, port: int, xheaders: bool = False,
                 name: str = "pult-fs-http"):
        self._setup = setup
        self.host = host
        self._port = port
        self.xheaders = xheaders
        self.name = name
        self._sockets: list[socket.socket] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one taken when started with port 0)."""
        return self._port

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The server's event loop while it runs (tests use it to schedule work in it)."""
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 60.0) -> None:
        """Bind, start the thread and return once it serves; raise what prevented it (OSError for
        the port, the setup's exception)."""
        if self._thread is not None:
            raise RuntimeError("the FreeSWITCH-facing HTTP server was started already")
        self._sockets = bind_sockets(self._port, self.host)
        self._port = self._sockets[0].getsockname()[1]
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise TimeoutError(f"{self.name}: not serving after {timeout:g} s")
        if self._error is not None:
            self._thread.join(timeout)
            self._close_sockets()
            raise self._error
        log.info("FreeSWITCH-facing HTTP on its own loop at %s:%d", self.host, self.port)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop listening, close the connections, close what the setup opened, end the thread."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(stop.set)
            except RuntimeError:  # the loop closed meanwhile: the thread is ending by itself
                pass
        thread.join(timeout)
        if thread.is_alive():
            log.error("%s: the thread did not end within %g s", self.name, timeout)
            return
        self._close_sockets()

    def _close_sockets(self) -> None:
        for s in self._sockets:  # the server closed them already unless it never served
            s.close()

    # --- in the server's thread ------------------------------------------------------------
    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start() (before serving) or logged (after)
            if not self._ready.is_set():
                self._error = exc
            else:
                log.exception("%s stopped with an error", self.name)
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with AsyncExitStack() as stack:
            routes = await self._setup(stack)
            app = make_fs_app(routes)
            server = HTTPServer(app, xheaders=self.xheaders)
            server.add_sockets(self._sockets)
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                server.stop()
                await server.close_all_connections()


def switch_routes(settings, store, *, socket_address=None, accept_cdr=None, box=None) -> Setup:
    """The setup of the switch-facing routes over ``store`` (started): ``/fs/xml-curl`` with the
    tenants' providers and, when ``accept_cdr`` is given (an ``async (doc) -> bool`` of the main
    loop, wrapped with :func:`call_in_loop`), ``/fs/cdr``. Embedded store: shared; MongoDB: a
    client of the server's loop, closed with it."""
    from fs_config.http import cdr_routes, routes
    from fs_config.tenant_providers import tenant_providers

    async def setup(stack: AsyncExitStack) -> list:
        from storage.client import db_for_this_loop

        db, close = await db_for_this_loop(store)  # embedded: shared; MongoDB: a client of this loop
        stack.push_async_callback(close)
        providers = tenant_providers(settings, db, socket_address=socket_address, box=box)
        specs = list(routes(settings, providers))
        if accept_cdr is not None:
            specs += cdr_routes(settings, accept_cdr)
        return specs

    return setup

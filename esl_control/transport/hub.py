"""The one thread where gevent (and so greenswitch) runs, with its own hub, and the bridge to asyncio.

Nothing is monkey-patched: gevent's cooperative sockets are used explicitly by greenswitch, and
only inside this thread. The two directions of the bridge:

- asyncio → gevent: :meth:`GeventThread.submit` puts a callable on a thread-safe deque and calls
  ``send()`` on an ``async_`` watcher of the hub's loop — libev's ``ev_async_send``, the one
  wake-up gevent offers that is safe from another thread. The watcher's callback (in the hub)
  drains the deque and starts one greenlet per callable.
- gevent → asyncio: ``loop.call_soon_threadsafe`` of the asyncio loop given at start.
  :meth:`GeventThread.call` combines both: run a blocking-in-gevent function, get an asyncio
  future of its result.

The hub never waits on MongoDB or Redis: everything that talks to them runs in asyncio.
"""
from __future__ import annotations

import asyncio
import collections
import threading
from typing import Any, Callable

import gevent
import gevent.event
import gevent.pool

from pult.observability import get_logger

log = get_logger(__name__)

__all__ = ["GeventThread", "HubStopped"]


_STOP = object()  # marker on the pending deque: leave the hub


class HubStopped(RuntimeError):
    """The gevent thread is not running (not started yet, or stopped)."""


def _set_result(fut: asyncio.Future, value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future, exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)


class GeventThread:
    """A thread running a private gevent hub until :meth:`stop` (which joins it).

    The thread is a daemon only so that a process that crashed before calling :meth:`stop`
    can still exit; normal shutdown always stops and joins it.

    ``on_stop`` callables registered with :meth:`add_cleanup` run inside the hub (as a greenlet,
    so they may do cooperative I/O) before the hub is destroyed — connections close cleanly.
    """

    def __init__(self, name: str = "pult-esl-gevent") -> None:
        self.name = name
        self._pending: collections.deque[tuple[Callable[..., Any], tuple]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._async = None  # the hub loop's async_ watcher, created in the thread
        self._ready = threading.Event()
        self._stopping = False
        self._stop_event: gevent.event.Event | None = None
        self._cleanups: list[Callable[[], Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: asyncio.Future | None = None
        self._start_error: BaseException | None = None
        self._group: gevent.pool.Group | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The asyncio loop results are delivered to."""
        if self._loop is None:
            raise HubStopped("gevent thread not started")
        return self._loop

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopping

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the thread; results go to ``loop`` (default: the running loop). Returns when ready."""
        if self._thread is not None:
            raise RuntimeError("gevent thread already started")
        self._loop = loop or asyncio.get_running_loop()
        self._done = self._loop.create_future()
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._start_error is not None:
            raise self._start_error

    def _main(self) -> None:
        hub = gevent.get_hub()  # a new hub, private to this thread
        try:
            self._async = hub.loop.async_()
            self._async.start(self._drain)
            self._stop_event = gevent.event.Event()
            self._group = gevent.pool.Group()
        except BaseException as exc:  # pragma: no cover - only if libev itself fails
            self._start_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._drain()  # anything submitted between start() and the watcher
            self._stop_event.wait()
            for cleanup in reversed(self._cleanups):
                try:
                    cleanup()
                except Exception:
                    log.exception("gevent thread cleanup failed", cleanup=repr(cleanup))
            # whatever still runs (a command waiting on a dead peer) gets GreenletExit, which
            # call() turns into HubStopped for the awaiting coroutine
            self._group.kill(block=True, timeout=2.0)
        finally:
            self._async.stop()
            self._async.close()
            hub.destroy(destroy_loop=True)
            loop, done = self._loop, self._done
            if loop is not None and done is not None and not loop.is_closed():
                try:
                    loop.call_soon_threadsafe(_set_result, done, None)
                except RuntimeError:  # the loop closed meanwhile
                    pass

    def add_cleanup(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` in the hub when the thread stops (last registered runs first)."""
        self._cleanups.append(fn)

    async def stop(self, timeout: float = 10.0) -> None:
        """Run the cleanups, destroy the hub and join the thread, without blocking the loop."""
        if self._thread is None:
            return
        if not self._stopping:
            self._stopping = True
            self._wake(_STOP, ())
        assert self._done is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._done), timeout)
        except asyncio.TimeoutError:
            log.error("gevent thread did not stop in time", timeout=timeout)
            return
        self._thread.join(1.0)  # it has finished its work; this only reaps it

    def stop_blocking(self, timeout: float = 10.0) -> None:
        """Stop from synchronous code (scripts); blocks the calling thread."""
        if self._thread is None:
            return
        if not self._stopping:
            self._stopping = True
            self._wake(_STOP, ())
        self._thread.join(timeout)

    # ------------------------------------------------------------------ asyncio -> gevent
    def _wake(self, fn: Callable[..., Any], args: tuple) -> None:
        self._pending.append((fn, args))
        self._async.send()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in a new greenlet of the hub. Safe from any thread."""
        if not self.running:
            raise HubStopped("the ESL transport thread is not running")
        self._wake(fn, args)

    def _drain(self) -> None:
        # Runs in the hub greenlet (watcher callback): must not block, only spawn.
        pending = self._pending
        while pending:
            fn, args = pending.popleft()
            if fn is _STOP:
                self._stop_event.set()
            else:
                self._group.spawn(fn, *args)

    def call(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future:
        """Run ``fn(*args)`` in a greenlet; return an asyncio future of its result or exception."""
        loop = self.loop
        fut = loop.create_future()

        def runner() -> None:
            try:
                result = fn(*args)
            except BaseException as exc:  # delivered to the awaiting coroutine
                if isinstance(exc, gevent.GreenletExit):
                    exc = HubStopped("the ESL transport thread stopped")
                try:
                    loop.call_soon_threadsafe(_set_exception, fut, exc)
                except RuntimeError:
                    pass
            else:
                try:
                    loop.call_soon_threadsafe(_set_result, fut, result)
                except RuntimeError:
                    pass

        self.submit(runner)
        return fut

    # ------------------------------------------------------------------ gevent -> asyncio
    def to_asyncio(self, fn: Callable[..., Any], *args: Any) -> None:
        """From the hub: run ``fn(*args)`` in the asyncio loop (ignored once that loop closed)."""
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            pass

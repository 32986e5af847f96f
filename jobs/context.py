"""What a job needs from its process: the settings and the document/media store.

A standalone worker (``pult worker``) opens its own store lazily, on a private asyncio loop in a
background thread (the storage API is async; jobs are plain synchronous functions). In embedded
mode the worker threads live inside the server process, which already holds a store bound to its
own event loop; :func:`bind_store` hands that store to the jobs, so there is exactly one writer of
the embedded data directory and no second client.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable

from web.settings import Settings, get_settings

_lock = threading.Lock()
_store: Any = None
_loop: asyncio.AbstractEventLoop | None = None
_own_loop_thread: threading.Thread | None = None
_settings: Settings | None = None


def use_settings(settings: Settings) -> None:
    """The settings jobs of this process use (set by the runner; defaults to get_settings())."""
    global _settings
    _settings = settings


def settings() -> Settings:
    """The settings for jobs in this process."""
    return _settings or get_settings()


def bind_store(store: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Let jobs use an already started ``store`` whose coroutines run on ``loop`` (embedded)."""
    global _store, _loop
    with _lock:
        _store, _loop = store, loop


def unbind_store() -> None:
    """Forget a bound store (embedded shutdown); a private one is closed."""
    global _store, _loop, _own_loop_thread
    with _lock:
        store, loop, thread = _store, _loop, _own_loop_thread
        _store = _loop = _own_loop_thread = None
    if thread is not None and loop is not None:
        asyncio.run_coroutine_threadsafe(store.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _open_private_store() -> None:
    """Open this worker's own store on a private loop thread (standalone worker)."""
    global _store, _loop, _own_loop_thread
    from storage.client import open_store

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="pult-jobs-store", daemon=True)
    thread.start()

    async def _open():
        store = open_store(settings())
        await store.start()
        return store

    try:
        store = asyncio.run_coroutine_threadsafe(_open(), loop).result(60)
    except BaseException:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        raise
    _store, _loop, _own_loop_thread = store, loop, thread


def call_store(fn: Callable[[Any], Awaitable[Any]], timeout: float = 120.0) -> Any:
    """Run ``await fn(store)`` on the store's loop from a job thread and return its result."""
    with _lock:
        if _store is None:
            _open_private_store()
        store, loop = _store, _loop
    assert loop is not None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise RuntimeError("call_store() was called on the store's own event loop; await instead")
    return asyncio.run_coroutine_threadsafe(fn(store), loop).result(timeout)

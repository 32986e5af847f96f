"""What a job needs from its process: the settings and the document/media store.

A standalone worker (``pult worker``) opens its own store lazily, on a private asyncio loop in a
background thread (the storage API is async; jobs are plain synchronous functions). In embedded
mode the worker threads live inside the server process, which already holds a store bound to its
own event loop; :func:`bind_store` hands that store to the jobs, so there is exactly one writer of
the embedded data directory and no second client.
"""
from __future__ import annotations

import asyncio
import logging
import time
import threading
from typing import Any, Awaitable, Callable

from pult.settings import Settings, get_settings

_lock = threading.Lock()
_store: Any = None
_loop: asyncio.AbstractEventLoop | None = None
_own_loop_thread: threading.Thread | None = None
_private: tuple[Any, asyncio.AbstractEventLoop] | None = None  # the store this process opened itself
log = logging.getLogger("pult.jobs.context")
_settings: Settings | None = None


def use_settings(settings: Settings) -> None:
    """The settings jobs of this process use (set by the runner; defaults to get_settings())."""
    global _settings
    _settings = settings


def settings() -> Settings:
    """The settings for jobs in this process."""
    return _settings or get_settings()


_overrides: tuple[float, dict] | None = None
OVERRIDES_MAX_AGE = 30.0


def delivery_settings() -> Settings:
    """:func:`settings` with the operator's stored SMTP/SMS overrides applied (platform settings
    in the store win over the environment; see storage.repos.tenants). Re-read at most every
    :data:`OVERRIDES_MAX_AGE` seconds, so a change in the operator console reaches every worker,
    embedded or standalone; if the store cannot be read, the last known overrides are kept."""
    global _overrides
    from storage.repos.tenants import get_platform_settings, settings_with_overrides

    now = time.monotonic()
    if _overrides is None or now - _overrides[0] > OVERRIDES_MAX_AGE:
        try:
            stored = call_store(lambda store: get_platform_settings(store.db), timeout=10)
        except Exception as exc:  # mail must still go out with the environment's settings
            log.warning("platform settings unreadable, using the last known: %s", exc)
            stored = _overrides[1] if _overrides else {}
        _overrides = (now, stored)
    return settings_with_overrides(_overrides[1], settings())


def forget_overrides() -> None:
    """The operator changed the platform settings: read them again at the next delivery."""
    global _overrides
    _overrides = None


def bind_store(store: Any, loop: asyncio.AbstractEventLoop) -> None:
    """Let jobs use an already started ``store`` whose coroutines run on ``loop`` (embedded).
    A private store this process opened before (see :func:`call_store`) is closed first."""
    global _store, _loop
    _close_private()
    with _lock:
        _store, _loop = store, loop


def unbind_store() -> None:
    """Forget the bound store (embedded shutdown; its owner closes it) and close a private one."""
    global _store, _loop
    with _lock:
        _store = _loop = None
    _close_private()


def _close_private() -> None:
    """Close the store this process opened for itself, on its own loop thread (never on the
    caller's loop: the caller may be an event loop thread, which must not wait on itself)."""
    global _store, _loop, _own_loop_thread
    with _lock:
        thread = _own_loop_thread
        if thread is None:
            return
        store, loop = _private
        if _store is store:
            _store = _loop = None
        _own_loop_thread = None
    try:
        asyncio.run_coroutine_threadsafe(store.close(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


def _open_private_store() -> None:
    """Open this worker's own store on a private loop thread (standalone worker)."""
    global _store, _loop, _own_loop_thread, _private
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
    _private = (store, loop)


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

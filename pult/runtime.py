"""How the server process's interpreter is settled for calls once it has started.

``pult serve`` (the composition root, :mod:`pult.cli`) calls :func:`settle_heap` when everything
has started, and so does the call-engine benchmark (``tests/bench/bench_call_flow.py``), so that it
measures what runs.

Why: CPython's cyclic garbage collector stops the whole process (every thread: the call engine's
loop, the ESL thread, the FreeSWITCH-facing HTTP thread) while it runs. A full (oldest
generation) collection walks every object alive — after start-up that is every module, class,
function and the store's caches — and took 76-347 ms each in the benchmark's process on this
project's busy 2-core machine (load average 6-10); one falling during a call is added to that
call's decision latency (the worst call of an instrumented run with 200 calls up, 254 ms, had a
251 ms one in it). What is alive after start-up lives as long as the process: :func:`gc.freeze`
moves it out of the collector's reach, so a full collection walks only what was made since (the
same benchmark then: 0-63 ms, most of it the calls in progress). Young collections are untouched.
"""
from __future__ import annotations

import gc
import threading
import time
from typing import Callable

__all__ = ["settle_heap", "CollectorHold", "HOLD"]


def settle_heap() -> int:
    """Collect once, then freeze what is left (the start-up heap) out of later collections.

    Returns how many objects were frozen. What was alive at the freeze and later becomes cyclic
    garbage is never reclaimed (CPython's documented cost of :func:`gc.freeze`): call this once,
    after start-up, not per request."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class CollectorHold:
    """Keeps the cyclic collector out of the moments a caller waits in silence for Pult.

    From the outbound ``connect`` to the first command written back (the greeting, the ringing),
    the caller hears nothing; the engine needs about a millisecond of Python for it. A collection
    falling in that window stops every thread of the process for its length — a young one
    2–4 ms with a few hundred calls in progress, a full one tens of milliseconds — and in the
    call-engine benchmark those were most of the calls slower than 4 ms. A call takes a hold when
    it starts (:meth:`take`) and releases it right after its first write to the switch; while any
    hold is taken the collector is off (``gc.disable``), and it runs after the write instead,
    while the switch plays the greeting on its own. Nothing is skipped: the allocations go on
    being counted, and the first one after the release starts the collection that was due.

    Bounded: when holds have kept the collector off for ``max_hold`` seconds in a row (a burst
    of calls overlapping without a gap), it is switched back on and new calls take no hold until
    every taken one is released. A collector switched off by someone else is left alone.
    Thread-safe: taken on the asyncio loop, released on the ESL thread after the write.
    """

    def __init__(self, max_hold: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_hold = max_hold
        self._clock = clock
        self._lock = threading.Lock()
        self._holders = 0
        self._since = 0.0
        self._overrun = False
        #: holds taken / refused since start (for the benchmark and the tests)
        self.taken = 0
        self.refused = 0

    def take(self) -> "Hold | None":
        """A hold for one call, or None (overrun, or the collector is off for another reason)."""
        with self._lock:
            now = self._clock()
            if self._overrun:
                self.refused += 1
                return None
            if self._holders == 0:
                if not gc.isenabled():
                    self.refused += 1
                    return None
                gc.disable()
                self._since = now
            elif now - self._since > self.max_hold:
                self._overrun = True
                gc.enable()
                self.refused += 1
                return None
            self._holders += 1
            self.taken += 1
        return Hold(self)

    def _release(self, hold: "Hold") -> None:
        with self._lock:
            if hold.released:  # the write's release and the flow's end: counted once
                return
            hold.released = True
            self._holders -= 1
            if self._holders == 0:
                if not self._overrun:
                    gc.enable()
                self._overrun = False

    @property
    def holding(self) -> bool:
        return self._holders > 0 and not self._overrun


class Hold:
    """One call's hold; :meth:`release` is idempotent and safe from any thread."""

    __slots__ = ("_owner", "released")

    def __init__(self, owner: CollectorHold) -> None:
        self._owner = owner
        self.released = False

    def release(self) -> None:
        self._owner._release(self)


#: the process's hold (the outbound server's calls take it)
HOLD = CollectorHold()

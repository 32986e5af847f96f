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

__all__ = ["settle_heap"]


def settle_heap() -> int:
    """Collect once, then freeze what is left (the start-up heap) out of later collections.

    Returns how many objects were frozen. What was alive at the freeze and later becomes cyclic
    garbage is never reclaimed (CPython's documented cost of :func:`gc.freeze`): call this once,
    after start-up, not per request."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

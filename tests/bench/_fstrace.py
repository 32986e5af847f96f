"""Diagnostics for bench_store_history (``PULT_BENCH_TRACE=<file prefix>``): where a slow
FreeSWITCH-port probe spent its time. Not used unless the variable is set.

Server side (:func:`install_server`): CPython GC passes (``gc.callbacks``: start/stop, generation),
a 0.5 ms ticker in each loop (lag above 2 ms), and per request on the FreeSWITCH port the moment
the handler was created (headers parsed) and finished. Probe side: send/receive of each probe.
``time.perf_counter`` is CLOCK_MONOTONIC, comparable across processes. :func:`report` joins them.
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import threading
import time
from pathlib import Path

PREFIX = os.environ.get("PULT_BENCH_TRACE")
clock = time.perf_counter

gc_passes: list = []
lags: dict[str, list] = {}
requests: list = []
misses: list = []
marks: dict = {}


def _gc_cb(phase, info, _start=[0.0]):
    if phase == "start":
        _start[0] = clock()
    else:
        gc_passes.append((_start[0], clock(), info["generation"], info.get("collected", 0),
                          threading.current_thread().name))


async def ticker(name: str, every: float = 0.0005) -> None:
    out = lags.setdefault(name, [])
    while True:
        t = clock()
        await asyncio.sleep(every)
        late = clock() - t - every
        if late > 0.002:
            out.append((t + every, late))


def install_server() -> None:
    from tornado.web import RequestHandler

    gc.callbacks.append(_gc_cb)
    init, finish = RequestHandler.__init__, RequestHandler.on_finish

    def __init__(self, application, request, **kw):
        self._trace_t0 = clock()
        init(self, application, request, **kw)

    def on_finish(self):
        finish(self)
        th = threading.current_thread().name
        if th != "MainThread":
            requests.append((self._trace_t0, clock(), self.request.path, th))

    from fs_config.tenant_providers import TenantDirectory
    read = TenantDirectory._read

    async def _read(self, *a):
        t = clock()
        try:
            return await read(self, *a)
        finally:
            if threading.current_thread().name != "MainThread":
                misses.append((t, clock()))

    TenantDirectory._read = _read
    RequestHandler.__init__ = __init__
    RequestHandler.on_finish = on_finish


def dump_server() -> None:
    Path(PREFIX + ".server.json").write_text(json.dumps({"gc": gc_passes, "lags": lags, "requests": requests,
                                                          "misses": misses, "marks": marks}))


def report(probes: dict[str, list], top: int = 15) -> None:
    """``probes``: {kind: [(t0, t1), ...]} from the prober (FreeSWITCH port only)."""
    srv = json.loads(Path(PREFIX + ".server.json").read_text())
    reqs = sorted(srv["requests"])
    allp = sorted(((t1 - t0, t0, t1, k) for k, v in probes.items() for t0, t1 in v), reverse=True)
    gcs = srv["gc"]
    print(f"gc passes: {len(gcs)}; by generation:",
          {g: (sum(1 for x in gcs if x[2] == g), round(max([x[1] - x[0] for x in gcs if x[2] == g] or [0]) * 1000, 1),
               round(sum(x[1] - x[0] for x in gcs if x[2] == g) * 1000, 1)) for g in (0, 1, 2)},
          "(count, max ms, total ms)")
    print(f"directory reads (cache misses) on the FreeSWITCH port: {len(srv['misses'])}")
    for name, l in srv["lags"].items():
        print(f"loop {name}: {len(l)} lags > 2 ms, max {max([x[1] for x in l] or [0]) * 1000:.1f} ms")
    origin = min(t0 for _, t0, _, _ in allp)
    print("marks (s from the first probe):", {k: round(v - origin, 2) for k, v in srv["marks"].items()})
    for dur, t0, t1, kind in allp[:top]:
        path = "/healthz" if "healthz" in kind else "/fs/xml-curl"
        r = next((r for r in reqs if r[2] == path and t0 <= r[0] <= t1), None)
        over = [f"gen{g} {1000 * (b - a):.1f}ms" for a, b, g, *_ in gcs if a < t1 and b > t0]
        lag = {n: round(1000 * sum(x[1] for x in l if x[0] - x[1] < t1 and x[0] > t0), 1)
               for n, l in srv["lags"].items()}
        if r:
            stages = f"in {1000 * (r[0] - t0):.1f} | handler {1000 * (r[1] - r[0]):.1f} | out {1000 * (t1 - r[1]):.1f}"
        else:
            stages = "no server record"
        miss = any(a < t1 and b > t0 for a, b in srv["misses"])
        print(f"{t0 - origin:5.2f}s {kind:34s} {dur * 1000:6.1f} ms: {stages}; {'MISS; ' if miss else ''}gc {over}; loop lag {lag}")

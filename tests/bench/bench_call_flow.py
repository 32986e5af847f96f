"""Call-engine decision latency: from the outbound ``connect`` to the first media or bridge command.

Run: ``.venv/bin/python -m tests.bench.bench_call_flow [--calls 50 200] [--rounds 3] [--probes 200]``.
Not a test: it prints figures (and the load average before and after: on a shared machine the
tail is mostly other processes' CPU).

Everything real but FreeSWITCH: the FreeSWITCH simulator (tests/fsim) places N calls at once on
the worked example's number (inventory A §4.4.2.1) and holds them in progress (a very long
greeting); then ``--probes`` new calls (200 by default, per round) are placed one after the other
and measured: with 3 rounds the p99 is the 6th-worst of 600 calls (with 50 a round, as before, it
was the 2nd-worst of 150: nearly the maximum). Each goes through
Pult's outbound server (gevent thread with greenswitch, hand-off to asyncio), the PBX snapshot is
loaded from the embedded store, and the engine walks the scheme to the greeting. The latency is
measured on the
simulator's side (the simulator runs in its own process, as FreeSWITCH would): the time between the arrival
of a call's ``connect`` and the arrival of that call's first ``playback`` / ``play_and_get_digits`` /
``bridge`` (what a caller would notice as "Pult decided"), each taken when its bytes were read
(``ReceivedCommand.received_at``), not when the Python stand-in had got through the commands that
came before it in the same write. Pult's process is set up as ``pult serve`` sets itself up: the interpreter's switch
interval (fs_config.server.FS_SWITCH_INTERVAL) and the start-up heap frozen out of the cyclic
collector (:func:`pult.runtime.settle_heap`). The greeting is long, so all N calls are in progress together; memory per concurrent
call is the growth of the Python heap (tracemalloc) with N calls up, divided by N.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

FIRST_MEDIA = ("playback", "play_and_get_digits", "bridge")
#: the worked example's greeting as the switch is told to play it (see SOUND_URL)
GREETING = "http_cache://pult.bench/fs/sounds/101/snd_greet/wav8k.wav"
#: new calls measured one after the other (per round) while the N calls are in progress
PROBES = 200


class TimedCommands(list):
    """The simulator's ``received_commands``, noting when each call's ``connect`` and first media
    command arrived (indexed as they come: scanning the list would cost the simulator's CPU)."""

    def __init__(self):
        super().__init__()
        self.connects: dict[str, float] = {}
        self.firsts: dict[str, float] = {}
        #: calls whose first media command someone awaits (no polling: the stand-in's loop only
        #: wakes for it when it comes)
        self.waiting: dict[str, asyncio.Future] = {}

    def append(self, item):
        # when the command's bytes reached the stand-in (one write of Pult's is one read here),
        # not when the stand-in had got through the commands before it in that read
        now = item.received_at
        origin = item.origin.split(":", 1)[-1]
        if item.line == "connect":
            self.connects.setdefault(origin, now)
        elif item.verb == "sendmsg" and item.headers.get("execute-app-name") in FIRST_MEDIA:
            if origin not in self.firsts:
                self.firsts[origin] = now
                waiter = self.waiting.pop(origin, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(now)
        super().append(item)

    async def first_media(self, uuids, timeout: float) -> None:
        """Until each of ``uuids`` has had its first media command (or ``timeout`` seconds)."""
        loop = asyncio.get_running_loop()
        waits = []
        for u in uuids:
            if u not in self.firsts:
                waits.append(self.waiting.setdefault(u, loop.create_future()))
        if waits:
            await asyncio.wait(waits, timeout=timeout)

    def clear(self):
        super().clear()
        self.connects.clear()
        self.firsts.clear()
        self.waiting.clear()


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def _sim_process(conn, time_scale: float) -> None:
    """The simulator in its own process (as FreeSWITCH is): serves the ESL and places calls on
    request; answers each round with the latencies it measured."""
    import logging
    logging.disable(logging.CRITICAL)
    from tests.fsim import FreeSwitchSimulator
    from tests.unit.flow_data import NUMBER, PBX_ID

    async def serve():
        sim = FreeSwitchSimulator(hostname="bench", time_scale=time_scale,
                                  media_durations={GREETING: 100_000.0})
        sim.received_commands = TimedCommands()
        await sim.start()
        # the stand-in's own start-up heap out of its collector's full passes too: FreeSWITCH has
        # no such pauses, and the latency is timed in this process
        from pult.runtime import settle_heap
        settle_heap()
        conn.send(sim.port)
        loop = asyncio.get_running_loop()
        while True:
            msg = await loop.run_in_executor(None, conn.recv)
            if msg[0] == "stop":
                break
            if msg[0] == "target":
                sim.outbound_target = msg[1]
                conn.send("ok")
                continue
            calls, probes, gap = msg[1], msg[2], msg[3]

            async def place(i):
                return await sim.place_call(f"7903{i:07d}", NUMBER, {
                    "pult_pbx_id": str(PBX_ID), "pult_source": "number", "pult_number_id": "n1"})

            def timings(uuids):
                rc = sim.received_commands
                return ({u: rc.firsts[u] for u in uuids if u in rc.firsts},
                        {u: rc.connects[u] for u in uuids if u in rc.connects})

            async def wait_up(uuids):
                await sim.received_commands.first_media(uuids, timeout=120)
                return timings(uuids)

            sim.received_commands.clear()
            held = []
            for start in range(0, calls, 25):  # ramp up in bursts of 25: the calls already in progress
                batch = await asyncio.gather(*(place(i) for i in range(start, min(calls, start + 25))))
                await wait_up({c.uuid for c in batch})
                held += batch
            latencies = []
            # no collection in the stand-in while it times the probes (FreeSWITCH has no such
            # pauses; a full one took 20 ms here): what they leave is collected after the round
            gc.disable()
            cpu = time.process_time()
            for i in range(probes):  # new calls while `calls` are in progress, one at a time
                probe = await place(calls + i)
                firsts, connects = await wait_up({probe.uuid})
                if probe.uuid in firsts and probe.uuid in connects:
                    latencies.append((firsts[probe.uuid] - connects[probe.uuid]) * 1000)
                held.append(probe)
                if gap:
                    await asyncio.sleep(gap)
            # the stand-in's own CPU per probe call (placing it, answering Pult, running what Pult
            # sent, its events): what FreeSWITCH does in C on threads of its own
            sim_cpu = (time.process_time() - cpu) / max(1, probes)
            gc.enable()
            conn.send(("up", len(latencies)))
            await loop.run_in_executor(None, conn.recv)  # the parent measured its memory
            for c in held:
                await c.hangup("NORMAL_CLEARING")
            await asyncio.gather(*(c.wait_ended(timeout=30) for c in held), return_exceptions=True)
            # what the stand-in kept of this round (every event, for tests' assertions) out of its
            # collector's full passes: FreeSWITCH has no such pauses, and the latency is timed here
            settle_heap()
            conn.send((latencies, sim_cpu))
        await sim.stop()

    asyncio.run(serve())


async def settled(outbound, quiet: float = 0.5, limit: float = 30.0) -> None:
    """Until the previous round's calls are gone from Pult (their records written, sockets
    closed), then ``quiet`` seconds more: each round measures calls in progress, not the
    hang-up of the previous round's hundreds at once."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while outbound.calls and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(quiet)


async def one_round(conn, calls: int, probes: int = PROBES, gap: float = 0.0) -> tuple[list[float], float, float]:
    loop = asyncio.get_running_loop()
    gc.collect()
    before = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    conn.send(("round", calls, probes, gap))
    _, up = await loop.run_in_executor(None, conn.recv)
    grown = 0
    if before is not None:
        gc.collect()
        grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    conn.send("measured")
    latencies, sim_cpu = await loop.run_in_executor(None, conn.recv)
    if up < probes:
        print(f"  warning: {probes - up} of {probes} probe calls got no media command in time")
    return latencies, grown / (calls + probes), sim_cpu


async def main(call_counts: list[int], rounds: int, redis_url: str | None = None,
               probes: int = PROBES, gaps: tuple[float, ...] = (0.0,)) -> None:
    import logging
    import multiprocessing

    from esl_control.flow.runner import EngineFlow
    from esl_control.service import EslService
    from storage.client import open_store
    from tests.unit.flow_data import WORK_TIME, seed
    from pult.settings import load_settings

    # Pult's logs as `pult serve` makes them (structlog through logging, INFO), written nowhere:
    # the cost of each call's log lines counts, the terminal stays readable
    from pult.observability import setup_logging
    setup_logging("text", "INFO")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_sim_process, args=(child, 0.01), daemon=True)
    proc.start()
    loop = asyncio.get_running_loop()
    sim_port = await loop.run_in_executor(None, parent.recv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        store = open_store(load_settings(data_dir=data))
        await store.start()
        await seed(store.db)
        settings = load_settings(data_dir=data, esl_nodes=f"fs1=127.0.0.1:{sim_port}:ClueCon",
                                 outbound_host="127.0.0.1", outbound_port=0, esl_command_timeout=30)
        shared = redis = None
        if redis_url:  # current calls per PBX in Redis, as with several Pult instances
            import redis.asyncio as aioredis

            from esl_control.flow.shared import RedisCallState
            redis = aioredis.from_url(redis_url)
            shared = RedisCallState(redis, prefix=f"bench:{time.time_ns()}")
        flow = EngineFlow(store.db, clock=lambda: WORK_TIME, shared=shared,
                          sound_url=lambda pbx, sid: f"pult.bench/fs/sounds/{pbx}/{sid}/wav8k.wav")
        svc = EslService(settings, store, flow=flow)
        await svc.start()
        parent.send(("target", ("127.0.0.1", svc.outbound.port)))
        await loop.run_in_executor(None, parent.recv)
        try:
            await one_round(parent, 5, 5)  # warm up: imports, first connections
            # as `pult serve` is once started (pult/cli.py): the switch interval its FreeSWITCH
            # port sets, the start-up heap out of the cyclic collector's full passes
            from fs_config.server import FS_SWITCH_INTERVAL
            from pult.runtime import settle_heap
            sys.setswitchinterval(min(sys.getswitchinterval(), FS_SWITCH_INTERVAL))
            settle_heap()
            print(f"load average at the start: {' / '.join(f'{x:.2f}' for x in os.getloadavg())} "
                  f"({os.cpu_count()} CPUs); {probes} probe calls a round, {rounds} rounds")
            print(f"{'concurrent calls':>17} | {'probes':>13} | {'p50 ms':>7} | {'p90 ms':>7} | {'p99 ms':>7} | "
                  f"{'max ms':>7} | stand-in CPU per call")
            for n in call_counts:
                lat: dict[float, list[float]] = {g: [] for g in gaps}
                cpu: dict[float, list[float]] = {g: [] for g in gaps}
                for _ in range(rounds):  # the spacings alternate round by round: same machine, same time
                    for g in gaps:
                        await settled(svc.outbound)
                        got, _mem, sim_cpu = await one_round(parent, n, probes, g)
                        lat[g] += got
                        cpu[g].append(sim_cpu)
                for g in gaps:
                    how = "back to back" if not g else f"{g * 1000:.0f} ms apart"
                    print(f"{n:>17} | {how:>13} | {statistics.median(lat[g]):7.1f} | {percentile(lat[g], 90):7.1f} | "
                          f"{percentile(lat[g], 99):7.1f} | {max(lat[g]):7.1f} | "
                          f"{statistics.mean(cpu[g]) * 1000:.1f} ms")
            print(f"load average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
            from pult.runtime import HOLD
            print(f"collector holds (no collection between a call's connect and its first command): "
                  f"{HOLD.taken} taken, {HOLD.refused} refused (a burst past {HOLD.max_hold * 1000:.0f} ms)")
            # memory in its own rounds: tracemalloc slows every allocation down
            tracemalloc.start()
            for n in call_counts:
                await settled(svc.outbound)
                _lat, mem, _cpu = await one_round(parent, n, 0)
                print(f"Pult's heap with {n} calls up: {mem / 1024:.1f} KiB per call")
        finally:
            tracemalloc.stop()
            parent.send(("stop",))
            proc.join(10)
            await svc.stop()
            await store.close()
            if redis is not None:
                await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--probes", type=int, default=PROBES, help="new calls measured per round "
                        f"(default {PROBES})")
    parser.add_argument("--redis", metavar="URL", help="count current calls in this Redis (RedisCallState) "
                        "instead of the process's memory")
    parser.add_argument("--gaps", type=float, nargs="+", default=[0.0], metavar="MS",
                        help="pause between one probe call's first media command and the next "
                        "probe, in ms; each is measured in alternating rounds (default 0: back to back; "
                        "spaced probes measured no better: 10 ms apart gave p50 2.4 against 1.9-2.1 ms, idle "
                        "cores waking)")
    args = parser.parse_args()
    asyncio.run(main(args.calls, args.rounds, args.redis, args.probes, tuple(g / 1000 for g in args.gaps)))

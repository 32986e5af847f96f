"""ESL ingest benchmark: how fast recorded FreeSWITCH events get from a socket to handlers.

Run: ``.venv/bin/python -m tests.bench.bench_esl_ingest [--events N]`` (or all benchmarks with
``.venv/bin/python -m tests.bench``). Not a test: it prints figures.

One stream — every plain event of the recorded traces, repeated to N events — is served over
loopback by a small blocking-socket FreeSWITCH stand-in (its own process) to, in the same run:

  (i)   raw greenswitch ``InboundESL`` in a gevent thread, a ``"*"`` handler counting events;
  (ii)  Pult's bridge: greenswitch (with Pult's reader) in the gevent thread, events handed to
        asyncio in batches, an asyncio handler counting them — what the product runs — once with
        a handler that reads every event's headers (the full parse, greenswitch's work) and
        once reading only the name (events are parsed lazily; most are only routed by name);
  (ii') the same reader in the gevent thread without the hand-off (the bridge's own cost);
  (iii) a bare asyncio protocol with the same parser (the ceiling for a pure-asyncio design).

Then the ``api`` round trip through the bridge (asyncio → gevent → socket → reply → asyncio),
sequential, p50/p99, against raw greenswitch ``send`` inside the gevent thread.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

TRACES = Path("/work/shared/freeswitch/traces")
ROOT = Path(__file__).resolve().parent.parent.parent
GREETING = b"Content-Type: auth/request\n\n"
AUTH_OK = b"Content-Type: command/reply\nReply-Text: +OK accepted\n\n"
EVENTS_OK = b"Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n"
BYE = b"Content-Type: command/reply\nReply-Text: +OK bye\n\n"
API_REPLY = b"Content-Type: api/response\nContent-Length: 3\n\n+OK"


def recorded_events() -> list[bytes]:
    """Every text/event-plain frame FreeSWITCH sent in the traces, byte for byte."""
    frames = []
    for path in sorted(TRACES.glob("*.jsonl")):
        if path.name.startswith("xml_curl"):
            continue
        for line in path.read_text().splitlines()[1:]:
            frame = json.loads(line)
            if frame["dir"] == "recv" and "Content-Type: text/event-plain" in frame["data"][:80]:
                frames.append(frame["data"].encode())
    return frames


def build_stream(n: int) -> bytes:
    frames = recorded_events()
    return b"".join(frames[i % len(frames)] for i in range(n))


def serve_one(listener: socket.socket, blob: bytes) -> None:
    """FreeSWITCH's side for one client: greet, authenticate, answer ``api``, send the blob on
    ``event``, stop at ``exit`` or when the client goes away."""
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    conn.sendall(GREETING)
    buf = b""
    try:
        while True:
            data = conn.recv(65536)
            if not data:
                return
            buf += data
            while b"\n\n" in buf:
                command, buf = buf.split(b"\n\n", 1)
                if command.startswith(b"auth "):
                    conn.sendall(AUTH_OK)
                elif command.startswith(b"event "):
                    conn.sendall(EVENTS_OK)
                    if blob:
                        conn.sendall(blob)
                elif command.startswith(b"api "):
                    conn.sendall(API_REPLY)
                elif command.startswith(b"exit"):
                    conn.sendall(BYE)
                    return
    except OSError:
        return
    finally:
        conn.close()
        listener.close()


_BLOBS: dict[int, str] = {}
_SERVERS: list[subprocess.Popen] = []


class StandIn:
    """The FreeSWITCH stand-in in its own process, as FreeSWITCH is in production — so it does
    not compete for this process's GIL and CPU time measured here is the client's alone."""

    def __init__(self, blob: bytes = b"") -> None:
        path = ""
        if blob:
            path = _BLOBS.get(id(blob), "")
            if not path:
                fd, path = tempfile.mkstemp(prefix="pult-bench-esl-", suffix=".bin")
                with os.fdopen(fd, "wb") as f:
                    f.write(blob)
                _BLOBS[id(blob)] = path
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.bench.bench_esl_ingest",
                                      "--serve", path], stdout=subprocess.PIPE, cwd=ROOT)
        _SERVERS.append(self.proc)
        self.port = int(self.proc.stdout.readline())

    def start(self) -> None:
        """Already serving (kept so call sites read like a server being started)."""


def _cleanup() -> None:
    for proc in _SERVERS:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.stdout.close()
    _SERVERS.clear()
    for path in _BLOBS.values():
        os.unlink(path)
    _BLOBS.clear()


def _serve_main(path: str) -> None:
    blob = Path(path).read_bytes() if path else b""
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    serve_one(listener, blob)


# ------------------------------------------------------------------------------ (i) raw greenswitch
def clocks() -> tuple[float, float]:
    """Wall clock and this process's CPU time (all threads), read together."""
    return time.perf_counter(), time.process_time()


def elapsed(start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    return end[0] - start[0], end[1] - start[1]


def timed_in_gevent(blob: bytes, n: int, make_esl) -> tuple[float, float]:
    """Wall and CPU time from ``event plain ALL`` to the ``n``-th event, for the connection
    ``make_esl(port, counted)`` opens in a gevent thread of its own to a stand-in switch sending
    ``blob``; its reader calls ``counted(k)`` with each ``k`` events it has fully parsed."""
    result: dict = {}

    def main() -> None:
        import gevent
        import gevent.event

        gevent.get_hub()
        server = StandIn(blob)
        server.start()
        done = gevent.event.Event()
        count = [0]

        def counted(k: int = 1) -> None:
            count[0] += k
            if count[0] >= n and not done.is_set():
                result["end"] = clocks()
                done.set()

        esl = make_esl(server.port, counted)
        result["start"] = clocks()
        esl.send("event plain ALL")
        done.wait(300)
        esl.stop()
        gevent.get_hub().destroy(destroy_loop=True)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    return elapsed(result["start"], result["end"])


def raw_greenswitch(blob: bytes, n: int) -> tuple[float, float]:
    """Events/s of plain greenswitch in a gevent thread (its own reader, queue and dispatcher)."""
    def make_esl(port: int, counted):
        from greenswitch.esl import InboundESL

        esl = InboundESL("127.0.0.1", port, "ClueCon")
        esl.connect()
        esl.register_handle("*", lambda event: counted())
        return esl

    return timed_in_gevent(blob, n, make_esl)


# ------------------------------------------------------------------------------ (ii') Pult reader, no bridge
def pult_reader_in_gevent(blob: bytes, n: int) -> tuple[float, float]:
    def make_esl(port: int, counted):
        from esl_control.transport.greenswitch_ext import PultInboundESL

        def sink(batch: list) -> None:
            parsed = 0
            for item in batch:
                if getattr(item, "body", None) is not None:
                    item.headers  # the full parse, as in (i)
                    parsed += 1
            counted(parsed)

        esl = PultInboundESL("127.0.0.1", port, "ClueCon", sink=sink)
        esl.connect()
        return esl

    return timed_in_gevent(blob, n, make_esl)


# ------------------------------------------------------------------------------ (ii) the bridge
async def bridge(blob: bytes, n: int, full: bool = True) -> tuple[tuple[float, float], float]:
    """Events/s into an asyncio handler through Pult's bridge; also events per hand-off.

    ``full``: the handler reads every event's headers (the full parse, greenswitch's amount of
    work); otherwise only its name, as most of Pult's handlers do for most events.
    """
    from esl_control.transport import EslConnection, GeventThread

    hub = GeventThread()
    hub.start()
    server = StandIn(blob)
    server.start()
    done = asyncio.get_running_loop().create_future()
    count = 0
    batches = 0

    def handler(event) -> None:
        nonlocal count
        if full:
            event.headers
        else:
            event.name
        count += 1
        if count == n:
            done.set_result(clocks())

    def on_batch(size: int) -> None:
        nonlocal batches
        batches += 1

    conn = EslConnection(hub, "bench", "127.0.0.1", server.port, "ClueCon")
    conn.on("*", handler)
    conn.on_batch(on_batch)
    await conn.open()
    start = clocks()
    await conn.send("event plain ALL")
    end = await asyncio.wait_for(done, 300)
    await conn.close()
    await hub.stop()
    return elapsed(start, end), n / max(batches, 1)


# ------------------------------------------------------------------------------ (iii) bare asyncio
async def bare_asyncio(blob: bytes, n: int, full: bool = True) -> tuple[float, float]:
    """The same parser on a plain asyncio protocol, no bridge; ``full`` as in :func:`bridge`
    (False: the handler reads only the event's name — the lazy path most of Pult's events take)."""
    from esl_control.transport.protocol import FrameParser, event_from_message

    server = StandIn(blob)
    server.start()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    state: dict = {"count": 0, "start": None}

    class Proto(asyncio.Protocol):
        def connection_made(self, transport) -> None:
            self.transport = transport
            self.parser = FrameParser()

        def data_received(self, data: bytes) -> None:
            for msg in self.parser.feed(data):
                ctype = msg.headers.get("Content-Type")
                if ctype == "auth/request":
                    self.transport.write(b"auth ClueCon\n\n")
                elif ctype == "command/reply" and msg.data == "+OK accepted":
                    state["start"] = clocks()
                    self.transport.write(b"event plain ALL\n\n")
                else:
                    event = event_from_message(msg)
                    if event is not None:
                        if full:
                            event.headers  # the full parse, as in (i)
                        else:
                            event.name  # the lazy path, as in the bridge's name-only variant
                        state["count"] += 1
                        if state["count"] == n:
                            done.set_result(clocks())

    transport, _ = await loop.create_connection(Proto, "127.0.0.1", server.port)
    end = await asyncio.wait_for(done, 300)
    transport.write(b"exit\n\n")
    transport.close()
    return elapsed(state["start"], end)


# ------------------------------------------------------------------------------ api round trip
def percentiles(samples: list[float]) -> tuple[float, float]:
    samples = sorted(samples)
    return (statistics.median(samples) * 1e3, samples[int(len(samples) * 0.99) - 1] * 1e3)


async def bridge_round_trip(count: int) -> tuple[float, float]:
    from esl_control.transport import EslConnection, GeventThread

    hub = GeventThread()
    hub.start()
    server = StandIn()
    server.start()
    conn = EslConnection(hub, "bench", "127.0.0.1", server.port, "ClueCon")
    await conn.open()
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        await conn.api("status")
        samples.append(time.perf_counter() - t0)
    await conn.close()
    await hub.stop()
    return percentiles(samples[count // 10:])  # without warm-up


def raw_round_trip(count: int) -> tuple[float, float]:
    result: dict = {}

    def main() -> None:
        import gevent
        from greenswitch.esl import InboundESL

        gevent.get_hub()
        server = StandIn()
        server.start()
        esl = InboundESL("127.0.0.1", server.port, "ClueCon")
        esl.connect()
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            esl.send("api status")
            samples.append(time.perf_counter() - t0)
        esl.stop()
        result["p"] = percentiles(samples[count // 10:])
        gevent.get_hub().destroy(destroy_loop=True)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    return result["p"]


# ------------------------------------------------------------------------------ main
VARIANTS = ("raw_greenswitch", "bridge", "bridge_name_only", "pult_reader_no_bridge", "bare_asyncio",
            "bare_asyncio_name_only")


def run(n: int = 20_000, round_trips: int = 3000, rounds: int = 3) -> dict:
    """Each variant ``rounds`` times, interleaved; keep each variant's best round.

    Best-of-N because the machine is shared: other load only ever makes a round slower.
    CPU time (all threads of this process, the stand-in server included — the same for every
    variant) is reported too; it is much less sensitive to other processes than wall time.
    """
    from pult.observability import setup_logging

    setup_logging("text", "ERROR")  # greenswitch logs at INFO/WARNING on the root logger
    blob = build_stream(n)
    figures: dict = {"events": n, "stream_mb": round(len(blob) / 1e6, 1), "rounds": rounds}
    best = {v: (float("inf"), float("inf")) for v in VARIANTS}
    for _ in range(rounds):
        timings = {
            "raw_greenswitch": raw_greenswitch(blob, n),
            "pult_reader_no_bridge": pult_reader_in_gevent(blob, n),
            "bare_asyncio": asyncio.run(bare_asyncio(blob, n)),
            "bare_asyncio_name_only": asyncio.run(bare_asyncio(blob, n, full=False)),
        }
        timings["bridge"], figures["events_per_handoff"] = asyncio.run(bridge(blob, n))
        timings["bridge_name_only"], _ = asyncio.run(bridge(blob, n, full=False))
        for v in VARIANTS:
            wall, cpu = timings[v]
            best[v] = (min(best[v][0], wall), min(best[v][1], cpu))
    for v in VARIANTS:
        figures[v] = n / best[v][0]
        figures[v + "_cpu_us"] = best[v][1] / n * 1e6
    trips = [asyncio.run(bridge_round_trip(round_trips)) for _ in range(rounds)]
    figures["api_bridge_p50_ms"], figures["api_bridge_p99_ms"] = min(trips)
    raws = [raw_round_trip(round_trips) for _ in range(rounds)]
    figures["api_raw_p50_ms"], figures["api_raw_p99_ms"] = min(raws)
    _cleanup()
    return figures


def report(f: dict) -> str:
    raw = f["raw_greenswitch"]
    rows = [
        ("(i)   raw greenswitch InboundESL, gevent thread", "raw_greenswitch"),
        ("(ii)  Pult bridge -> asyncio handlers", "bridge"),
        ("(ii)  same, handler reads only the name (lazy)", "bridge_name_only"),
        ("(ii') Pult reader in gevent, no hand-off", "pult_reader_no_bridge"),
        ("(iii) bare asyncio, same parser", "bare_asyncio"),
        ("(iii) same, handler reads only the name (lazy)", "bare_asyncio_name_only"),
    ]
    lines = [f"ESL ingest: {f['events']} recorded plain events ({f['stream_mb']} MB) over loopback, "
             f"best of {f['rounds']} rounds"]
    for label, key in rows:
        lines.append(f"  {label:<48} {f[key]:>9,.0f} events/s {f[key] / raw:5.2f}x   "
                     f"CPU {f[key + '_cpu_us']:6.1f} us/event")
    lines += [
        f"  bridge hand-offs: {f['events_per_handoff']:.1f} events per call_soon_threadsafe; "
        f"bridge / bare asyncio: {f['bridge'] / f['bare_asyncio']:.2f} (wall), "
        f"{f['bare_asyncio_cpu_us'] / f['bridge_cpu_us']:.2f} (CPU); lazy path: bridge / bare asyncio "
        f"{f['bridge_name_only'] / f['bare_asyncio_name_only']:.2f} (wall), "
        f"{f['bare_asyncio_name_only_cpu_us'] / f['bridge_name_only_cpu_us']:.2f} (CPU)",
        "ESL api round trip (sequential, best round):",
        f"  through the bridge (asyncio)   p50 {f['api_bridge_p50_ms']:.3f} ms  p99 {f['api_bridge_p99_ms']:.3f} ms",
        f"  raw greenswitch (gevent only)  p50 {f['api_raw_p50_ms']:.3f} ms  p99 {f['api_raw_p99_ms']:.3f} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--round-trips", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", metavar="BLOB_FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:  # internal: the stand-in process
        _serve_main(args.serve)
        return
    print(report(run(args.events, args.round_trips, args.rounds)))


if __name__ == "__main__":
    main()

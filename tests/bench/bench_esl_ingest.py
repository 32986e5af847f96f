"""ESL ingest benchmark: how fast recorded FreeSWITCH events get from a socket to handlers.

Run: ``.venv/bin/python -m tests.bench.bench_esl_ingest [--events N]`` (or all benchmarks with
``.venv/bin/python -m tests.bench``). Not a test: it prints figures.

One stream — every plain event of the recorded traces, repeated to N events — is served over
loopback by a small blocking-socket FreeSWITCH stand-in (its own thread) to, in the same run:

  (i)   raw greenswitch ``InboundESL`` in a gevent thread, a ``"*"`` handler counting events;
  (ii)  Pult's bridge: greenswitch (with Pult's reader) in the gevent thread, events handed to
        asyncio in batches, an asyncio handler counting them — what the product runs;
  (ii') the same reader in the gevent thread without the hand-off (the bridge's own cost);
  (iii) a bare asyncio protocol with the same parser (the ceiling for a pure-asyncio design).

Then the ``api`` round trip through the bridge (asyncio → gevent → socket → reply → asyncio),
sequential, p50/p99, against raw greenswitch ``send`` inside the gevent thread.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import statistics
import threading
import time
from pathlib import Path

TRACES = Path("/work/shared/freeswitch/traces")
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


class StandIn(threading.Thread):
    """Accepts one ESL client: greets, authenticates, answers ``api``; on ``event`` sends the blob."""

    def __init__(self, blob: bytes = b"") -> None:
        super().__init__(name="bench-freeswitch", daemon=True)
        self.blob = blob
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def run(self) -> None:
        conn, _ = self.listener.accept()
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
                        if self.blob:
                            conn.sendall(self.blob)
                    elif command.startswith(b"api "):
                        conn.sendall(API_REPLY)
                    elif command.startswith(b"exit"):
                        conn.sendall(BYE)
                        return
        except OSError:
            return
        finally:
            conn.close()
            self.listener.close()


# ------------------------------------------------------------------------------ (i) raw greenswitch
def raw_greenswitch(blob: bytes, n: int) -> float:
    """Events/s of plain greenswitch in a gevent thread (its own reader, queue and dispatcher)."""
    result: dict = {}

    def main() -> None:
        import gevent
        import gevent.event
        from greenswitch.esl import InboundESL

        gevent.get_hub()
        server = StandIn(blob)
        server.start()
        done = gevent.event.Event()
        count = [0]

        def handler(event) -> None:
            count[0] += 1
            if count[0] == n:
                result["end"] = time.perf_counter()
                done.set()

        esl = InboundESL("127.0.0.1", server.port, "ClueCon")
        esl.connect()
        esl.register_handle("*", handler)
        result["start"] = time.perf_counter()
        esl.send("event plain ALL")
        done.wait(300)
        esl.stop()
        gevent.get_hub().destroy(destroy_loop=True)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    return n / (result["end"] - result["start"])


# ------------------------------------------------------------------------------ (ii') Pult reader, no bridge
def pult_reader_in_gevent(blob: bytes, n: int) -> float:
    result: dict = {}

    def main() -> None:
        import gevent
        import gevent.event

        from esl_control.transport.greenswitch_ext import PultInboundESL

        gevent.get_hub()
        server = StandIn(blob)
        server.start()
        done = gevent.event.Event()
        count = [0]

        def sink(batch: list) -> None:
            for item in batch:
                if getattr(item, "headers", None) is not None:
                    count[0] += 1
            if count[0] >= n and not done.is_set():
                result["end"] = time.perf_counter()
                done.set()

        esl = PultInboundESL("127.0.0.1", server.port, "ClueCon", sink=sink)
        esl.connect()
        result["start"] = time.perf_counter()
        esl.send("event plain ALL")
        done.wait(300)
        esl.stop()
        gevent.get_hub().destroy(destroy_loop=True)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    return n / (result["end"] - result["start"])


# ------------------------------------------------------------------------------ (ii) the bridge
async def bridge(blob: bytes, n: int) -> tuple[float, float]:
    """Events/s into an asyncio handler through Pult's bridge; also batches per hand-off."""
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
        count += 1
        if count == n:
            done.set_result(time.perf_counter())

    def on_batch(size: int) -> None:
        nonlocal batches
        batches += 1

    conn = EslConnection(hub, "bench", "127.0.0.1", server.port, "ClueCon")
    conn.on("*", handler)
    conn.on_batch(on_batch)
    await conn.open()
    start = time.perf_counter()
    await conn.send("event plain ALL")
    end = await asyncio.wait_for(done, 300)
    await conn.close()
    await hub.stop()
    return n / (end - start), n / max(batches, 1)


# ------------------------------------------------------------------------------ (iii) bare asyncio
async def bare_asyncio(blob: bytes, n: int) -> float:
    from esl_control.transport.protocol import FrameParser, event_from_message

    server = StandIn(blob)
    server.start()
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    state = {"count": 0, "start": 0.0}

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
                    state["start"] = time.perf_counter()
                    self.transport.write(b"event plain ALL\n\n")
                else:
                    event = event_from_message(msg)
                    if event is not None:
                        state["count"] += 1
                        if state["count"] == n:
                            done.set_result(time.perf_counter())

    transport, _ = await loop.create_connection(Proto, "127.0.0.1", server.port)
    end = await asyncio.wait_for(done, 300)
    transport.write(b"exit\n\n")
    transport.close()
    return n / (end - state["start"])


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
def run(n: int = 30_000, round_trips: int = 3000) -> dict:
    logging.getLogger().setLevel(logging.ERROR)  # greenswitch logs at INFO/WARNING on the root
    blob = build_stream(n)
    figures = {"events": n, "stream_mb": round(len(blob) / 1e6, 1)}
    figures["raw_greenswitch"] = raw_greenswitch(blob, n)
    figures["pult_reader_no_bridge"] = pult_reader_in_gevent(blob, n)
    figures["bridge"], figures["events_per_handoff"] = asyncio.run(bridge(blob, n))
    figures["bare_asyncio"] = asyncio.run(bare_asyncio(blob, n))
    figures["api_bridge_p50_ms"], figures["api_bridge_p99_ms"] = asyncio.run(bridge_round_trip(round_trips))
    figures["api_raw_p50_ms"], figures["api_raw_p99_ms"] = raw_round_trip(round_trips)
    return figures


def report(f: dict) -> str:
    raw = f["raw_greenswitch"]
    lines = [
        f"ESL ingest: {f['events']} recorded plain events ({f['stream_mb']} MB) over loopback",
        f"  (i)   raw greenswitch InboundESL, gevent thread  {raw:>10,.0f} events/s  1.00x",
        f"  (ii)  Pult bridge -> asyncio handlers            {f['bridge']:>10,.0f} events/s  "
        f"{f['bridge'] / raw:.2f}x  ({f['events_per_handoff']:.1f} events per hand-off)",
        f"  (ii') Pult reader in gevent, no hand-off         {f['pult_reader_no_bridge']:>10,.0f} events/s  "
        f"{f['pult_reader_no_bridge'] / raw:.2f}x",
        f"  (iii) bare asyncio, same parser                  {f['bare_asyncio']:>10,.0f} events/s  "
        f"{f['bare_asyncio'] / raw:.2f}x",
        f"  bridge / bare asyncio: {f['bridge'] / f['bare_asyncio']:.2f}",
        "ESL api round trip (sequential):",
        f"  through the bridge (asyncio)   p50 {f['api_bridge_p50_ms']:.3f} ms  p99 {f['api_bridge_p99_ms']:.3f} ms",
        f"  raw greenswitch (gevent only)  p50 {f['api_raw_p50_ms']:.3f} ms  p99 {f['api_raw_p99_ms']:.3f} ms",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--round-trips", type=int, default=3000)
    args = parser.parse_args(argv)
    print(report(run(args.events, args.round_trips)))


if __name__ == "__main__":
    main()

"""Replay a recorded trace's FreeSWITCH side to a client under test.

``TraceReplayServer`` plays the ``recv`` frames of a trace byte for byte:

* inbound traces (the first frame is FreeSWITCH's ``auth/request``): it
  listens; the client connects to it like to mod_event_socket;
* outbound traces (the first frame is the client's ``connect``): it connects
  to the client's outbound-socket server like FreeSWITCH does.

Frames recorded before the first ``send`` are written at once; after each
client command the server writes the recv frames that followed the matching
recorded ``send`` frame. Matching is loose: the command verb (``api``,
``sendmsg``, ``event`` …) must be the one recorded next; with
``strict=True`` the whole first line must match. A mismatch is recorded in
``mismatches`` and nothing is sent for it. Everything the client sent is
kept in ``received`` so a test can compare it with ``trace.sends``.

    async with TraceReplayServer("inbound_basic") as replay:
        client = MyClient(replay.host, replay.port, password="ClueCon")
        ...
        assert replay.mismatches == []
        assert [c.line for c in replay.received] == [f.data.splitlines()[0] for f in replay.trace.sends]
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from .protocol import Command, read_command
from .traces import Trace, load_trace


@dataclass
class Mismatch:
    index: int
    expected: str | None
    got: str


def _first_line(data: str) -> str:
    return data.split("\n", 1)[0].strip()


class TraceReplayServer:
    """Serve one recorded trace (see module docstring)."""

    def __init__(self, trace: str | Trace, *, host: str = "127.0.0.1", strict: bool = False,
                 close_at_end: bool = True, directory: Path | None = None):
        self.trace = trace if isinstance(trace, Trace) else load_trace(trace, directory)
        self.host = host
        self.port: int | None = None
        self.strict = strict
        self.close_at_end = close_at_end
        self.received: list[Command] = []
        self.mismatches: list[Mismatch] = []
        self.done = asyncio.Event()
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        # recv frames grouped: before the first send, and after each send
        self._preamble: list[str] = []
        self._after: list[tuple[str, list[str]]] = []
        for frame in self.trace.frames:
            if frame.dir == "send":
                self._after.append((frame.data, []))
            elif self._after:
                self._after[-1][1].append(frame.data)
            else:
                self._preamble.append(frame.data)

    @property
    def is_outbound(self) -> bool:
        return bool(self._after) and not self._preamble and _first_line(self._after[0][0]) == "connect"

    async def start(self) -> "TraceReplayServer":
        """Inbound traces: listen on a free port (``self.port``)."""
        if self.is_outbound:
            raise RuntimeError(f"{self.trace.name} is an outbound trace: use connect_to(host, port)")
        self._server = await asyncio.start_server(self._on_client, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def connect_to(self, host: str, port: int) -> None:
        """Outbound traces: connect to the client's socket server and play the session."""
        reader, writer = await asyncio.open_connection(host, port)
        task = asyncio.get_running_loop().create_task(self._session(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._session(reader, writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            for data in self._preamble:
                writer.write(data.encode("utf-8"))
            await writer.drain()
            step = 0
            while step < len(self._after):
                cmd = await read_command(reader)
                if cmd is None:
                    break
                self.received.append(cmd)
                expected, replies = self._after[step]
                if not self._matches(expected, cmd):
                    self.mismatches.append(Mismatch(len(self.received) - 1, _first_line(expected), cmd.line))
                    continue
                for data in replies:
                    writer.write(data.encode("utf-8"))
                await writer.drain()
                step += 1
            if self.close_at_end:
                writer.close()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.done.set()

    def _matches(self, recorded: str, cmd: Command) -> bool:
        if self.strict:
            return _first_line(recorded) == cmd.line
        return _first_line(recorded).split(" ", 1)[0].lower() == cmd.verb

    def unmatched_sends(self) -> list[str]:
        """Recorded commands the client has not (yet) sent."""
        matched = len(self.received) - len(self.mismatches)
        return [_first_line(data) for data, _ in self._after[matched:]]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> "TraceReplayServer":
        if not self.is_outbound:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

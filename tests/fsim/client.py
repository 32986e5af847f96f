"""A tiny asyncio Event Socket client for the simulator's own tests and the demo.

Not the product's ESL client: just enough to drive the simulator (send a
command, collect replies and events in separate lists, in arrival order).
"""

from __future__ import annotations

import asyncio
from typing import Callable

from .protocol import Message, read_message


class EslTestClient:
    """Reads every message in the background; replies and events are split."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.messages: list[Message] = []
        self.replies: list[Message] = []
        self.events: list[Message] = []
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def connect(cls, host: str, port: int) -> "EslTestClient":
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def _read_loop(self) -> None:
        try:
            while True:
                msg = await read_message(self.reader)
                if msg is None:
                    break
                self.messages.append(msg)
                ctype = msg.headers.get("Content-Type", "")
                (self.events if ctype.startswith("text/event-") else self.replies).append(msg)
                self._changed.set()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.closed.set()
            self._changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise asyncio.TimeoutError("condition not met in time")
            self._changed.clear()
            if predicate():
                return
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass

    async def send_raw(self, data: str) -> None:
        self.writer.write(data.encode("utf-8"))
        await self.writer.drain()

    async def command(self, text: str, timeout: float = 2.0) -> Message:
        """Send ``text`` (lines) and return the next reply (command/reply or api/response)."""
        n = len(self.replies)
        await self.send_raw(text.rstrip("\n") + "\n\n")
        await self.wait_for(lambda: len(self.replies) > n, timeout)
        return self.replies[n]

    async def api(self, text: str, timeout: float = 2.0) -> str:
        return (await self.command(f"api {text}", timeout)).body

    async def auth(self, password: str = "ClueCon") -> Message:
        await self.wait_for(lambda: bool(self.replies), 2.0)  # auth/request
        return await self.command(f"auth {password}")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, RuntimeError):
            pass
        self._task.cancel()

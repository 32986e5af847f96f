"""The simulator notes when each command's bytes arrived (``ReceivedCommand.received_at``): the
call-engine benchmark times Pult's decision to the arrival of its first media command, not to the
moment the Python stand-in got through the commands that came before it in the same write."""
from __future__ import annotations

import asyncio

from tests.fsim.server import FreeSwitchSimulator


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\n\n")
    for line in head.decode().splitlines():
        if line.startswith("Content-Length:"):
            await reader.readexactly(int(line.split(":", 1)[1]))
    return head


async def test_commands_of_one_write_share_their_arrival_and_a_later_write_has_its_own():
    sim = FreeSwitchSimulator()
    await sim.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    try:
        await _read_reply(reader)  # auth/request
        writer.write(b"auth ClueCon\n\n")
        await _read_reply(reader)
        writer.write(b"api version\n\napi status\n\napi hostname\n\n")  # one write: three commands
        for _ in range(3):
            await _read_reply(reader)
        await asyncio.sleep(0.05)
        writer.write(b"api version\n\n")
        await _read_reply(reader)
    finally:
        writer.close()
        await sim.stop()
    apis = [c for c in sim.received_commands if c.verb == "api"]
    assert [c.line for c in apis] == ["api version", "api status", "api hostname", "api version"]
    first, second, third, later = (c.received_at for c in apis)
    assert first > 0 and first == second == third
    assert later - first >= 0.05

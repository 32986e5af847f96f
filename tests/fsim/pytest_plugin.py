"""pytest fixtures for the simulator.

Register once in tests/conftest.py:  ``pytest_plugins = ["tests.fsim.pytest_plugin"]``
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable

import pytest_asyncio

from .server import FreeSwitchSimulator


@pytest_asyncio.fixture
async def fsim() -> AsyncIterator[FreeSwitchSimulator]:
    """A started simulator on 127.0.0.1:<free port>, password ClueCon, fast clock (time_scale 0.02)."""
    sim = FreeSwitchSimulator()
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest_asyncio.fixture
async def fsim_factory() -> AsyncIterator[Callable[..., Awaitable[FreeSwitchSimulator]]]:
    """``await fsim_factory(outbound_target=(host, port), ...)``: started simulators, all stopped at teardown."""
    started: list[FreeSwitchSimulator] = []

    async def make(**kwargs: Any) -> FreeSwitchSimulator:
        port = kwargs.pop("port", 0)
        sim = FreeSwitchSimulator(**kwargs)
        await sim.start(port)
        started.append(sim)
        return sim

    try:
        yield make
    finally:
        for sim in started:
            await sim.stop()

"""Publishing a job from the event loop never waits for, nor ties up, the loop's default executor."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

from jobs.client import publish_executor, submit_async


class SlowBroker:
    """A task whose publish takes as long as Redis unreachable makes it (until released)."""

    name = "tests.slow"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[str] = []

    def apply_async(self, args=(), kwargs=None, countdown=None, **options):
        self.threads.append(threading.current_thread().name)
        self.release.wait(5)
        return SimpleNamespace(id="job-1")


async def test_publishes_do_not_starve_to_thread_and_the_reverse():
    loop = asyncio.get_running_loop()
    default = ThreadPoolExecutor(1, thread_name_prefix="test-default")
    loop.set_default_executor(default)
    try:
        task = SlowBroker()
        publishes = [asyncio.ensure_future(submit_async(task)) for _ in range(8)]
        await asyncio.sleep(0.05)
        # Redis is "down": every publish hangs, yet to_thread work still runs at once
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 6 * 7), 2) == 42
        # and with the default executor busy, a publish still goes out
        gate = threading.Event()
        busy = loop.run_in_executor(None, gate.wait, 5)
        task.release.set()
        assert await asyncio.wait_for(asyncio.gather(*publishes), 5) == ["job-1"] * 8
        gate.set()
        await busy
        assert all(name.startswith("pult-publish") for name in task.threads)
        assert publish_executor() is publish_executor()
    finally:
        task.release.set()
        default.shutdown(wait=False)

"""The gevent thread and its two-way bridge to asyncio."""
from __future__ import annotations

import asyncio
import threading

import gevent
import pytest

from esl_control.nodes import NodeManager
from esl_control.transport import GeventThread, HubStopped
from pult.settings import FsNode, load_settings


async def test_calls_run_in_the_hub_thread_and_results_come_back():
    hub = GeventThread(name="pult-esl-test-hub")
    hub.start()
    try:
        main_thread = threading.get_ident()

        def where() -> tuple[int, bool]:
            gevent.sleep(0.001)  # cooperative wait inside the hub
            return threading.get_ident(), gevent.getcurrent() is not gevent.get_hub()

        ident, in_greenlet = await hub.call(where)
        assert ident != main_thread and in_greenlet
        # many concurrent calls are all answered (one wake-up may carry several)
        results = await asyncio.gather(*(hub.call(lambda i=i: i * i) for i in range(200)))
        assert results == [i * i for i in range(200)]

        def boom() -> None:
            raise KeyError("nope")

        with pytest.raises(KeyError, match="nope"):
            await hub.call(boom)
    finally:
        await hub.stop()
    assert not any(t.name == "pult-esl-test-hub" for t in threading.enumerate())
    with pytest.raises(HubStopped):
        hub.submit(print)


async def test_stop_ends_greenlets_still_waiting():
    hub = GeventThread(name="pult-esl-test-hub2")
    hub.start()
    forever = hub.call(gevent.sleep, 3600)
    cleaned = []
    hub.add_cleanup(lambda: cleaned.append(True))
    await hub.stop()
    assert cleaned == [True]
    with pytest.raises(HubStopped):
        await forever


async def test_node_names_must_be_unique(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    hub = GeventThread()
    nodes = [FsNode(name="fs1", host="127.0.0.1"), FsNode(name="fs1", host="127.0.0.2")]
    with pytest.raises(ValueError, match="repeated: fs1"):
        NodeManager(settings, hub, nodes=nodes)

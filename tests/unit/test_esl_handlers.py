"""ESL event handlers that fail, or run as tasks, never cost the events after them: a failing
handler is logged and the rest of the batch (hang-ups, the connection's end) is still handled."""
from __future__ import annotations

import asyncio
import gc

from structlog.testing import capture_logs

from esl_control.nodes import NodeManager
from esl_control.outbound_server import CALL_EVENTS_KEPT, Call, OutboundServer, _Link
from esl_control.transport.connection import dispatch
from esl_control.transport.greenswitch_ext import Closed
from esl_control.transport.protocol import EslEvent
from pult.settings import FsNode, load_settings


def ev(name: str, uuid: str = "u1", **headers: str) -> EslEvent:
    return EslEvent({"Event-Name": name, "Unique-ID": uuid, **headers})


def test_a_handler_that_raises_does_not_stop_the_others_or_the_next_events():
    seen = []

    def broken(event):
        raise RuntimeError("handler bug")

    handlers = {"CHANNEL_ANSWER": [broken], "*": [lambda e: seen.append(e.name)]}
    with capture_logs() as logs:
        for event in (ev("CHANNEL_ANSWER"), ev("CHANNEL_HANGUP_COMPLETE")):
            dispatch(handlers, event, "fs1")  # before: the failure log itself raised TypeError
    assert seen == ["CHANNEL_ANSWER", "CHANNEL_HANGUP_COMPLETE"]
    assert [(e["event"], e["esl_event"]) for e in logs] == [("ESL event handler failed", "CHANNEL_ANSWER")]


async def test_async_handler_tasks_are_kept_until_done_and_their_failures_logged():
    gate = asyncio.Event()
    finished = []

    async def slow(event):
        await gate.wait()
        finished.append(event.name)

    async def broken(event):
        raise RuntimeError("async handler bug")

    with capture_logs() as logs:
        dispatch({"*": [slow, broken]}, ev("CHANNEL_HANGUP_COMPLETE"), "fs1")
        gc.collect()  # nothing but the dispatcher holds the task: it must survive this
        gate.set()
        for _ in range(20):
            await asyncio.sleep(0)
    assert finished == ["CHANNEL_HANGUP_COMPLETE"]
    failed = [e for e in logs if e["event"] == "ESL event handler task failed"]
    assert len(failed) == 1 and "async handler bug" in str(failed[0]["exc_info"])


def test_node_manager_logs_a_failing_handler_and_calls_the_rest():
    nodes = [FsNode(name="fs1", host="127.0.0.1", port=8021, password="x")]
    manager = NodeManager(load_settings(), hub=None, nodes=nodes)
    got = []
    manager.on_event("CHANNEL_HANGUP_COMPLETE", lambda node, e: 1 / 0)
    manager.on_event("CHANNEL_HANGUP_COMPLETE", lambda node, e: got.append((node, e.uuid)))
    manager._on_event("fs1", ev("CHANNEL_HANGUP_COMPLETE", "abc"))
    assert got == [("fs1", "abc")]


async def test_a_failing_outbound_handler_does_not_keep_the_call_open():
    server = OutboundServer(hub=None)
    server.on_event("*", lambda node, e: 1 / 0)
    call = Call(server, _Link(None), {"Unique-ID": "u1"}, "fs1", None)
    call._on_events([ev("CHANNEL_HANGUP"), ev("CHANNEL_HANGUP_COMPLETE"), Closed("bye")])
    assert call.hangup_event is not None and call.closed.done() and call.closed.result() == "bye"


async def test_unread_call_events_are_bounded_to_the_newest():
    call = Call(OutboundServer(hub=None), _Link(None), {"Unique-ID": "u1"}, "fs1", None)
    call._on_events([ev("DTMF", **{"DTMF-Digit": str(i % 10)}) for i in range(CALL_EVENTS_KEPT + 50)])
    call._on_events([ev("CHANNEL_HANGUP_COMPLETE")])
    assert call.events.qsize() == CALL_EVENTS_KEPT
    kept = [call.events.get_nowait() for _ in range(CALL_EVENTS_KEPT)]
    assert kept[-1].name == "CHANNEL_HANGUP_COMPLETE"
    assert call.dtmf.qsize() == CALL_EVENTS_KEPT + 50  # digits are not dropped

"""Call.execute(wait=False): the command is handed over without waiting for the switch's reply
(one round trip saved per ``answer``/``set`` before a playback), and a refusal is still raised —
with the next command, naming the application refused."""
from __future__ import annotations

import asyncio

import pytest

from esl_control.outbound_server import Call
from esl_control.transport import EslCommandError
from esl_control.transport.protocol import EslMessage


class Hub:
    """The ESL thread's stand-in: each command handed over gets a reply future the test resolves."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, asyncio.Future]] = []

    def call(self, fn, session, text):
        fut = asyncio.get_running_loop().create_future()
        self.sent.append((text.split("\n")[1] if "\n" in text else text, fut))
        return fut


class Server:
    command_timeout = 5.0

    def __init__(self) -> None:
        self.hub = Hub()

    def _on_call_event(self, call, event):
        pass


class Link:
    session = object()


def reply(text: str) -> EslMessage:
    return EslMessage({"Content-Type": "command/reply", "Reply-Text": text}, "")


def call() -> tuple[Call, Hub]:
    server = Server()
    return Call(server, Link(), {"Unique-ID": "u1"}, "fs1", None), server.hub


async def test_no_wait_returns_before_the_reply_and_a_refusal_is_raised_by_the_next_command():
    c, hub = call()
    await asyncio.wait_for(c.execute("answer", wait=False), 1)  # no reply yet: returned anyway
    await asyncio.wait_for(c.execute("set", "a=1", wait=False), 1)
    assert [t for t, _ in hub.sent] == ["call-command: execute"] * 2
    api = asyncio.ensure_future(c.api("uuid_getvar u1 a"))
    await asyncio.sleep(0)
    hub.sent[0][1].set_result(reply("+OK"))
    hub.sent[1][1].set_result(reply("-ERR no such variable"))
    hub.sent[2][1].set_result(EslMessage({"Content-Type": "api/response"}, "1"))
    with pytest.raises(EslCommandError, match="set: -ERR no such variable"):
        await asyncio.wait_for(api, 1)
    # checked once: the next command is not blamed for it
    api = asyncio.ensure_future(c.api("uuid_getvar u1 a"))
    await asyncio.sleep(0)
    hub.sent[3][1].set_result(EslMessage({"Content-Type": "api/response"}, "1"))
    assert await asyncio.wait_for(api, 1) == "1"


async def test_a_hangup_does_not_raise_for_an_earlier_refusal():
    c, hub = call()
    await c.execute("set", "a=1", wait=False)
    hang = asyncio.ensure_future(c.hangup("NORMAL_CLEARING"))
    await asyncio.sleep(0)
    hub.sent[0][1].set_result(reply("-ERR refused"))
    hub.sent[1][1].set_result(reply("+OK"))
    await asyncio.wait_for(hang, 1)
    assert len(hub.sent) == 2


async def test_an_application_still_queued_when_the_caller_hangs_up_does_not_hold_the_call():
    """The caller hangs up before the switch ran a queued application: it never completes, so the
    flow is told the call is gone at once (not when the switch drops the lingering socket)."""
    from esl_control.transport import CallGone
    from esl_control.transport.protocol import EslEvent

    c, hub = call()
    playing = asyncio.ensure_future(c.execute("playback", "greeting.wav"))
    await asyncio.sleep(0)
    hub.sent[0][1].set_result(reply("+OK"))
    await asyncio.sleep(0)
    assert not playing.done()
    c._on_events([EslEvent({"Event-Name": "CHANNEL_HANGUP", "Hangup-Cause": "NORMAL_CLEARING"}, ""),
                  EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Hangup-Cause": "NORMAL_CLEARING"}, "")])
    with pytest.raises(CallGone):
        await asyncio.wait_for(playing, 1)
    assert c.hangup_cause == "NORMAL_CLEARING"


async def test_execute_now_hands_the_command_over_with_those_not_waited_for_in_one_write():
    """A greeting awaited by a task of its own (the fax tone is watched meanwhile) still goes to
    the switch together with ``answer`` and the ``set``s before it: one hand-off, one write —
    the first thing the caller hears is not held back a turn of the loop."""
    from esl_control.transport.protocol import EslEvent

    c, hub = call()
    await c.execute("answer", wait=False)
    await c.execute("set", "a=1", wait=False)
    pending = c.execute_now("playback", "greeting.wav")  # not awaited yet: already handed over
    assert len(hub.sent) == 1
    batch, fut = hub.sent[0]
    assert [t.split("\n")[2] for t in batch] == ["execute-app-name: answer", "execute-app-name: set",
                                                  "execute-app-name: playback"]
    playing = asyncio.ensure_future(pending)
    fut.set_result([reply("+OK"), reply("+OK"), reply("+OK")])
    await asyncio.sleep(0)
    app_uuid = batch[2].split("Event-UUID: ")[1].split("\n")[0]
    c._on_events([EslEvent({"Event-Name": "CHANNEL_EXECUTE_COMPLETE", "Application": "playback",
                            "Application-UUID": app_uuid, "Application-Response": "FILE PLAYED"}, "")])
    done = await asyncio.wait_for(playing, 1)
    assert done.peek("Application-Response") == "FILE PLAYED"


async def test_execute_now_raises_a_refusal_of_an_earlier_command_when_awaited():
    c, hub = call()
    await c.execute("set", "a=1", wait=False)
    playing = asyncio.ensure_future(c.execute_now("playback", "greeting.wav"))
    hub.sent[0][1].set_result([reply("-ERR refused"), reply("+OK")])
    with pytest.raises(EslCommandError, match="set: -ERR refused"):
        await asyncio.wait_for(playing, 1)
    assert c._apps == {}  # the playback's completion is no longer waited for

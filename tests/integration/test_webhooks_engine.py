"""The call side emits webhook events: ``call.started`` when the call engine takes a call and
``call.answered`` on the CHANNEL_BRIDGE of the inbound ESL connection — through the FreeSWITCH
simulator, the real ESL service and EngineFlow (the fixtures of test_flow_fsim)."""
from __future__ import annotations

import asyncio
import json

import pytest

from esl_control.model.webhooks import services
from esl_control.service import bridged_call
from tests.integration.test_flow_fsim import ANSWER, CLIENT_MEMBER, PBX_ID, inbound, stack, store  # noqa: F401
from tests.unit.flow_data import NUMBER


pytestmark = pytest.mark.usefixtures("deliveries_stored_only")  # their jobs are tested in test_webhooks.py


async def _deliveries(store, want: set[str], timeout: float = 10.0) -> dict[str, dict]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        docs = await store.db["webhook_deliveries"].find({"pbx_id": PBX_ID}).to_list(None)
        got = {d["event_type"]: d for d in docs}
        if want <= set(got) or loop.time() > deadline:
            return got
        await asyncio.sleep(0.05)


async def test_an_answered_call_emits_started_and_answered_once_each(stack):
    sim, svc, policy, store = stack
    await services.WebhookService(store.db, PBX_ID, allow_private=True).create(
        {"url": "http://127.0.0.1:9/in", "events": ["call.started", "call.answered"]})
    policy.table[CLIENT_MEMBER] = [ANSWER]
    call = await inbound(sim, "1")
    got = await _deliveries(store, {"call.started", "call.answered"})
    assert set(got) == {"call.started", "call.answered"}
    started = json.loads(got["call.started"]["body"])
    assert started["data"]["call_id"] == call.uuid and started["data"]["callee"] == NUMBER
    assert started["data"]["direction"] == "inbound" and started["pbx_id"] == PBX_ID
    answered = json.loads(got["call.answered"]["body"])
    assert answered["data"]["call_id"] == call.uuid and answered["id"] == f"call.answered:{call.uuid}"
    assert await store.db["webhook_deliveries"].count_documents({"pbx_id": PBX_ID}) == 2


async def test_a_pbx_without_subscriptions_stores_nothing(stack):
    sim, svc, policy, store = stack
    policy.table[CLIENT_MEMBER] = [ANSWER]
    await inbound(sim, "1")
    await asyncio.sleep(0.3)
    assert await store.db["webhook_deliveries"].count_documents({}) == 0


def test_a_bridge_of_a_call_without_a_pbx_is_not_an_event():
    assert bridged_call({"Unique-ID": "u1"}) is None
    assert bridged_call({"Unique-ID": "u1", "variable_pult_pbx_id": "0"}) is None
    got = bridged_call({"Unique-ID": "u1", "Bridge-A-Unique-ID": "a1", "variable_pult_pbx_id": "7",
                        "Caller-Caller-ID-Number": "79031234567", "Other-Leg-Destination-Number": "201"})
    assert got == {"pbx_id": 7, "call_id": "a1", "caller": "79031234567", "callee": None, "answered_by": "201",
                   "employee_id": None}


async def test_a_subscription_made_or_switched_off_while_the_pbx_is_kept_holds_from_the_next_call(stack):
    """Whether a PBX wants ``call.started`` is kept with its snapshot (a call of a PBX nobody
    subscribed for reads nothing for it): a subscription created, or switched off, between two
    calls is seen by the very next call all the same."""
    sim, svc, policy, store = stack
    policy.table[CLIENT_MEMBER] = [ANSWER]
    first = await inbound(sim, "1")  # nobody subscribed yet: the snapshot kept says so
    loads = svc.outbound.flow.snapshots.loads
    again = await inbound(sim, "1")
    assert svc.outbound.flow.snapshots.loads == loads  # kept: the second call read no snapshot
    await asyncio.sleep(0.2)
    assert await store.db["webhook_deliveries"].count_documents({}) == 0
    webhooks = services.WebhookService(store.db, PBX_ID, allow_private=True)
    sub = await webhooks.create({"url": "http://127.0.0.1:9/in", "events": ["call.started"]})
    second = await inbound(sim, "1")
    got = await _deliveries(store, {"call.started"})
    assert json.loads(got["call.started"]["body"])["data"]["call_id"] == second.uuid
    await webhooks.update(sub["id"], {"url": "http://127.0.0.1:9/in", "events": ["call.started"], "active": False})
    third = await inbound(sim, "1")
    await asyncio.sleep(0.3)
    ids = {json.loads(d["body"])["data"]["call_id"]
           for d in await store.db["webhook_deliveries"].find({"event_type": "call.started"}).to_list(None)}
    assert ids == {second.uuid} and first.uuid not in ids and again.uuid not in ids and third.uuid not in ids

"""A tenant's trunks on calls, end to end through the simulator (inventory D §5.3–§5.6): a scheme's
forward to a trunk respects the trunk's ``active`` switch and its lines, and an employee reaches
an extension of the customer's own PBX through a mask (D §5.6 Ex. 2) and its users reach this
PBX's extensions and the public network through the trunk (Ex. 1, Ex. 4); and «none» as the
unavailable message and the voice-mail prompt — the commands the switch receives and the call
record."""
from __future__ import annotations

import asyncio

import pytest

from tests.fsim import BridgeOutcome
from tests.integration.test_flow_fsim import (ANSWER, apps, bridges, inbound, one_record, path_steps,  # noqa: F401
                                              placed, rate, record_of, stack, store)
from tests.unit.flow_data import DOMAIN, NUMBER, PBX_ID

TRUNK_NUMBER = "2001"


async def trunk_in_item_1(store, *, active=True, lines=5) -> None:
    """The trunk «Office PBX» (t1); menu item 1 forwards to it (its number 2001) for 30 s, then
    voice mail."""
    await store.db["trunks"].insert_one({"_id": "t1", "pbx_id": PBX_ID, "name": "Office PBX",
                                         "name_norm": "office pbx", "active": active, "prefix": "88",
                                         "host": "192.0.2.10", "port": 5060, "lines": lines, "numbers": []})
    await store.db["schemes"].update_one({"_id": "s1"}, {"$set": {
        "blocks.0.steps.1.children.1.steps.0": {"kind": "forward", "ring_time": 30,
                                                "target": {"type": "trunk", "id": "t1", "value": TRUNK_NUMBER}}}})


@pytest.mark.parametrize("active", [False, True])
async def test_a_scheme_forward_to_a_trunk_dials_it_only_while_it_is_switched_on(stack, active):
    """D §5.4/§5.5: switched off, the trunk's gateway is not dialled (the switch has none for it):
    the caller goes on to the item's next step, voice mail, and the record says why. Switched
    on, the switch is told to bridge into the trunk's gateway."""
    sim, svc, policy, store = stack
    await trunk_in_item_1(store, active=active)
    policy.table[TRUNK_NUMBER] = [ANSWER]
    call = await inbound(sim, "1")
    rec = await record_of(svc, store, call.uuid)
    skipped = {"step": "skip", "target": "trunk:t1", "reason": "trunk_inactive"}
    if active:
        [bridge] = bridges(sim, call)
        assert bridge.endswith(f"]sofia/gateway/pult_trunk_t1/{TRUNK_NUMBER}") and "pult_via_trunk=t1" in bridge
        assert skipped not in path_steps(rec) and "record" not in [a for a, _ in apps(sim, call)]
    else:
        assert bridges(sim, call) == []
        assert "record" in [a for a, _ in apps(sim, call)]  # the item's next step: voice mail
        assert skipped in path_steps(rec)


async def test_a_forward_into_a_trunk_with_its_only_line_talking_goes_on_with_the_next_step(stack):
    """D §5.3.1: the trunk has one line; while the first caller talks through it, a second caller
    choosing 1 is not bridged into it (the scheme goes on: voice mail); once the first call is
    over the trunk is dialled again."""
    sim, svc, policy, store = stack
    await trunk_in_item_1(store, lines=1)
    policy.table[TRUNK_NUMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=None), ANSWER]
    first = await placed(sim, "1")
    await first.wait_for_event("CHANNEL_BRIDGE", timeout=5)
    second = await inbound(sim, "1", caller="79037654321")
    assert bridges(sim, second) == []
    assert "record" in [a for a, _ in apps(sim, second)]
    rec = await record_of(svc, store, second.uuid)
    assert {"step": "skip", "target": "trunk:t1", "reason": "trunk_lines", "lines": 1} in path_steps(rec)
    await first.hangup("NORMAL_CLEARING")
    await first.wait_ended(timeout=5)
    await asyncio.sleep(0.3)
    third = await inbound(sim, "1", caller="79037654322")  # the line is free again
    [bridge] = bridges(sim, third)
    assert bridge.endswith(f"]sofia/gateway/pult_trunk_t1/{TRUNK_NUMBER}")


async def test_an_employee_dials_an_extension_of_the_customers_pbx_through_its_mask(stack):
    """D §5.6 Ex. 2: 456 is no extension of this PBX; the mask ``([100-500])`` → ``$1`` sends it
    into the кАТС's trunk as 456, with the employee's extension as caller id. 555 (no mask takes
    it) is still "no such extension"; Ex. 6: 102, an extension here, stays internal."""
    sim, svc, policy, store = stack
    await store.db["trunks"].insert_one({"_id": "t1", "pbx_id": PBX_ID, "name": "кАТС", "name_norm": "катс",
                                         "active": True, "prefix": None, "host": "192.0.2.10", "port": 5060,
                                         "lines": 5, "numbers": []})
    await store.db["tel_settings"].update_one({"pbx_id": PBX_ID}, {"$set": {"trunk_masks": [
        {"id": "k1", "mask": "([100-500])", "transformation": "$1", "trunk_id": "t1", "active": True}]}})
    policy.table["456"] = [ANSWER]
    policy.table[f"102@{DOMAIN}"] = [ANSWER]
    calls = {}
    for dialled in ("456", "555", "102"):
        calls[dialled] = await sim.place_call("101", dialled, {
            "pult_pbx_id": str(PBX_ID), "pult_source": "sip_user", "pult_employee_id": "emp_petrov",
            "pult_user": "101", "pult_domain": DOMAIN})
        await calls[dialled].wait_ended(timeout=20)
    [bridge] = bridges(sim, calls["456"])
    assert bridge.startswith("{origination_caller_id_number=101}") and bridge.endswith("]sofia/gateway/pult_trunk_t1/456")
    rec = await record_of(svc, store, calls["456"].uuid)
    route = next(s for s in path_steps(rec) if s["step"] == "route")
    assert (route["kind"], route["reason"], route["number"]) == ("trunk", "trunk_mask", "456")
    assert bridges(sim, calls["555"]) == []
    assert ("playback", "/prompts/ru/extension_invalid.wav") in apps(sim, calls["555"])
    [bridge] = bridges(sim, calls["102"])
    assert bridge.endswith(f"]user/102@{DOMAIN}")


async def customers_pbx_behind_t1(store) -> None:
    """The customer's PBX (кАТС) behind the trunk t1, whose default outgoing number is the PBX's
    number; its receive number 74959990000 has no scheme."""
    await store.db["trunks"].insert_one({"_id": "t1", "pbx_id": PBX_ID, "name": "кАТС", "name_norm": "катс",
                                         "active": True, "prefix": "88", "host": "192.0.2.10", "port": 5060,
                                         "lines": 5, "default_number": NUMBER, "allow_number_change": False,
                                         "numbers": [{"number": "74959990000", "receive": True, "call": True}]})


async def from_t1(sim, dialled):
    call = await sim.place_call("201", dialled, {"pult_pbx_id": str(PBX_ID), "pult_source": "trunk",
                                                 "pult_trunk_id": "t1"})
    await call.wait_ended(timeout=20)
    return call


async def test_a_user_of_the_customers_pbx_reaches_an_extension_through_its_trunk(stack):
    """D §5.6 Ex. 1: the кАТС sends 101 (an extension here) through its trunk — the employee's
    phone is bridged (was: the default group)."""
    sim, svc, policy, store = stack
    await customers_pbx_behind_t1(store)
    policy.table[f"101@{DOMAIN}"] = [ANSWER]
    call = await from_t1(sim, "101")
    [bridge] = bridges(sim, call)
    assert bridge.endswith(f"]user/101@{DOMAIN}")


async def test_a_user_of_the_customers_pbx_calls_out_through_the_platform_with_the_trunks_number(stack):
    """D §5.6 Ex. 4: the кАТС sends 74997654321 through its trunk — the switch is told to bridge
    it through the platform gateway with the trunk's default outgoing number as caller id (not
    back into a trunk); one record, with the route in its path, its leg charged to the PBX as a
    phone's outbound call's would be."""
    from tests.integration.test_flow_fsim import GW

    sim, svc, policy, store = stack
    await customers_pbx_behind_t1(store)
    policy.table["74997654321"] = [ANSWER]
    call = await from_t1(sim, "74997654321")
    [bridge] = bridges(sim, call)
    assert bridge.startswith(f"{{origination_caller_id_number={NUMBER}") and bridge.endswith(f"]sofia/gateway/{GW}/74997654321")
    assert "pult_trunk_t1" not in bridge
    rec = await one_record(sim, svc, store, call)
    route = next(s for s in path_steps(rec) if s["step"] == "route")
    assert (route["kind"], route["number"]) == ("platform", "74997654321")
    [leg] = rec["legs"]
    res = await rate(store, call.uuid)
    rated = (await record_of(svc, store, call.uuid))["rated"]
    assert res["charged"] and res["cost"] > 0 and (rated["direction"], rated["leg"]) == ("outbound", leg["uuid"])


# --- «none» as the unavailable message and the voice-mail prompt (A §4.4.3, D §4.6.5.1) -------
@pytest.mark.parametrize("none", [False, True])
async def test_unavailable_message_and_voicemail_prompt_of_none_leave_the_beep_alone(stack, none):
    """An employee's phone does not answer: the PBX's unavailable message, its voice-mail prompt,
    the beep, the recording. With both settings «none» the switch is told to play the beep only
    (the catalogue's phrases are not put in their place)."""
    from tests.integration.test_flow_fsim import sound

    sim, svc, policy, store = stack
    if none:
        await store.db["tel_settings"].update_one({"pbx_id": PBX_ID}, {"$set": {
            "call_handling.unavailable_message": None, "voicemail.prompt": None}})
    call = await sim.place_call("102", "101", {"pult_pbx_id": str(PBX_ID), "pult_source": "sip_user",
                                               "pult_user": "102", "pult_domain": DOMAIN})
    await call.wait_ended(timeout=20)
    seq = apps(sim, call)
    after_bridge = seq[max(i for i, (a, _) in enumerate(seq) if a == "bridge") + 1:]
    played = [arg for a, arg in after_bridge if a == "playback"]
    beep = "tone_stream://%(500,0,1000)"
    assert played == ([beep] if none else [sound("builtin:unavailable"), sound("builtin:voicemail_warning"), beep])
    assert "record" in [a for a, _ in after_bridge]

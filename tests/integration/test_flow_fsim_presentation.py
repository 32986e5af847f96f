"""The PBX-wide call settings the engine honours (A §4.4.1.2, §4.4.2.2), end to end through the
simulator: what each ringing phone shows (``incoming_caller_id``: auto / caller / line) and
"announce the caller's number to the employee" (``announce_caller``), as the commands the
switch receives, the caller id each rung leg gets on the switch, and the call record."""
from __future__ import annotations

from tests.integration.test_flow_fsim import (CALLER, GW, bridges, inbound, internal, path_steps, record_of,  # noqa: F401
                                              stack, store)
from tests.fsim import BridgeOutcome
from tests.unit.flow_data import DOMAIN, NUMBER, PBX_ID, PETROV_PHONE

ANSWER = BridgeOutcome(answer_after=2.0, talk_seconds=5.0)
SAY_CALLER = f"group_confirm_key=exec,group_confirm_file=say ru number iterated {CALLER}"


async def petrov_in_the_client_department(store, **group):
    """The client department (menu item 1) rings the employee Petrov as in his card: his SIP
    account and his mobile at once."""
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"reception_mode": "simultaneous"}})
    await store.db["ring_groups"].update_one({"_id": "grp_client"}, {"$set": {
        "members": [{"id": "m1", "kind": "employee", "employee_id": "emp_petrov", "method": None, "priority": 1}],
        **group}})


async def call_settings(store, **values):
    await store.db["tel_settings"].update_one({"pbx_id": PBX_ID}, {"$set": {
        f"call_handling.{k}": v for k, v in values.items()}})


def shown_on(sim, endpoint_tail: str) -> str:
    """The caller id the switch gave the leg it originated to ``endpoint_tail`` (its CREATE)."""
    [create] = [e for e in sim.events if e.name == "CHANNEL_CREATE" and e.get("Call-Direction") == "outbound"
                and (e.get("Channel-Name") or "").endswith(endpoint_tail)]
    return create.get("Caller-Caller-ID-Number")


def legs_of(bridge: str) -> dict[str, str]:
    """endpoint → its ``[...]`` variables, from a bridge argument."""
    out = {}
    for part in bridge.split("}", 1)[-1].split(",["):
        leg_vars, _, endpoint = part.lstrip("[").partition("]")
        out[endpoint] = leg_vars
    return out


async def test_auto_a_sip_phone_shows_the_caller_a_mobile_shows_the_pbx_line(stack):
    sim, svc, policy, store = stack
    await petrov_in_the_client_department(store)
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await inbound(sim, "1")  # "auto" is the default
    [bridge] = bridges(sim, call)
    assert bridge.startswith(f"{{origination_caller_id_number={CALLER}}}")
    legs = legs_of(bridge)
    assert "origination_caller_id_number" not in legs[f"user/101@{DOMAIN}"]
    assert f"origination_caller_id_number={NUMBER}" in legs[f"sofia/gateway/{GW}/{PETROV_PHONE}"].split(",")
    assert shown_on(sim, f"/{PETROV_PHONE}") == NUMBER
    assert shown_on(sim, f"101@{DOMAIN}") == CALLER
    rec = await record_of(svc, store, call.uuid)
    [ring] = [s for s in path_steps(rec) if s["step"] == "ring"]
    assert {leg["address"]: leg.get("caller_id") for leg in ring["legs"]} == {f"101@{DOMAIN}": None,
                                                                             PETROV_PHONE: NUMBER}


async def test_caller_every_phone_shows_the_caller(stack):
    sim, svc, policy, store = stack
    await petrov_in_the_client_department(store)
    await call_settings(store, incoming_caller_id="caller")
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await inbound(sim, "1")
    [bridge] = bridges(sim, call)
    assert bridge.count("origination_caller_id_number=") == 1  # the {global} one: the caller
    assert shown_on(sim, f"/{PETROV_PHONE}") == CALLER and shown_on(sim, f"101@{DOMAIN}") == CALLER


async def test_line_every_phone_shows_the_pbx_number(stack):
    sim, svc, policy, store = stack
    await petrov_in_the_client_department(store)
    await call_settings(store, incoming_caller_id="line")
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await inbound(sim, "1")
    [bridge] = bridges(sim, call)
    assert all(f"origination_caller_id_number={NUMBER}" in v.split(",") for v in legs_of(bridge).values())
    assert shown_on(sim, f"/{PETROV_PHONE}") == NUMBER and shown_on(sim, f"101@{DOMAIN}") == NUMBER


async def test_internal_calls_keep_the_colleague_s_number(stack):
    sim, svc, policy, store = stack
    await call_settings(store, incoming_caller_id="line", announce_caller=True)
    policy.table[f"101@{DOMAIN}"] = [ANSWER]
    call = await internal(sim, "101")
    [bridge] = bridges(sim, call)
    assert f"origination_caller_id_number={NUMBER}" not in bridge and "group_confirm" not in bridge


async def test_pbx_wide_announce_says_the_caller_s_number_to_whoever_answers(stack):
    sim, svc, policy, store = stack
    await petrov_in_the_client_department(store, announce_caller=False)
    await call_settings(store, announce_caller=True)
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await inbound(sim, "1")
    [bridge] = bridges(sim, call)
    assert all(SAY_CALLER in v for v in legs_of(bridge).values())


async def test_no_announce_when_neither_the_pbx_nor_the_group_asks(stack):
    sim, svc, policy, store = stack
    await petrov_in_the_client_department(store, announce_caller=False)
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await inbound(sim, "1")
    [bridge] = bridges(sim, call)
    assert "group_confirm" not in bridge


async def test_a_group_showing_its_line_still_announces_the_caller_not_the_line(stack):
    sim, svc, policy, store = stack
    await petrov_in_the_client_department(store, announce_caller=True, caller_id="line")
    await call_settings(store, incoming_caller_id="caller")
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await inbound(sim, "1")
    [bridge] = bridges(sim, call)
    assert bridge.startswith(f"{{origination_caller_id_number={NUMBER}}}")  # the group's own choice wins
    assert all(SAY_CALLER in v for v in legs_of(bridge).values())
    assert shown_on(sim, f"/{PETROV_PHONE}") == NUMBER and shown_on(sim, f"101@{DOMAIN}") == NUMBER


async def test_a_direct_forward_to_an_employee_announces_with_the_pbx_setting(stack):
    """Menu item 2 ends at Petrov's mobile (a forward to one contact method), after the sales group."""
    sim, svc, policy, store = stack
    await call_settings(store, announce_caller=True)
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await inbound(sim, "2")
    last = bridges(sim, call)[-1]
    assert last.endswith(f"/{PETROV_PHONE}") and SAY_CALLER in last
    assert f"origination_caller_id_number={NUMBER}" in last  # a mobile shows the line ("auto")

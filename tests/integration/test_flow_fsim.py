"""The call engine end to end: the FreeSWITCH simulator's outbound socket → the real ESL service
(gevent thread, greenswitch, asyncio) → EngineFlow over the embedded store → the commands the
switch receives and the call record (with the engine's path) written once."""
from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest

from esl_control.flow.runner import EngineFlow
from esl_control.nodes import NodeState
from esl_control.service import EslService
from pult.settings import load_settings
from storage.repos.tenants import store_platform_gateways
from tests.fsim import BridgeOutcome, FreeSwitchSimulator
from tests.unit.flow_data import (CLIENT_MEMBER, DOMAIN, NUMBER, PBX_ID, PETROV_PHONE, SALES_MEMBER, WORK_TIME,
                                  seed)


CALLER = "79031234567"
GW = "pult_platform_main"  # the operator's platform gateway (tests.unit.flow_data)


def sound(sound_id: str) -> str:
    """What the switch is told to play for a stored sound (the test's URL maker)."""
    return f"http_cache://pult.test/fs/sounds/{PBX_ID}/{sound_id}/wav8k.wav"


class Prompts:
    """The prompt source double: every phrase exists as ``prompts/<lang>/<id>.wav``."""

    def sound_prefix(self, lang: str) -> str:
        return f"/prompts/{lang}"

    def phrase_file(self, phrase_id: str, lang: str) -> str:
        return f"/prompts/{lang}/{phrase_id}.wav"

    def has(self, phrase_id: str, lang: str) -> bool:
        return True


class Policy:
    """Who answers: ``{address: [outcome per attempt]}``; anyone else rings out (NO_ANSWER)."""

    def __init__(self) -> None:
        self.table: dict[str, list[BridgeOutcome]] = {}
        self.dialled: list[str] = []
        self.attempts: dict[str, int] = defaultdict(int)

    def __call__(self, endpoint: str) -> BridgeOutcome:
        self.dialled.append(endpoint)
        address = endpoint.rsplit("/", 1)[-1]
        n = self.attempts[address]
        self.attempts[address] += 1
        outcomes = self.table.get(address) or []
        if n < len(outcomes):
            return outcomes[n]
        return BridgeOutcome(cause="NO_ANSWER")


ANSWER = BridgeOutcome(answer_after=2.0, talk_seconds=5.0)
NO = BridgeOutcome(cause="NO_ANSWER")


@pytest.fixture
async def store(embedded_store):
    await seed(embedded_store.db)
    return embedded_store


@pytest.fixture
async def stack(tmp_path, store):
    policy = Policy()
    sim = FreeSwitchSimulator(hostname="fsim-1", bridge_policy=policy, time_scale=0.01)
    await sim.start()
    settings = load_settings(data_dir=tmp_path / "data", esl_nodes=f"fs1=127.0.0.1:{sim.port}:ClueCon",
                             esl_reconnect_min=0.05, esl_reconnect_max=0.3, outbound_host="127.0.0.1",
                             outbound_port=0, esl_command_timeout=5)
    flow = EngineFlow(store.db, prompts=Prompts(), spool_dir="/srv/fs-01/spool",
                      sound_url=lambda pbx_id, sound_id: f"pult.test/fs/sounds/{pbx_id}/{sound_id}/wav8k.wav",
                      clock=lambda: WORK_TIME)
    svc = EslService(settings, store, flow=flow)
    await svc.start()
    # the inbound connection up before a test runs: a node connecting while the service stops
    # can hold the stop for minutes (esl_control/nodes.py, reported to the "realfs" work)
    await svc.nodes.wait_for_state("fs1", NodeState.UP)
    sim.outbound_target = ("127.0.0.1", svc.outbound.port)
    yield sim, svc, policy, store
    await svc.stop()
    await sim.stop()


def apps(sim, call) -> list[tuple[str, str | None]]:
    return [(c.headers.get("execute-app-name") or c.headers.get("call-command"), c.headers.get("execute-app-arg"))
            for c in sim.received_commands if c.origin == f"outbound:{call.uuid}" and c.verb == "sendmsg"]


def bridges(sim, call) -> list[str]:
    return [arg for app, arg in apps(sim, call) if app == "bridge"]


async def record_of(svc, store, uuid, timeout=5.0) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await svc.cdr.drained()
        docs = await store.db["call_records"].find({"uuid": uuid}).to_list(None)
        if docs:
            await asyncio.sleep(0.2)
            await svc.cdr.drained()
            docs = await store.db["call_records"].find({"uuid": uuid}).to_list(None)
            assert len(docs) == 1
            return docs[0]
        if loop.time() > deadline:
            raise AssertionError("no call record")
        await asyncio.sleep(0.05)


async def placed(sim, digits: str | None = None, *, number=NUMBER, number_id="n1", caller=CALLER):
    """A call from ``caller`` to the PBX's ``number`` as the dialplan hands it to the engine, with
    ``digits`` pressed once the menu listens (during a greeting that waits they are dropped)."""
    call = await sim.place_call(caller, number, {"pult_pbx_id": str(PBX_ID), "pult_source": "number",
                                                 "pult_number_id": number_id, "pult_number": number})
    if digits:
        await call.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                                  predicate=lambda e: e.get("Application") == "play_and_get_digits")
        await call.send_dtmf(digits)
    return call


async def inbound(sim, digits: str | None = None, *, number=NUMBER, number_id="n1", caller=CALLER, wait=20.0):
    """A call ``placed`` and then ended (by the engine or the far end) within ``wait`` seconds."""
    call = await placed(sim, digits, number=number, number_id=number_id, caller=caller)
    await call.wait_ended(timeout=wait)
    return call


def path_steps(record) -> list[dict]:
    """The engine's path kept in the record, without the timings (checked on their own)."""
    return [{k: v for k, v in entry.items() if k != "t"} for entry in record["path"]]


async def test_worked_example_press_1_rings_the_client_department_answered(stack):
    sim, svc, policy, store = stack
    policy.table[CLIENT_MEMBER] = [ANSWER]
    call = await inbound(sim, "1")
    seq = apps(sim, call)
    names = [a for a, _ in seq]
    assert names[0] == "answer"
    assert ("playback", sound("snd_greet")) in seq
    pagd = [arg for app, arg in seq if app == "play_and_get_digits"]
    assert pagd == ["1 5 1 5000 # silence_stream://250 silence_stream://150 menu_digits \\d+ 3000"]
    assert ("set", "call_timeout=20") in seq and ("set", "continue_on_fail=true") in seq
    assert ("set", "hangup_after_bridge=false") in seq
    assert ("set", f"transfer_ringback={sound('builtin:abba')}") in seq  # from a menu: the PBX's melody
    [bridge] = bridges(sim, call)
    assert bridge.startswith("{origination_caller_id_number=79031234567}[leg_timeout=20,origination_uuid=")
    assert bridge.endswith(f"]sofia/gateway/{GW}/{CLIENT_MEMBER}")
    assert names[-1] == "hangup"
    rec = await record_of(svc, store, call.uuid)
    steps = path_steps(rec)
    assert [s["step"] for s in steps][:5] == ["inbound", "list", "scheme", "greeting", "menu"]
    ring = [s for s in steps if s["step"] == "ring"]
    assert ring[0]["result"] == "answered" and ring[0]["legs"][0]["address"] == CLIENT_MEMBER
    # stage timings: when each step happened, in seconds from the call's arrival, in order
    times = [entry["t"] for entry in rec["path"]]
    assert times == sorted(times) and times[0] < 1.0
    assert rec["pbx_id"] == PBX_ID and rec["answer"] is not None


async def test_worked_example_press_2_sales_then_employee_then_voicemail(stack):
    sim, svc, policy, store = stack
    call = await inbound(sim, "2")
    assert [b.rsplit("/", 1)[-1] for b in bridges(sim, call)] == [SALES_MEMBER, PETROV_PHONE]
    seq = apps(sim, call)
    assert ("set", "call_timeout=60") in seq
    record = [arg for app, arg in seq if app == "record"]
    assert len(record) == 1 and record[0].startswith(f"/srv/fs-01/spool/vm-{call.uuid}-1.wav 180 ")
    assert ("playback", sound("builtin:voicemail_warning")) in seq
    rec = await record_of(svc, store, call.uuid)
    vm = [s for s in path_steps(rec) if s["step"] == "voicemail"]
    assert vm and vm[0]["max_seconds"] == 180
    assert rec["vars"]["pult_voicemail"].startswith("/srv/fs-01/spool/vm-")


async def test_worked_example_no_input_goes_to_the_client_department(stack):
    sim, svc, policy, store = stack
    call = await inbound(sim, None)
    [bridge] = bridges(sim, call)
    assert "[leg_timeout=120," in bridge and bridge.endswith(CLIENT_MEMBER)
    assert "record" in [a for a, _ in apps(sim, call)]


async def test_worked_example_wrong_digit_greeting_then_voicemail(stack):
    sim, svc, policy, store = stack
    call = await inbound(sim, "7")
    seq = apps(sim, call)
    assert not bridges(sim, call)
    assert ("playback", sound("snd_sorry")) in seq and "record" in [a for a, _ in seq]


async def test_seed_000_dial_list_answered_on_the_second_attempt(stack):
    sim, svc, policy, store = stack
    second = "79160000102"
    policy.table[second] = [NO, ANSWER]
    call = await inbound(sim, number="74957654321", number_id="n2", wait=30)
    dialled = [b.rsplit("/", 1)[-1] for b in bridges(sim, call)]
    assert dialled == ["79160000101", second, "79160000103", "79160000101", second]
    seq = apps(sim, call)
    pause = seq.index(("set", "playback_timeout_sec=10"))
    assert seq[pause + 1] == ("playback", sound("builtin:sirtaki"))
    assert all(f"[leg_timeout=15," in b for b in bridges(sim, call))
    rec = await record_of(svc, store, call.uuid)
    rings = [s for s in path_steps(rec) if s["step"] == "ring"]
    assert [r["result"] for r in rings] == ["no_answer"] * 4 + ["answered"]
    assert "record" not in [a for a, _ in seq]


async def test_blocked_pbx_hears_the_notice(stack):
    sim, svc, policy, store = stack
    await store.db["pbxes"].update_one({"pbx_id": PBX_ID}, {"$set": {"operator_block": {"reason": "test"}}})
    call = await inbound(sim)
    assert apps(sim, call) == [("answer", None), ("set", "playback_terminators=none"),
                               ("playback", "/prompts/ru/pbx_blocked.wav"), ("set", apps(sim, call)[3][1]),
                               ("hangup", None)]
    rec = await record_of(svc, store, call.uuid)
    assert path_steps(rec)[-1] == {"step": "blocked", "reasons": ["operator"]}
    assert rec["hangup_cause"] == "CALL_REJECTED"


async def test_black_list_caller_gets_busy_and_nothing_else(stack):
    sim, svc, policy, store = stack
    await store.db["tel_settings"].update_one({"pbx_id": PBX_ID}, {"$set": {"lists.mode": "black"}})
    await store.db["list_entries"].insert_one({"_id": "e1", "pbx_id": PBX_ID, "list": "black", "kind": "phone",
                                              "value": CALLER, "exact": True})
    call = await inbound(sim)
    assert [a for a, _ in apps(sim, call)] == ["set", "hangup"]  # the path kept, then busy
    rec = await record_of(svc, store, call.uuid)
    assert rec["hangup_cause"] == "USER_BUSY" and rec["answer"] is None


async def test_white_list_caller_goes_through(stack):
    sim, svc, policy, store = stack
    policy.table[CLIENT_MEMBER] = [ANSWER]
    await store.db["tel_settings"].update_one({"pbx_id": PBX_ID}, {"$set": {"lists.mode": "white"}})
    await store.db["list_entries"].insert_one({"_id": "e1", "pbx_id": PBX_ID, "list": "white", "kind": "phone",
                                              "value": CALLER, "exact": True})
    call = await inbound(sim, "1")
    assert bridges(sim, call)


async def internal(sim, dialled: str, user="102"):
    call = await sim.place_call(user, dialled, {"pult_pbx_id": str(PBX_ID), "pult_source": "sip_user",
                                                "pult_user": user, "pult_domain": DOMAIN})
    await call.wait_ended(timeout=20)
    return call


async def test_internal_call_rings_the_sip_account_of_the_extension(stack):
    sim, svc, policy, store = stack
    policy.table[f"101@{DOMAIN}"] = [ANSWER]
    call = await internal(sim, "101")
    [bridge] = bridges(sim, call)
    assert bridge.endswith(f"]user/101@{DOMAIN}") and "[leg_timeout=120," in bridge
    assert "record" not in [a for a, _ in apps(sim, call)]


async def test_employee_all_at_once_rings_both_methods_together_the_phone_answers(stack):
    sim, svc, policy, store = stack
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"reception_mode": "simultaneous"}})
    policy.table[PETROV_PHONE] = [ANSWER]
    call = await internal(sim, "101")
    [bridge] = bridges(sim, call)
    assert bridge.count("[leg_timeout=") == 2 and "," in bridge
    rec = await record_of(svc, store, call.uuid)
    ring = [s for s in path_steps(rec) if s["step"] == "ring"][0]
    assert ring["answered_by"] == "employee:emp_petrov/cm_phone"
    assert {leg["result"] for leg in ring["legs"]} == {"answered", "no_answer"}


async def test_employee_in_turn_then_unavailable_voicemail(stack):
    sim, svc, policy, store = stack
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"reception_mode": "sequential"}})
    call = await internal(sim, "101")
    dialled = [b.rsplit("]", 1)[-1] for b in bridges(sim, call)]
    assert dialled == [f"user/101@{DOMAIN}", f"sofia/gateway/{GW}/{PETROV_PHONE}"]
    seq = apps(sim, call)
    assert ("playback", sound("builtin:unavailable")) in seq and "record" in [a for a, _ in seq]


async def test_employee_main_only_rings_the_first_method(stack):
    sim, svc, policy, store = stack
    call = await internal(sim, "101")
    assert [b.rsplit("]", 1)[-1] for b in bridges(sim, call)] == [f"user/101@{DOMAIN}"]


async def test_caller_hanging_up_during_the_greeting_ends_the_flow(stack):
    sim, svc, policy, store = stack
    call = await sim.place_call(CALLER, NUMBER, {"pult_pbx_id": str(PBX_ID), "pult_source": "number",
                                                 "pult_number_id": "n1"})
    await call.wait_for_event("PLAYBACK_START", timeout=5)
    await call.hangup("NORMAL_CLEARING")
    await call.wait_ended(timeout=5)
    rec = await record_of(svc, store, call.uuid)
    assert rec["hangup_cause"] == "NORMAL_CLEARING"
    await asyncio.sleep(0.3)
    assert not bridges(sim, call)
    assert not svc.outbound.calls


async def test_a_call_without_a_pbx_is_rejected(stack):
    sim, svc, policy, store = stack
    call = await sim.place_call(CALLER, NUMBER, {})
    cause = await call.wait_ended(timeout=5)
    assert cause == "UNALLOCATED_NUMBER"
    assert [a for a, _ in apps(sim, call)] == ["hangup"]


async def test_outbound_call_through_the_platform_and_a_trunk(stack):
    sim, svc, policy, store = stack
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"outgoing_number": NUMBER}})
    await store.db["trunks"].insert_one({"_id": "t1", "pbx_id": PBX_ID, "name": "Office PBX", "name_norm": "office pbx",
                                         "active": True, "prefix": "88", "host": "192.0.2.10", "port": 5060,
                                         "numbers": []})
    policy.table["74951112233"] = [ANSWER]
    out = []
    for dialled in ("74951112233", "88123456"):
        call = await sim.place_call("101", dialled, {"pult_pbx_id": str(PBX_ID), "pult_source": "sip_user",
                                                     "pult_employee_id": "emp_petrov", "pult_user": "101"})
        await call.wait_ended(timeout=20)
        out.append(call)
    [platform] = bridges(sim, out[0])
    assert platform.startswith(f"{{origination_caller_id_number={NUMBER}}}[leg_timeout=120,")
    assert platform.endswith(f"]sofia/gateway/{GW}/74951112233")
    [trunk] = bridges(sim, out[1])
    assert trunk.endswith("]sofia/gateway/pult_trunk_t1/123456")
    assert ("playback", "/prompts/ru/unavailable.wav") in apps(sim, out[1])  # the trunk did not answer


async def test_outbound_refusal_is_spoken(stack):
    sim, svc, policy, store = stack
    call = await sim.place_call("101", "74951112233", {"pult_pbx_id": str(PBX_ID), "pult_source": "sip_user",
                                                      "pult_employee_id": "emp_petrov", "pult_user": "101"})
    await call.wait_ended(timeout=10)
    assert not bridges(sim, call)
    assert ("playback", "/prompts/ru/no_outgoing_number.wav") in apps(sim, call)
    rec = await record_of(svc, store, call.uuid)
    assert path_steps(rec)[-1]["reason"] == "no_outgoing_number" and rec["hangup_cause"] == "CALL_REJECTED"


async def test_pbx_concurrent_call_limit_gives_the_next_caller_busy(stack):
    sim, svc, policy, store = stack
    await store.db["pbxes"].update_one({"pbx_id": PBX_ID}, {"$set": {"max_concurrent_calls": 1}})
    first = await sim.place_call(CALLER, NUMBER, {"pult_pbx_id": str(PBX_ID), "pult_source": "number",
                                                  "pult_number_id": "n1"})
    await first.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                               predicate=lambda e: e.get("Application") == "play_and_get_digits")
    second = await inbound(sim, caller="79037654321")
    assert [a for a, _ in apps(sim, second)] == ["set", "hangup"]
    rec = await record_of(svc, store, second.uuid)
    assert rec["hangup_cause"] == "USER_BUSY" and path_steps(rec)[-1]["step"] == "limit"
    await first.hangup("NORMAL_CLEARING")
    await first.wait_ended(timeout=5)
    await asyncio.sleep(0.3)
    policy.table[CLIENT_MEMBER] = [ANSWER]
    third = await inbound(sim, "1")  # the first call has left: the line is free again
    assert bridges(sim, third)


async def test_group_announces_the_caller_and_a_number_with_an_extension_gets_its_digits(stack):
    sim, svc, policy, store = stack
    await store.db["ring_groups"].update_one({"_id": "grp_client"}, {"$set": {
        "announce_caller": True,
        "members": [{"id": "m1", "kind": "external", "value": "73432628900(252)", "lines": 1,
                     "schedule_id": None, "priority": 1}]}})
    policy.table["73432628900"] = [ANSWER]
    call = await inbound(sim, "1")
    [bridge] = bridges(sim, call)
    assert "execute_on_answer=send_dtmf W252" in bridge
    assert f"group_confirm_key=exec,group_confirm_file=say ru number iterated {CALLER}" in bridge
    assert bridge.endswith(f"]sofia/gateway/{GW}/73432628900")


async def test_a_key_during_a_greeting_that_does_not_wait_is_the_menu_choice(stack):
    sim, svc, policy, store = stack
    await store.db["schemes"].update_one({"_id": "s1"}, {"$set": {"blocks.0.steps.0.wait_end": False}})
    policy.table[SALES_MEMBER] = [ANSWER]
    sim.media_durations[sound("snd_greet")] = 30.0
    call = await sim.place_call(CALLER, NUMBER, {"pult_pbx_id": str(PBX_ID), "pult_source": "number",
                                                 "pult_number_id": "n1"})
    await call.wait_for_event("PLAYBACK_START", timeout=5)
    await call.send_dtmf("2")
    await call.wait_ended(timeout=20)
    seq = apps(sim, call)
    assert ("set", "playback_terminators=any") in seq
    assert "play_and_get_digits" not in [a for a, _ in seq]  # the key stopped the greeting and chose
    assert bridges(sim, call)[0].endswith(SALES_MEMBER)


async def test_internal_call_to_a_conference_room_by_extension(stack):
    sim, svc, policy, store = stack
    await store.db["conference_rooms"].insert_one({"_id": "room1", "pbx_id": PBX_ID, "name": "Planning",
                                                   "name_norm": "planning", "extension": "1000", "seats": 10,
                                                   "join": "all", "pin": None, "pin_for": "all"})
    await store.db["extensions"].insert_one({"pbx_id": PBX_ID, "extension": "1000", "owner_type": "room",
                                             "owner_id": "room1"})
    call = await sim.place_call("101", "1000", {"pult_pbx_id": str(PBX_ID), "pult_source": "sip_user",
                                                "pult_employee_id": "emp_petrov", "pult_user": "101"})
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=5, predicate=lambda e: e.get("Application") == "conference")
    assert ("conference", "room1@pult_room_room1") in apps(sim, call)
    assert "room1" in sim.conferences  # the caller is a member of the room
    await call.hangup("NORMAL_CLEARING")
    await call.wait_ended(timeout=5)


async def test_a_call_from_a_trunk_beyond_its_lines_is_busy(stack):
    sim, svc, policy, store = stack
    await store.db["trunks"].insert_one({"_id": "t1", "pbx_id": PBX_ID, "name": "Office PBX", "name_norm": "office pbx",
                                         "active": True, "host": "192.0.2.10", "port": 5060, "lines": 5, "numbers": []})
    for i in range(5):
        await svc.outbound.flow.shared.enter("trunk:t1", f"other-{i}")
    call = await sim.place_call(CALLER, NUMBER, {"pult_pbx_id": str(PBX_ID), "pult_source": "trunk",
                                                 "pult_trunk_id": "t1", "pult_number_id": "n1"})
    await call.wait_ended(timeout=10)
    assert [a for a, _ in apps(sim, call)] == ["set", "hangup"]
    rec = await record_of(svc, store, call.uuid)
    assert rec["hangup_cause"] == "USER_BUSY" and path_steps(rec)[-1]["step"] == "limit"


async def test_an_external_member_talking_on_its_only_line_is_not_rung_by_the_next_call(stack):
    """«Клиентский отдел» has one external member with one line: while it talks to the first
    caller, a second caller choosing 1 does not ring it (skipped: lines busy) and goes on with
    the item's next step (voice mail); once the first call is over it rings again."""
    sim, svc, policy, store = stack
    policy.table[CLIENT_MEMBER] = [BridgeOutcome(answer_after=1.0, talk_seconds=None), ANSWER]
    first = await placed(sim, "1")
    await first.wait_for_event("CHANNEL_BRIDGE", timeout=5)
    second = await inbound(sim, "1", caller="79037654321")
    assert bridges(sim, second) == []
    assert "record" in [a for a, _ in apps(sim, second)]  # the item's next step: voice mail
    rec = await record_of(svc, store, second.uuid)
    assert {"step": "skip", "target": f"external:{CLIENT_MEMBER}", "reason": "lines_busy",
            "lines": 1} in path_steps(rec)
    await first.hangup("NORMAL_CLEARING")
    await first.wait_ended(timeout=5)
    await asyncio.sleep(0.3)
    third = await inbound(sim, "1", caller="79037654322")  # the line is free again
    assert bridges(sim, third)


# --- one record per call, with its legs (issue 12) -----------------------------------------------
async def one_record(sim, svc, store, call) -> dict:
    """The call's one record, once the legs the switch reported are in it; no other record made."""
    rec = await record_of(svc, store, call.uuid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while len(rec.get("legs") or ()) < len(bridge_legs(sim, call)) and loop.time() < deadline:
        await asyncio.sleep(0.05)
        await svc.cdr.drained()
        rec = await record_of(svc, store, call.uuid)
    assert await store.db["call_records"].count_documents({}) == 1, \
        [d["uuid"] for d in await store.db["call_records"].find({}).to_list(None)]
    return rec


def bridge_legs(sim, call) -> list[str]:
    """The origination uuid of every leg the engine's bridges dialled."""
    return [part.split("origination_uuid=", 1)[1].split(",", 1)[0].split("]", 1)[0]
            for b in bridges(sim, call) for part in b.split("[")[1:]]


async def rate(store, uuid) -> dict:
    from jobs.billing import services
    from jobs.billing.tariffs import seed_default_tariff
    await seed_default_tariff(store.db)
    return await services.rate_record(store.db, uuid)


async def test_an_outbound_call_through_a_trunk_is_one_record_with_its_trunk_leg_and_is_not_charged(stack):
    sim, svc, policy, store = stack
    await store.db["trunks"].insert_one({"_id": "t1", "pbx_id": PBX_ID, "name": "Office PBX", "name_norm": "office pbx",
                                         "active": True, "prefix": "88", "host": "192.0.2.10", "port": 5060,
                                         "numbers": []})
    policy.table["74991234567"] = [ANSWER]
    call = await sim.place_call("101", "8874991234567", {
        "pult_pbx_id": str(PBX_ID), "pult_source": "sip_user", "pult_employee_id": "emp_petrov", "pult_user": "101"})
    await call.wait_ended(timeout=20)
    [bridge] = bridges(sim, call)
    assert bridge.endswith("]sofia/gateway/pult_trunk_t1/74991234567") and "pult_via_trunk=t1" in bridge
    rec = await one_record(sim, svc, store, call)
    assert rec["callee"] == "8874991234567" and rec["pbx_id"] == PBX_ID
    [leg] = rec["legs"]
    assert leg["uuid"] == bridge_legs(sim, call)[0] and leg["callee"] == "74991234567"
    assert leg["billsec"] > 0 and leg["hangup_cause"] == "NORMAL_CLEARING"
    assert leg["vars"]["pult_via_trunk"] == "t1" and leg["vars"]["pult_target"] == "trunk:t1"
    res = await rate(store, call.uuid)
    assert res["status"] == "rated" and res["cost"] == 0 and not res["charged"]
    rated = (await record_of(svc, store, call.uuid))["rated"]
    assert (rated["direction"], rated["zone"], rated["number"], rated["cost"]) == ("outbound", "trunk", "74991234567", 0)
    assert await store.db["ledger_entries"].count_documents({}) == 0


async def test_an_outbound_call_through_the_platform_is_one_record_charged_once_for_its_leg(stack):
    sim, svc, policy, store = stack
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"outgoing_number": NUMBER}})
    policy.table["74951112233"] = [ANSWER]
    call = await sim.place_call("101", "74951112233", {
        "pult_pbx_id": str(PBX_ID), "pult_source": "sip_user", "pult_employee_id": "emp_petrov", "pult_user": "101"})
    await call.wait_ended(timeout=20)
    rec = await one_record(sim, svc, store, call)
    [leg] = rec["legs"]
    assert leg["vars"]["pult_target"] == "external:74951112233" and leg["billsec"] > 0
    res = await rate(store, call.uuid)
    assert res["status"] == "rated" and res["cost"] > 0 and res["charged"]
    rated = (await record_of(svc, store, call.uuid))["rated"]
    assert (rated["direction"], rated["zone"], rated["leg"]) == ("outbound", "local", leg["uuid"])
    assert (await rate(store, call.uuid))["status"] == "already"
    entries = await store.db["ledger_entries"].find({"kind": "call"}).to_list(None)
    assert [e["amount"] for e in entries] == [-res["cost"]]


async def test_a_group_call_is_one_record_with_every_member_rung(stack):
    sim, svc, policy, store = stack
    second = "79160000102"
    policy.table[second] = [NO, ANSWER]
    call = await inbound(sim, number="74957654321", number_id="n2", wait=30)
    rec = await one_record(sim, svc, store, call)
    dialled = bridge_legs(sim, call)
    assert len(dialled) == 5 and sorted(leg["uuid"] for leg in rec["legs"]) == sorted(dialled)
    by_uuid = {leg["uuid"]: leg for leg in rec["legs"]}
    legs = [by_uuid[u] for u in dialled]  # in the order rung
    assert [leg["callee"] for leg in legs] == ["79160000101", second, "79160000103", "79160000101", second]
    assert [leg["vars"]["pult_target"] for leg in legs] == [f"external:{n}" for n in
                                                          ("79160000101", second, "79160000103", "79160000101", second)]
    assert [leg["billsec"] > 0 for leg in legs] == [False] * 4 + [True]
    assert [leg["hangup_cause"] for leg in legs][:4] == ["NO_ANSWER"] * 4
    res = await rate(store, call.uuid)
    rated = (await record_of(svc, store, call.uuid))["rated"]
    # the member who answered is an outbound call to a mobile number; the caller's own leg is inbound
    assert (rated["direction"], rated["zone"], rated["leg"]) == ("outbound", "mobile", legs[-1]["uuid"])
    assert res["cost"] == rated["cost"] > 0
    assert [p["direction"] for p in rated["parts"]] == ["inbound"] + ["outbound"] * 5


async def test_an_internal_call_is_one_record_with_the_phone_it_rang(stack):
    sim, svc, policy, store = stack
    policy.table[f"101@{DOMAIN}"] = [ANSWER]
    call = await internal(sim, "101")
    rec = await one_record(sim, svc, store, call)
    [leg] = rec["legs"]
    assert leg["uuid"] == bridge_legs(sim, call)[0] and leg["channel"] == f"user/101@{DOMAIN}"
    assert leg["vars"]["pult_target"] == "employee:emp_petrov/cm_sip" and leg["billsec"] > 0
    res = await rate(store, call.uuid)
    rated = (await record_of(svc, store, call.uuid))["rated"]
    assert res["status"] == "rated" and (rated["direction"], rated["zone"], rated["cost"]) == ("internal", "internal", 0)
    assert "parts" not in rated


async def test_a_node_restart_mid_call_leaves_one_record_with_its_leg(stack):
    """The switch dies while a phone talks to a colleague: at reconnect both channels are closed
    with NODE_LOST, as one record with its leg (not two records)."""
    sim, svc, policy, store = stack
    policy.table[f"101@{DOMAIN}"] = [BridgeOutcome(answer_after=0.5, talk_seconds=3600.0)]
    call = await sim.place_call("102", "101", {"pult_pbx_id": str(PBX_ID), "pult_source": "sip_user",
                                               "pult_user": "102", "pult_domain": DOMAIN})
    await call.wait_for_event("CHANNEL_BRIDGE", timeout=10)
    [leg_uuid] = bridge_legs(sim, call)
    await sim.crash_and_restart()
    await svc.nodes.wait_for_state("fs1", NodeState.DOWN, NodeState.CONNECTING)
    await svc.nodes.wait_for_state("fs1", NodeState.UP, timeout=10)
    rec = await one_record(sim, svc, store, call)
    assert rec["hangup_cause"] == "NODE_LOST" and rec["pbx_id"] == PBX_ID
    [leg] = rec["legs"]
    assert leg["uuid"] == leg_uuid and leg["hangup_cause"] == "NODE_LOST"
    assert leg["vars"]["pult_target"] == "employee:emp_petrov/cm_sip"


# --- the operator's platform gateways: order, failover, none --------------------------------------
TWO_CARRIERS = [{"id": "main", "name": "Main", "proxy": "sip.main.test:5060", "enabled": True},
                {"id": "off", "name": "Switched off", "proxy": "sip.off.test:5060", "enabled": False},
                {"id": "backup", "name": "Backup", "proxy": "sip.backup.test:5060", "enabled": True}]


async def _outbound(sim, number: str):
    call = await sim.place_call("101", number, {"pult_pbx_id": str(PBX_ID), "pult_source": "sip_user",
                                                "pult_employee_id": "emp_petrov", "pult_user": "101"})
    await call.wait_ended(timeout=20)
    return call


async def test_an_external_number_fails_over_to_the_next_platform_gateway(stack):
    sim, svc, policy, store = stack
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"outgoing_number": NUMBER}})
    await store_platform_gateways(store.db, TWO_CARRIERS)
    policy.table["74951112233"] = [BridgeOutcome(cause="NORMAL_TEMPORARY_FAILURE"), ANSWER]  # 503 from Main
    call = await _outbound(sim, "74951112233")
    [bridge] = bridges(sim, call)
    assert bridge.startswith(f"{{origination_caller_id_number={NUMBER},"
                             "fail_on_single_reject=USER_BUSY:NO_ANSWER:NO_USER_RESPONSE:CALL_REJECTED:ORIGINATOR_CANCEL}")
    first, second = bridge.split("|")
    assert first.endswith("]sofia/gateway/pult_platform_main/74951112233")
    assert second.endswith("]sofia/gateway/pult_platform_backup/74951112233") and "pult_platform_off" not in bridge
    assert policy.dialled == ["sofia/gateway/pult_platform_main/74951112233",
                              "sofia/gateway/pult_platform_backup/74951112233"]
    rec = await record_of(svc, store, call.uuid)
    [ring] = [s for s in path_steps(rec) if s["step"] == "ring"]
    assert ring["result"] == "answered" and ring["answered_by"] == "external:74951112233"


async def test_a_busy_callee_is_not_dialled_again_through_the_next_gateway(stack):
    sim, svc, policy, store = stack
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"outgoing_number": NUMBER}})
    await store_platform_gateways(store.db, TWO_CARRIERS)
    policy.table["74951112233"] = [BridgeOutcome(cause="USER_BUSY"), ANSWER]
    call = await _outbound(sim, "74951112233")
    assert policy.dialled == ["sofia/gateway/pult_platform_main/74951112233"]
    assert ("playback", "/prompts/ru/unavailable.wav") in apps(sim, call)


async def test_with_no_platform_gateway_an_external_number_is_refused_aloud(stack):
    sim, svc, policy, store = stack
    await store.db["employees"].update_one({"_id": "emp_petrov"}, {"$set": {"outgoing_number": NUMBER}})
    await store_platform_gateways(store.db, [dict(TWO_CARRIERS[1])])     # only a switched-off one
    call = await _outbound(sim, "74951112233")
    assert not bridges(sim, call) and policy.dialled == []
    assert ("playback", "/prompts/ru/call_failed.wav") in apps(sim, call)
    rec = await record_of(svc, store, call.uuid)
    assert path_steps(rec)[-1]["reason"] == "no_platform_gateway" and rec["hangup_cause"] == "CALL_REJECTED"
    # a group's external member is skipped (said in the path), the scheme goes on
    await store.db["ring_groups"].update_one({"_id": "grp_client"}, {"$set": {
        "members": [{"id": "m1", "kind": "external", "value": "73432628900(252)", "lines": 1,
                     "schedule_id": None, "priority": 1}]}})
    call = await inbound(sim, "1")
    assert not any("73432628900" in b for b in bridges(sim, call))
    rec = await record_of(svc, store, call.uuid)
    assert any(s.get("reason") == "no_platform_gateway" for s in path_steps(rec))


async def test_the_collector_is_held_off_from_connect_to_the_first_command_only(stack):
    """A caller waits in silence until the engine's first command: no cyclic collection in
    between (pult/runtime.py CollectorHold), and the collector runs again once it is written."""
    import gc

    from pult.runtime import HOLD

    sim, svc, policy, store = stack
    taken = HOLD.taken
    call = await placed(sim)
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                              predicate=lambda e: e.get("Application") == "playback")
    assert HOLD.taken == taken + 1  # this call took a hold...
    assert not HOLD.holding and gc.isenabled()  # ...released with the greeting's write
    await call.hangup("NORMAL_CLEARING")
    await call.wait_ended(timeout=5)
    assert gc.isenabled()

"""Fax-tone detection on live calls, end to end through the simulator: the worked example's menu
has a fax rule (inventory A §4.4.2.1), so while its greeting plays and the menu waits the switch
listens for a calling fax machine (mod_spandsp ``spandsp_start_fax_detect``); a tone stops the
greeting (``uuid_break``) and the call goes to fax reception into the spool. Without a tone the
detector is stopped before the call goes anywhere else."""
from __future__ import annotations

from tests.integration.test_flow_fsim import (ANSWER, CALLER, apps, path_steps, record_of, sound, stack,  # noqa: F401
                                              store)
from tests.unit.flow_data import CLIENT_MEMBER, NUMBER, PBX_ID

DETECT = ("spandsp_start_fax_detect", "set pult_fax_tone=true")
STOP = ("spandsp_stop_fax_detect", None)


def lines(sim, call) -> list[str]:
    """Every command line of the call's socket that is not a sendmsg (event, api …)."""
    return [c.line for c in sim.received_commands if c.origin == f"outbound:{call.uuid}" and c.verb != "sendmsg"]


async def place(sim):
    return await sim.place_call(CALLER, NUMBER, {"pult_pbx_id": str(PBX_ID), "pult_source": "number",
                                                "pult_number_id": "n1", "pult_number": NUMBER})


async def test_a_fax_tone_during_the_greeting_stops_it_and_the_fax_is_received(stack):
    sim, svc, policy, store = stack
    sim.media_durations[sound("snd_greet")] = 600.0  # a long greeting: the tone must cut it short
    call = await place(sim)
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                              predicate=lambda e: e.get("Application") == "playback")
    call.send_fax(pages=2, station="+7 495 000 00 00")
    await call.wait_ended(timeout=30)
    seq = apps(sim, call)
    names = [a for a, _ in seq]
    # detection armed before the greeting, subscribed to its event once
    assert names.index("spandsp_start_fax_detect") < names.index("playback")
    assert seq.count(DETECT) == 1
    assert lines(sim, call).count("event plain DETECTED_TONE") == 1
    # the tone broke the greeting: the switch was told, the menu never listened for digits
    assert f"api uuid_break {call.uuid}" in lines(sim, call)
    assert "play_and_get_digits" not in names
    played = [e for e in call.events if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.get("Application") == "playback"]
    assert played and float(played[0].get("variable_playback_seconds") or 0) < 600
    # the detector stopped before the reception, then rxfax into the spool
    assert names.index("spandsp_stop_fax_detect") < names.index("rxfax")
    assert ("rxfax", f"/srv/fs-01/spool/fax-{call.uuid}-1.tif") in seq
    rec = await record_of(svc, store, call.uuid)
    steps = path_steps(rec)
    greeting = next(s for s in steps if s["step"] == "greeting")
    assert greeting["fax_tone"] is True
    assert {"step": "menu", "input": "fax_tone", "rule": "fax_detect"} in steps
    fax = next(s for s in steps if s["step"] == "fax")
    assert fax["ok"] is True and fax["pages"] == 2 and fax["emails"] == ["petrov@host.ru"]
    assert rec["vars"]["pult_fax"] == f"/srv/fs-01/spool/fax-{call.uuid}-1.tif"
    assert rec["vars"]["pult_fax_tone"] == "true"  # what the detector ran on the hit


async def test_a_fax_tone_while_the_menu_waits_for_digits_goes_to_fax_reception(stack):
    """In the menu's digit wait a break does nothing (switch_ivr_collect_digits_count does not
    look at it): the wait ends at its timeout and the tone heard decides — fax, not "no input"."""
    sim, svc, policy, store = stack
    call = await place(sim)
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                              predicate=lambda e: e.get("Application") == "play_and_get_digits")
    call.send_fax(pages=1)
    await call.wait_ended(timeout=30)
    seq = apps(sim, call)
    names = [a for a, _ in seq]
    assert "bridge" not in names  # not the "no input" rule's group
    assert names.index("spandsp_stop_fax_detect") < names.index("rxfax")
    rec = await record_of(svc, store, call.uuid)
    steps = path_steps(rec)
    assert {"step": "menu", "input": "fax_tone", "rule": "fax_detect"} in steps
    assert next(s for s in steps if s["step"] == "fax")["ok"] is True


async def test_without_a_tone_the_detector_is_stopped_before_the_group_rings(stack):
    sim, svc, policy, store = stack
    policy.table[CLIENT_MEMBER] = [ANSWER]
    call = await place(sim)
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                              predicate=lambda e: e.get("Application") == "play_and_get_digits")
    await call.send_dtmf("1")
    await call.wait_ended(timeout=20)
    seq = apps(sim, call)
    names = [a for a, _ in seq]
    assert seq.count(DETECT) == 1 and seq.count(STOP) == 1
    assert names.index("spandsp_stop_fax_detect") < names.index("bridge")
    assert not any(line.startswith("api uuid_break") for line in lines(sim, call))
    rec = await record_of(svc, store, call.uuid)
    assert "pult_fax_tone" not in rec["vars"]


async def test_a_pbx_with_fax_detection_off_does_not_listen(stack):
    sim, svc, policy, store = stack
    await store.db["tel_settings"].update_one({"pbx_id": PBX_ID}, {"$set": {"fax.auto_detect": False}})
    call = await place(sim)
    await call.wait_for_event("CHANNEL_EXECUTE", timeout=5,
                              predicate=lambda e: e.get("Application") == "play_and_get_digits")
    call.send_fax()
    await call.wait_ended(timeout=30)
    names = [a for a, _ in apps(sim, call)]
    assert "spandsp_start_fax_detect" not in names and "rxfax" not in names
    assert "event plain DETECTED_TONE" not in lines(sim, call)

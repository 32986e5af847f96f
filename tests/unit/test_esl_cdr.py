"""Call records from CHANNEL_HANGUP_COMPLETE: fields, exactly once, surviving a storage outage."""
from __future__ import annotations

import asyncio
import json
from datetime import timezone
from pathlib import Path

import pytest

from esl_control.cdr import CdrWriter, record_from_event
from esl_control.transport.protocol import EslEvent, FrameParser, event_from_message
from storage.repos.calls import save_call_record

TRACES = Path("/work/shared/freeswitch/traces")


def hangup_events(trace: str) -> list[EslEvent]:
    lines = (TRACES / f"{trace}.jsonl").read_text().splitlines()[1:]
    raw = "".join(f["data"] for f in map(json.loads, lines) if f["dir"] == "recv").encode()
    events = [event_from_message(m) for m in FrameParser().feed(raw)]
    return [e for e in events if e is not None and e.name == "CHANNEL_HANGUP_COMPLETE"]


pytestmark = pytest.mark.skipif(not TRACES.is_dir(), reason="traces not available")


def test_record_fields_from_a_real_hangup_event():
    event = hangup_events("inbound_call_events_plain")[0]
    rec = record_from_event(event, "fs1")
    assert rec["uuid"] == "11111111-2222-3333-4444-555500000001"
    assert rec["pbx_id"] == 1001 and rec["node"] == "fs1"
    assert rec["direction"] == "outbound" and rec["hangup_cause"] == "NORMAL_CLEARING"
    assert rec["duration"] == 17 and rec["billsec"] == 17
    assert rec["start"].tzinfo is timezone.utc
    assert rec["start"].isoformat() == "2026-11-22T03:08:21.704014+00:00"
    assert rec["end"].isoformat() == "2026-11-22T03:08:38.964015+00:00"
    assert rec["vars"]["hangup_cause_q850"] == "16"
    assert rec["vars"]["last_app"] == "playback"
    assert rec["vars"]["pult_pbx_id"] == "1001"
    sip = record_from_event(hangup_events("outbound_socket_flow")[0], "fs1")
    assert sip["answer"] is not None and sip["billsec"] >= 0


def test_a_leg_the_switch_originated_from_a_call_is_a_leg_of_that_calls_record():
    """In the recorded ``bridge`` (a real switch): the leg the bridge originated names its call;
    the channels that started calls (API originates, loopback halves) are calls of their own."""
    records = {r["uuid"]: r for r in (record_from_event(e, "fs1") for e in hangup_events("inbound_bridge"))}
    bridged = records["74e71fe4-aaa2-4069-a5ed-8eec0e0e6071"]
    assert bridged["leg_of"] == "22222222-0000-0000-0000-00000000000b"
    assert bridged["channel"] == "loopback/9198-a" and bridged["direction"] == "outbound"
    calls = [u for u, r in records.items() if "leg_of" not in r]
    assert "22222222-0000-0000-0000-00000000000b" in calls and len(calls) == len(records) - 1


def test_a_sip_phones_call_is_recorded_with_the_number_the_directory_gives_it():
    """A phone registered as login ``ivanov`` presents ``ivanov``; the directory sets the
    extension as effective_caller_id_number: the record's caller is the extension."""
    event = EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "u2",
                      "Caller-Caller-ID-Number": "ivanov", "Caller-Caller-ID-Name": "ivanov",
                      "variable_user_name": "ivanov", "variable_effective_caller_id_number": "104",
                      "variable_effective_caller_id_name": "Иван Иванов"})
    rec = record_from_event(event, "fs1")
    assert (rec["caller"], rec["caller_name"]) == ("104", "Иван Иванов")
    trunk = EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "u3",
                      "Caller-Caller-ID-Number": "79161234567", "variable_effective_caller_id_number": "1"})
    assert record_from_event(trunk, "fs1")["caller"] == "79161234567"  # not an authenticated phone


def test_missing_or_bad_pbx_id_is_none():
    event = EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "u1",
                      "variable_pult_pbx_id": "abc", "variable_answer_uepoch": "0"})
    rec = record_from_event(event, "fs1")
    assert rec["pbx_id"] is None and rec["answer"] is None and rec["billsec"] == 0
    with pytest.raises(ValueError, match="Unique-ID"):
        record_from_event(EslEvent({"Event-Name": "CHANNEL_HANGUP_COMPLETE"}), "fs1")


@pytest.fixture
def store(embedded_store):
    return embedded_store


async def test_same_event_three_times_is_stored_once(store):
    event = hangup_events("inbound_call_events_plain")[0]
    writer = CdrWriter(lambda rec: save_call_record(store.db, rec))
    await writer.start()
    writer.handle_event("fs1", event)       # inbound connection
    writer.handle_event("fs1", event)       # outbound lingering socket
    await writer.drained()
    fresh = CdrWriter(lambda rec: save_call_record(store.db, rec))  # another process / restart
    await fresh.start()
    fresh.handle_event("fs1", event)
    await fresh.drained()
    await writer.stop()
    await fresh.stop()
    assert await store.db["call_records"].count_documents({"uuid": event.uuid}) == 1
    assert writer.stored == 1 and writer.duplicates == 1 and fresh.duplicates == 1


async def test_storage_outage_is_retried_until_stored(store):
    event = hangup_events("inbound_call_events_plain")[1]
    failures = {"left": 3}

    async def flaky_save(rec):
        if failures["left"]:
            failures["left"] -= 1
            raise ConnectionError("store unavailable")
        return await save_call_record(store.db, rec)

    writer = CdrWriter(flaky_save, retry_min=0.01, retry_max=0.05)
    await writer.start()
    writer.handle_event("fs1", event)
    assert writer.pending == 1
    await writer.drained(timeout=5)
    await writer.stop()
    assert writer.failures == 3 and writer.pending == 0
    assert await store.db["call_records"].count_documents({"uuid": event.uuid}) == 1


async def writer_with_store_down(spool: Path, events: list[EslEvent]) -> CdrWriter:
    """A started writer whose store refuses every record, handed ``events``."""
    async def down(rec):
        raise ConnectionError("store unavailable")

    writer = CdrWriter(down, spool_path=spool, retry_min=0.01, retry_max=0.02)
    await writer.start()
    for event in events:
        writer.handle_event("fs1", event)
    return writer


async def next_start_stores_the_spool(store, spool: Path) -> None:
    back = CdrWriter(lambda rec: save_call_record(store.db, rec), spool_path=spool)
    await back.start()
    await back.drained()
    await back.stop()


async def test_unstored_records_are_spooled_at_shutdown_and_stored_next_start(store, tmp_path):
    spool = tmp_path / "cdr_spool.jsonl"
    events = hangup_events("inbound_call_events_plain")

    writer = await writer_with_store_down(spool, events)
    await asyncio.sleep(0.05)
    await writer.stop(timeout=0.1)
    assert len(spool.read_text().splitlines()) == 2

    await next_start_stores_the_spool(store, spool)
    assert not spool.exists()
    docs = await store.db["call_records"].find({}).to_list(None)
    assert sorted(d["uuid"] for d in docs) == sorted(e.uuid for e in events)
    assert all(d["start"].year == 2026 for d in docs)  # datetimes survived the spool


async def test_a_record_the_store_keeps_refusing_does_not_hold_up_the_others(store):
    """A poison record (refused every time) goes to the back of the queue: the records behind
    it are stored, and it stays pending (and retried) instead of being dropped."""
    first, second = hangup_events("inbound_call_events_plain")[:2]

    async def save(rec):
        if rec["uuid"] == first.uuid:
            raise ValueError("document refused by the store")
        return await save_call_record(store.db, rec)

    writer = CdrWriter(save, retry_min=0.01, retry_max=0.02)
    await writer.start()
    writer.handle_event("fs1", first)
    writer.handle_event("fs1", second)
    for _ in range(200):
        if await store.db["call_records"].count_documents({"uuid": second.uuid}):
            break
        await asyncio.sleep(0.01)
    await writer.stop(timeout=0.05)
    assert await store.db["call_records"].count_documents({"uuid": second.uuid}) == 1
    assert writer.pending == 1 and writer.failures >= 2  # the poison one: kept, retried


async def test_records_that_failed_survive_a_crash_while_the_store_is_down(store, tmp_path):
    """No clean shutdown (the process is killed) while the store is down: the records that had
    failed were already appended to the spool, and the next start stores them."""
    spool = tmp_path / "cdr_spool.jsonl"
    events = hangup_events("inbound_call_events_plain")

    crashed = await writer_with_store_down(spool, events)
    for _ in range(200):
        if spool.exists() and len(spool.read_text().splitlines()) >= len(events):
            break
        await asyncio.sleep(0.01)
    crashed._task.cancel()  # the process dies: no stop(), no spool rewrite
    with pytest.raises(asyncio.CancelledError):
        await crashed._task

    await next_start_stores_the_spool(store, spool)
    assert not spool.exists()
    docs = await store.db["call_records"].find({}).to_list(None)
    assert sorted(d["uuid"] for d in docs) == sorted(e.uuid for e in events)

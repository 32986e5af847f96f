"""Voice mail and faxes from the spool into the media store (jobs/spool.py), with real files —
sox-made WAV, the simulator's fax TIFF re-encoded as G3 with tiffcp — through a real worker:
imported once, linked to the call record, the spool file removed only after the store has it; a
store failure leaves the file; a crash between storing and deleting does not store twice; an
orphan goes to quarantine (and /readyz counts it); a PBX reads only its own media."""
from __future__ import annotations

import asyncio
import os
import subprocess
import uuid as uuidlib
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

import jobs.spool as spool
from jobs import context
from jobs.spool import import_file, on_call_record, parse, sweep_now
from jobs.testing import TEST_REDIS_URL as JOBS_REDIS_URL
from jobs.testing import configure_for_tests, running_worker
from pult.clock import FixedClock, use_clock
from pult.settings import SettingsError, load_settings, set_settings
from storage.media import MediaNotFound
from storage.repos.calls import find_call, save_call_record
from tests.fsim.fax import write_blank_tiff
from tests.integration.harness import jobs_prefix, wait_for  # noqa: F401  (jobs_prefix: a fixture)
from web.testing import web_stack

PBX_A, PBX_B = 101, 202


class Killed(RuntimeError):
    """Where a worker dies: the state left behind is what matters (the message is redelivered)."""


# --- real files -------------------------------------------------------------------------------------
def sox_wav(path: Path, seconds: float = 2.0) -> Path:
    """A voice mail as FreeSWITCH's ``record`` leaves it: 8 kHz mono 16-bit WAV."""
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path), "synth", str(seconds),
                    "sine", "440"], check=True, capture_output=True)
    return path


def fax_tiff(path: Path, pages: int = 2) -> Path:
    """The simulator's received fax, re-encoded as a G3 fax TIFF (what spandsp writes)."""
    raw = path.with_suffix(".raw.tif")
    write_blank_tiff(raw, pages=pages)
    subprocess.run(["tiffcp", "-c", "g3:2d", str(raw), str(path)], check=True, capture_output=True)
    raw.unlink()
    return path


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def record(uuid: str, pbx_id: int | None = PBX_A, **variables: str) -> dict:
    return {"uuid": uuid, "pbx_id": pbx_id, "node": "fs1", "direction": "inbound", "caller": "79001234567",
            "callee": "74951234567", "duration": 30, "billsec": 25, "hangup_cause": "NORMAL_CLEARING",
            "vars": dict(variables)}


# --- environment ------------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path, monkeypatch, jobs_prefix):
    monkeypatch.delenv("MONGO_URL", raising=False)
    s = load_settings(data_dir=tmp_path / "data", http_port=8080, outbound_port=0, redis_url=JOBS_REDIS_URL,
                      spool_dir=tmp_path / "spool", log_level="WARNING")
    s.spool_dir.mkdir()
    set_settings(s)
    configure_for_tests(s, jobs_prefix)
    yield s
    set_settings(None)


@pytest.fixture
def worker(settings, store):
    """A real embedded worker on the media queue, on this test's store and loop."""
    with running_worker(settings, store=store, loop=asyncio.get_event_loop(), queues="media",
                        concurrency=2) as handle:
        yield handle


@pytest.fixture
def bound(store):
    """Jobs' functions called directly (from a thread) on this test's store."""
    context.bind_store(store, asyncio.get_event_loop())
    yield
    context.unbind_store()


async def media_of(store, pbx_id: int, name: str) -> list:
    return await store.media.find(pbx_id, {"spool": name})


# --- through the worker -----------------------------------------------------------------------------
async def test_a_voice_mail_is_imported_once_linked_and_removed_from_the_spool(settings, store, worker):
    uuid = new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav", seconds=2.0)
    content = wav.read_bytes()
    rec = record(uuid, pult_voicemail=str(wav))
    assert await save_call_record(store.db, rec)
    on_call_record(rec)  # what the CDR writer calls once the record is stored

    stored = await wait_for(lambda: find_call(store.db, uuid), what="the record")
    stored = await wait_for(lambda: _linked(store, uuid), what="the voice mail linked to the call")
    assert not wav.exists()
    [item] = stored["media"]
    assert item["kind"] == "voicemail" and item["spool"] == wav.name
    assert item["duration"] == pytest.approx(2.0, abs=0.05)
    assert stored["voicemail_ids"] == [item["id"]]
    assert await store.media.read(PBX_A, item["id"]) == content
    info = await store.media.info(PBX_A, item["id"])
    assert info.content_type == "audio/wav" and info.metadata["kind"] == "voicemail"

    # the hook fires again (a duplicate event) and the sweep runs: nothing is stored twice
    on_call_record(rec)
    await asyncio.to_thread(sweep_now, settings)
    await asyncio.sleep(0.5)
    assert len(await media_of(store, PBX_A, wav.name)) == 1
    assert len((await find_call(store.db, uuid))["media"]) == 1

    # tenant isolation: another PBX cannot read it, the owner can
    with pytest.raises(MediaNotFound):
        await store.media.read(PBX_B, item["id"])
    with pytest.raises(MediaNotFound):
        await store.media.info(PBX_B, item["id"])
    assert await media_of(store, PBX_B, wav.name) == []


async def _linked(store, uuid: str):
    rec = await find_call(store.db, uuid)
    return rec if rec and rec.get("media") else None


async def test_a_fax_is_stored_with_its_pages_and_a_pdf(settings, store, worker):
    uuid = new_uuid()
    tif = fax_tiff(settings.spool_dir / f"fax-{uuid}-1.tif", pages=2)
    content = tif.read_bytes()
    rec = record(uuid, pult_fax=str(tif), fax_success="1")
    await save_call_record(store.db, rec)
    on_call_record(rec)

    stored = await wait_for(lambda: _linked(store, uuid), what="the fax linked to the call")
    [item] = stored["media"]
    assert item["kind"] == "fax" and item["pages"] == 2 and stored["fax_ids"] == [item["id"]]
    assert item["received"] is True
    assert not tif.exists()
    assert await store.media.read(PBX_A, item["id"]) == content
    pdf = await store.media.read(PBX_A, item["pdf_id"])
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf
    assert (await store.media.info(PBX_A, item["pdf_id"])).content_type == "application/pdf"
    out = subprocess.run(["gs", "-q", "-dNODISPLAY", "-dNOSAFER", "-dBATCH", "-sDEVICE=nullpage", "-"],
                         input=pdf, capture_output=True)
    assert out.returncode == 0, out.stderr  # ghostscript renders every page of it
    with pytest.raises(MediaNotFound):
        await store.media.read(PBX_B, item["pdf_id"])


async def test_a_store_failure_leaves_the_file_and_a_later_run_imports_it(settings, store, worker, monkeypatch):
    uuid = new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav")
    rec = record(uuid, pult_voicemail=str(wav))
    await save_call_record(store.db, rec)
    real_put = store.media.put
    attempts = []

    async def failing_put(*args, **kwargs):
        attempts.append(1)
        raise ConnectionError("media store unreachable")

    monkeypatch.setattr(store.media, "put", failing_put)
    on_call_record(rec)
    await wait_for(lambda: _at_least(attempts, 3), what="retried imports")  # retried with backoff
    assert wav.exists()
    assert not (await find_call(store.db, uuid)).get("media")

    monkeypatch.setattr(store.media, "put", real_put)  # the store is back: the next sweep imports it
    result = await asyncio.to_thread(sweep_now, settings)
    assert result["counts"].get("imported") == 1
    assert not wav.exists()
    assert len(await media_of(store, PBX_A, wav.name)) == 1


async def _at_least(items: list, n: int) -> bool:
    return len(items) >= n


# --- crashes and orphans (the job's body called directly) --------------------------------------------
def kill_before_linking(monkeypatch) -> None:
    """The worker is killed once the file is stored, before the call record names it."""
    async def killed(*args, **kwargs):
        raise Killed("worker killed")

    monkeypatch.setattr(spool, "link_media", killed)


async def test_a_crash_between_storing_and_linking_does_not_store_twice(settings, store, bound, monkeypatch):
    uuid = new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav")
    await save_call_record(store.db, record(uuid))
    kill_before_linking(monkeypatch)
    with pytest.raises(Killed):
        await asyncio.to_thread(import_file, settings, parse(wav))
    assert wav.exists() and len(await media_of(store, PBX_A, wav.name)) == 1  # stored, not linked
    monkeypatch.undo()

    result = await asyncio.to_thread(import_file, settings, parse(wav))
    assert result["status"] == "imported"
    assert len(await media_of(store, PBX_A, wav.name)) == 1  # the earlier copy was reused
    rec = await find_call(store.db, uuid)
    assert [m["id"] for m in rec["media"]] == rec["voicemail_ids"] == [result["id"]]
    assert not wav.exists()


async def test_a_fax_import_killed_before_linking_reuses_its_tiff_and_pdf(settings, store, bound, monkeypatch):
    uuid = new_uuid()
    tif = fax_tiff(settings.spool_dir / f"fax-{uuid}-1.tif", pages=3)
    await save_call_record(store.db, record(uuid))
    kill_before_linking(monkeypatch)
    with pytest.raises(Killed):
        await asyncio.to_thread(import_file, settings, parse(tif))
    monkeypatch.undo()
    await asyncio.sleep(1.1)  # a PDF made now would carry another creation date

    result = await asyncio.to_thread(import_file, settings, parse(tif))
    originals = await store.media.find(PBX_A, {"spool": tif.name, "variant": "original"})
    pdfs = await store.media.find(PBX_A, {"spool": tif.name, "variant": "pdf"})
    assert [m.file_id for m in originals] == [result["id"]]
    assert [m.file_id for m in pdfs] == [result["pdf_id"]]
    [item] = (await find_call(store.db, uuid))["media"]
    assert item["pages"] == 3 and item["pdf_id"] == result["pdf_id"]
    assert "received" not in item  # the record does not say how the fax went
    assert not tif.exists()


async def test_a_record_that_cannot_be_updated_keeps_the_file(settings, store, bound, monkeypatch):
    uuid = new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav")
    await save_call_record(store.db, record(uuid))

    async def not_linked(*args, **kwargs):  # the record vanished between reading and linking
        return False

    monkeypatch.setattr(spool, "link_media", not_linked)
    with pytest.raises(spool.TransientError):
        await asyncio.to_thread(import_file, settings, parse(wav))
    assert wav.exists()
    assert await media_of(store, PBX_A, wav.name) == []  # its copy was removed again


async def test_a_crash_between_linking_and_deleting_does_not_store_twice(settings, store, bound, monkeypatch):
    uuid = new_uuid()
    tif = fax_tiff(settings.spool_dir / f"fax-{uuid}-1.tif", pages=1)
    await save_call_record(store.db, record(uuid))

    def killed(path):
        raise Killed("worker killed")

    monkeypatch.setattr(spool, "_remove", killed)
    with pytest.raises(Killed):
        await asyncio.to_thread(import_file, settings, parse(tif))
    assert tif.exists()
    monkeypatch.undo()

    result = await asyncio.to_thread(sweep_now, settings)
    assert result["counts"] == {"imported": 1} and result["waiting"] == 0
    assert not tif.exists()
    assert len(await store.media.find(PBX_A, {"spool": tif.name, "variant": "original"})) == 1
    assert len(await store.media.find(PBX_A, {"spool": tif.name, "variant": "pdf"})) == 1
    assert len((await find_call(store.db, uuid))["media"]) == 1


async def test_two_runs_at_once_store_one_copy(settings, store, bound):
    uuid = new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav")
    await save_call_record(store.db, record(uuid))
    results = await asyncio.gather(*(asyncio.to_thread(import_file, settings, parse(wav)) for _ in range(4)))
    assert sorted(r["status"] for r in results).count("imported") >= 1
    assert len(await media_of(store, PBX_A, wav.name)) == 1
    assert len((await find_call(store.db, uuid))["media"]) == 1
    assert not wav.exists()


async def test_a_file_of_a_call_not_stored_yet_waits(settings, store, bound):
    uuid = new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav")
    result = await asyncio.to_thread(sweep_now, settings)
    assert result["counts"] == {"waiting": 1} and result["waiting"] == 1 and result["quarantined"] == 0
    assert wav.exists()
    await save_call_record(store.db, record(uuid))  # the call ends
    result = await asyncio.to_thread(sweep_now, settings)
    assert result["counts"] == {"imported": 1} and not wav.exists()


async def test_an_orphan_goes_to_quarantine_is_counted_and_imported_once_its_call_turns_up(settings, store, bound):
    uuid = new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav")
    content = wav.read_bytes()
    written = datetime(2026, 12, 6, 20, 0, tzinfo=timezone.utc).timestamp()
    os.utime(wav, (written, written))
    nobody = fax_tiff(settings.spool_dir / f"fax-{new_uuid()}-1.tif")  # a call without a PBX
    await save_call_record(store.db, record(parse(nobody).uuid, pbx_id=None))
    stranger = settings.spool_dir / "notes.txt"  # not a file the engine writes: left alone
    stranger.write_text("x")

    with use_clock(FixedClock(written + settings.spool_orphan_grace - 60)):  # not long enough yet
        result = await asyncio.to_thread(sweep_now, settings)
    assert result["counts"] == {"waiting": 1, "quarantined": 1} and wav.exists()
    with use_clock(FixedClock(written + settings.spool_orphan_grace + 60)):
        result = await asyncio.to_thread(sweep_now, settings)
    assert result["counts"] == {"quarantined": 1, "kept": 1}
    assert result["quarantined"] == 2 and result["waiting"] == 0
    kept = settings.spool_dir / "quarantine" / wav.name
    assert kept.read_bytes() == content and not wav.exists()  # moved, never deleted
    assert (settings.spool_dir / "quarantine" / nobody.name).exists()
    assert stranger.exists()

    async with web_stack(settings, store) as (ctx, url):
        async with httpx.AsyncClient() as client:
            ready = (await client.get(f"{url}/readyz")).json()
            metrics = (await client.get(f"{url}/metrics")).text
    assert ready["checks"]["spool"]["quarantined"] == 2
    assert ready["checks"]["spool"]["ok"] is False
    assert 'pult_spool_files{state="quarantined"} 2.0' in metrics

    # the record had waited in the CDR writer's disk spool: it arrives, the next sweep imports
    await save_call_record(store.db, record(uuid, pbx_id=PBX_B))
    result = await asyncio.to_thread(sweep_now, settings)
    assert result["counts"] == {"imported": 1, "kept": 1} and result["quarantined"] == 1
    assert not kept.exists()
    [item] = (await find_call(store.db, uuid))["media"]
    assert await store.media.read(PBX_B, item["id"]) == content
    with pytest.raises(MediaNotFound):
        await store.media.read(PBX_A, item["id"])


async def test_hook_queues_only_records_that_name_a_spool_file():
    assert spool.names_spool_file(record("u", pult_voicemail="/var/spool/pult/vm-u-1.wav"))
    assert spool.names_spool_file({"uuid": "u", "path": [{"step": "fax", "path": "/s/fax-u-1.tif"}]})
    assert not spool.names_spool_file(record("u"))
    assert not spool.names_spool_file({"uuid": "u", "path": [{"step": "voicemail", "path": ""}]})


def test_a_record_naming_a_file_outside_the_spool_is_reported(settings, caplog):
    with caplog.at_level("ERROR", logger="pult.jobs.spool"):
        spool.on_call_record(record("u-1", pult_fax="/tmp/elsewhere/fax-u-1-1.tif"))
    assert "outside PULT_SPOOL_DIR" in caplog.text and "/tmp/elsewhere/fax-u-1-1.tif" in caplog.text


def test_spool_file_names():
    assert parse(Path("/s/vm-6f1c0a6e-1b2c-4d5e-8f90-123456789abc-1.wav")).uuid == \
        "6f1c0a6e-1b2c-4d5e-8f90-123456789abc"
    assert parse(Path("/s/fax-abc-2.tif")).kind == "fax"
    assert parse(Path("/s/vm-abc-1.tif")) is None  # a voice mail is a WAV
    assert parse(Path("/s/vm-abc.wav")) is None
    assert parse(Path("/s/.vm-abc-1.wav.tmp")) is None
    assert parse(Path("/s/quarantine/vm-abc-1.q0123abcd.wav")).uuid == "abc"  # a second one kept


@pytest.mark.parametrize("value", ["spool", "", "/var/../etc", "/"])
def test_the_spool_directory_setting_is_validated(value):
    with pytest.raises(SettingsError) as err:
        load_settings(spool_dir=value)
    assert "PULT_SPOOL_DIR" in str(err.value)


def test_the_spool_directory_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PULT_SPOOL_DIR", "/srv/fs-01/spool")
    assert load_settings().spool_dir == Path("/srv/fs-01/spool")
    monkeypatch.delenv("PULT_SPOOL_DIR")
    assert load_settings().spool_dir == Path("/var/spool/pult")


def test_the_sweep_is_on_the_beat_schedule_and_the_media_queue():
    from jobs.app import app, queue_for

    entry = app.conf.beat_schedule["spool.import"]
    assert entry["task"] == "jobs.spool.sweep" and entry["schedule"].total_seconds() == spool.SWEEP_EVERY
    assert queue_for("jobs.spool.sweep") == queue_for("jobs.spool.import_call") == "media"


async def test_a_call_hung_up_on_the_switch_gets_its_voice_mail_imported(settings, store, worker):
    """The whole path: the simulator hangs up a call whose channel names the voice mail the
    engine recorded (``pult_voicemail``); the CDR writer stores the record and its hook queues
    the import; the worker stores the file and removes it from the spool."""
    from esl_control.nodes import NodeState
    from esl_control.service import EslService
    from tests.fsim import FreeSwitchSimulator

    sim = FreeSwitchSimulator(hostname="fsim-spool")
    await sim.start()
    esl_settings = settings.model_copy(update={"esl_nodes": f"fs1=127.0.0.1:{sim.port}:ClueCon",
                                               "esl_reconnect_min": 0.05, "esl_reconnect_max": 0.3})
    service = EslService(esl_settings, store, outbound=False, on_record_stored=on_call_record)
    await service.start()
    try:
        await service.nodes.wait_for_state("fs1", NodeState.UP)
        uuid = new_uuid()
        wav = sox_wav(settings.spool_dir / f"vm-{uuid}-1.wav", seconds=1.0)  # what `record` left
        call = await sim.add_existing_call("79161234567", "74951234567",
                                           {"pult_pbx_id": str(PBX_A), "pult_voicemail": str(wav)}, uuid=uuid)
        assert call.uuid == uuid
        await call.hangup()
        await call.wait_ended()
        stored = await wait_for(lambda: _linked(store, uuid), what="the voice mail linked to the call")
    finally:
        await service.stop()
        await sim.stop()
    [item] = stored["media"]
    assert stored["pbx_id"] == PBX_A and item["kind"] == "voicemail"
    assert item["duration"] == pytest.approx(1.0, abs=0.05)
    assert not wav.exists()
    assert len(await media_of(store, PBX_A, wav.name)) == 1

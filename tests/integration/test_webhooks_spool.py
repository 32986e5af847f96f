"""The spool import emits ``voicemail.received`` / ``fax.received`` once the file is stored and
linked to its call (fixtures and files of test_spool_import)."""
from __future__ import annotations

import asyncio
import json

import pytest

from esl_control.model.webhooks import services
from jobs.spool import import_call_now
from storage.repos.calls import save_call_record
from tests.integration.test_spool_import import (PBX_A, bound, fax_tiff, jobs_prefix, new_uuid, record,  # noqa: F401
                                                 settings, sox_wav)


pytestmark = pytest.mark.usefixtures("deliveries_stored_only")


async def _events(store, event_type):
    return [json.loads(d["body"]) for d in
            await store.db["webhook_deliveries"].find({"pbx_id": PBX_A, "event_type": event_type}).to_list(None)]


async def test_a_voice_mail_and_a_fax_are_told_once_each(settings, store, bound):
    await services.WebhookService(store.db, PBX_A, allow_private=True).create(
        {"url": "http://127.0.0.1:9/in", "events": ["voicemail.received", "fax.received"]})
    vm_uuid, fax_uuid = new_uuid(), new_uuid()
    wav = sox_wav(settings.spool_dir / f"vm-{vm_uuid}-1.wav", seconds=2.0)
    tif = fax_tiff(settings.spool_dir / f"fax-{fax_uuid}-1.tif", pages=2)
    assert await save_call_record(store.db, record(vm_uuid, pult_voicemail=str(wav)))
    assert await save_call_record(store.db, record(fax_uuid, pult_fax=str(tif), fax_success="1"))
    for uuid in (vm_uuid, fax_uuid, vm_uuid):  # the second import of the voice mail finds nothing to do
        await asyncio.to_thread(import_call_now, settings, uuid)
    [vm] = await _events(store, "voicemail.received")
    assert vm["data"]["call_id"] == vm_uuid and vm["data"]["duration"] == pytest.approx(2.0, abs=0.05)
    assert vm["data"]["caller"] == "79001234567" and vm["data"]["file_id"]
    [fax] = await _events(store, "fax.received")
    assert fax["data"]["pages"] == 2 and fax["data"]["received"] is True and fax["data"]["pdf_id"]

"""Issue 13 (what an integrator needs): the voice mail and faxes a call left, listed and downloaded
over /api/v1 — within the reach of the role in «Voice mail and faxes», with an API key too."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from storage.repos.calls import save_call_record
from storage.repos.users import create_tenant_user
from tests.integration.harness import cheap_hashes, new_account_pbx, operator_stack  # noqa: F401  (cheap_hashes: autouse)
from web.testing import WebClient

VOICE = b"RIFF" + bytes(range(256)) * 8       # the endpoint streams what the store holds
TIFF, PDF = b"II*\x00" + b"fax" * 100, b"%PDF-1.4 fax"


@pytest.fixture
async def web(settings, store):
    async with operator_stack(settings, store) as (ctx, url, op):
        _account, pbx = await new_account_pbx(op, "ООО Ромашка", "boss@romashka.ru", "corporate")
        for login, role in (("adm", "administrator"), ("emp", "employee")):
            await create_tenant_user(store, pbx, login, "tenant-pass-1", role=role, language="en")
        media = ctx.store.media
        vm = await media.put(pbx, "vm.wav", VOICE, "audio/wav", {"kind": "voicemail"})
        tif = await media.put(pbx, "fax.tif", TIFF, "image/tiff", {"kind": "fax"})
        pdf = await media.put(pbx, "fax.pdf", PDF, "application/pdf", {"kind": "fax"})
        await save_call_record(ctx.store.db, {
            "uuid": "call-with-media", "pbx_id": pbx, "caller": "+79160000001", "callee": "74950000001",
            "start": datetime(2026, 6, 10, 9, tzinfo=timezone.utc), "billsec": 0, "direction": "inbound",
            "media": [{"kind": "voicemail", "id": vm, "spool": "vm-call-with-media-1.wav", "content_type": "audio/wav",
                       "size": len(VOICE), "duration": 4.5},
                      {"kind": "fax", "id": tif, "spool": "fax-call-with-media-1.tif", "content_type": "image/tiff",
                       "size": len(TIFF), "pages": 2, "received": True, "pdf_id": pdf}],
            "voicemail_ids": [vm], "fax_ids": [tif]})
        yield ctx, url, op, pbx, {"vm": vm, "tif": tif}


async def test_voice_mail_and_fax_listed_and_downloaded(web):
    ctx, url, op, pbx, ids = web
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pbx}/adm", "tenant-pass-1")
        r = await c.get("/api/v1/calls/call-with-media/media")
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [(i["kind"], i["id"]) for i in items] == [("voicemail", ids["vm"]), ("fax", ids["tif"])]
        assert items[0]["duration"] == 4.5 and items[0]["pdf"] is False
        assert items[1]["pages"] == 2 and items[1]["received"] is True and items[1]["pdf"] is True
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}")
        assert r.status_code == 200 and r.content == VOICE
        assert r.headers["content-type"] == "audio/wav"
        assert "voicemail-call-with-media.wav" in r.headers["content-disposition"]
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}", headers={"Range": "bytes=4-9"})
        assert r.status_code == 206 and r.content == VOICE[4:10]
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['tif']}")
        assert r.content == TIFF and r.headers["content-type"] == "image/tiff"
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['tif']}?format=pdf")
        assert r.content == PDF and r.headers["content-type"] == "application/pdf"
        # bad input: a clear refusal in the envelope
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}?format=pdf")
        assert r.status_code == 404 and r.json()["error"]["message"] == "There is no PDF of this file."
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}?format=mp3")
        assert r.status_code == 400 and "format" in r.json()["error"]["fields"]
        r = await c.get("/api/v1/calls/call-with-media/media/0123456789abcdef01234567")
        assert r.status_code == 404 and r.json()["error"]["message"] == "No such file."
        assert (await c.get("/api/v1/calls/no-such-call/media")).status_code == 404
        key = await c.api("POST", "/api/v1/api-keys", json={"name": "CRM", "role": "administrator",
                                                            "whitelist": ["127.0.0.1"]})
        bearer = {"Authorization": f"Bearer {key.json()['secret']}"}
    async with WebClient(url) as anon:
        r = await anon.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}", headers=bearer)
        assert r.status_code == 200 and r.content == VOICE
        assert (await anon.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}")).status_code == 401


async def test_outside_the_reach_the_call_s_messages_are_not_found(web):
    ctx, url, op, pbx, ids = web
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        # an Employee reaches the messages of their own calls; this call is not theirs
        await c.login(f"{pbx}/emp", "tenant-pass-1")
        assert (await c.get("/api/v1/calls/call-with-media/media")).status_code == 404
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}")
        assert r.status_code == 404 and b"RIFF" not in r.content
    # once the call is theirs (their card's extension was called), they get it
    emp_id = "emp-card-1"
    await ctx.store.db["employees"].insert_one({"_id": emp_id, "pbx_id": pbx, "name": "Анна", "extension": "205"})
    await ctx.store.db["users"].update_one({"pbx_id": pbx, "login": "emp"}, {"$set": {"employee_id": emp_id}})
    await ctx.store.db["call_records"].update_one({"uuid": "call-with-media"}, {"$set": {"callee": "205"}})
    async with WebClient(url, headers={"Accept-Language": "en"}) as c:
        await c.login(f"{pbx}/emp", "tenant-pass-1")
        r = await c.get(f"/api/v1/calls/call-with-media/media/{ids['vm']}")
        assert r.status_code == 200 and r.content == VOICE

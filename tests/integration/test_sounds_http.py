"""Sound files end to end over real HTTP: streaming upload checked by content, the conversion
job on a real worker with real sox/lame, browser playback with byte ranges, the signed URLs
FreeSWITCH's mod_http_cache fetches, built-in melodies, tenant isolation, the in-use guard."""
from __future__ import annotations

import asyncio
import io
import subprocess
import time
import wave
from pathlib import Path

import httpx
import pytest

from jobs import context
from jobs.media import convert_now
from jobs.testing import TEST_REDIS_URL as JOBS_REDIS_URL
from jobs.testing import configure_for_tests, running_worker
from pult.passwords import set_hash_profile
from pult.settings import load_settings, set_settings
from storage.repos.base import Scope
from storage.repos.telephony import SoundFiles, TelSettings
from storage.repos.users import create_tenant_user
from tests.integration.harness import jobs_prefix  # noqa: F401  (a fixture)
from web.media.signing import BUCKET, sound_url
from web.testing import WebClient, web_stack

MB = 1024 * 1024


# --- audio made with the real tools ---------------------------------------------------------------
def sox_wav(seconds: float = 1.5, rate: int = 44100, channels: int = 2) -> bytes:
    out = subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", "-t", "wav", "-",
                          "synth", str(seconds), "sine", "440"], capture_output=True, check=True)
    return out.stdout


def lame_mp3(seconds: float = 2.0) -> bytes:
    return subprocess.run(["lame", "--quiet", "-b", "128", "-", "-"], input=sox_wav(seconds),
                          capture_output=True, check=True).stdout


def wav_params(data: bytes) -> tuple[int, int, int, float]:
    with wave.open(io.BytesIO(data)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth() * 8, w.getnframes() / w.getframerate()


def soxi(data: bytes, tmp: Path, ext: str) -> dict[str, str]:
    path = tmp / f"probe.{ext}"
    path.write_bytes(data)
    return {k: subprocess.run(["soxi", f"-{k}", str(path)], capture_output=True, text=True, check=True).stdout.strip()
            for k in ("r", "c", "t", "D")}


# --- environment ---------------------------------------------------------------------------------
@pytest.fixture
def settings(tmp_path, monkeypatch, jobs_prefix):
    """Loopback settings whose Redis is the jobs' test database (jobs queue to the test prefix)."""
    monkeypatch.delenv("MONGO_URL", raising=False)
    s = load_settings(data_dir=tmp_path / "data", http_port=8080, outbound_port=0, redis_url=JOBS_REDIS_URL,
                      secret_key="sound-test-secret", log_level="WARNING")
    set_settings(s)
    configure_for_tests(s, jobs_prefix)
    yield s
    set_settings(None)


@pytest.fixture
async def web(settings, store):
    set_hash_profile("cheapest")
    try:
        await create_tenant_user(store, 101, "anna", "tenant-pass-1", language="en")
        await create_tenant_user(store, 202, "boris", "tenant-pass-2", language="ru")
        await create_tenant_user(store, 101, "emma", "tenant-pass-3", language="en", role="employee")
    finally:
        set_hash_profile("default")
    async with web_stack(settings, store) as (ctx, url):
        async with WebClient(url) as a, WebClient(url) as b:
            await a.login("101/anna", "tenant-pass-1")
            await b.login("202/boris", "tenant-pass-2")
            yield url, a, b


@pytest.fixture
def worker(settings, store):
    """A real embedded worker on the media queue, using this test's store on this test's loop."""
    with running_worker(settings, store=store, loop=asyncio.get_event_loop(), queues="media",
                        concurrency=2) as handle:
        yield handle


async def upload(c: WebClient, data: bytes, name: str, filename: str = "", description: str = "") -> httpx.Response:
    return await c.api("POST", "/api/v1/telephony/sounds", params={"name": name, "filename": filename,
                                                          "description": description},
                       content=data, headers={"Content-Type": "application/octet-stream"})


async def wait_status(c: WebClient, sid: str, want: tuple[str, ...] = ("ready", "failed"),
                      timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        doc = (await c.get(f"/api/v1/telephony/sounds/{sid}")).json()
        if doc["status"] in want:
            return doc
        assert time.monotonic() < deadline, f"sound {sid} still {doc['status']}"
        await asyncio.sleep(0.1)


# --- upload, conversion, playback ----------------------------------------------------------------
async def _system_conversion_entries(store, sound_id):
    return [e for e in await store.db["audit_log"].find({"object.id": sound_id}).to_list(None)
            if e["operation"] == "convert"]


async def test_wav_named_mp3_is_converted_to_every_format(web, worker, tmp_path, store):
    url, a, _b = web
    source = sox_wav(1.5)
    r = await upload(a, source, "Greeting", filename="greeting.mp3", description="Hello")
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["format"] == "wav" and doc["sample_rate"] == 44100 and doc["channels"] == 2
    assert doc["duration"] == pytest.approx(1.5, abs=0.01) and doc["filename"] == "greeting.mp3"
    assert doc["status"] in ("uploaded", "converting", "ready")
    done = await wait_status(a, doc["id"])
    assert done["status"] == "ready" and done["error"] is None
    assert done["variants"] == ["mp3", "wav16k", "wav8k"]
    [entry] = await _system_conversion_entries(store, doc["id"])  # logged as "System"
    assert entry["actor"]["kind"] == "system" and entry["after"]["status"] == "ready"

    wav8 = await a.get(f"/api/v1/telephony/sounds/{doc['id']}/audio?format=wav8k")
    assert wav8.status_code == 200 and wav8.headers["content-type"] == "audio/wav"
    rate, ch, bits, secs = wav_params(wav8.content)
    assert (rate, ch, bits) == (8000, 1, 16) and secs == pytest.approx(1.5, abs=0.05)
    wav16 = await a.get(f"/api/v1/telephony/sounds/{doc['id']}/audio?format=wav16k")
    assert wav_params(wav16.content)[:3] == (16000, 1, 16)
    mp3 = await a.get(f"/api/v1/telephony/sounds/{doc['id']}/audio")  # auto: the browser MP3 once converted
    assert mp3.headers["content-type"] == "audio/mpeg"
    info = soxi(mp3.content, tmp_path, "mp3")
    assert info["t"] == "mp3" and info["c"] == "1" and info["r"] == "22050"
    original = await a.get(f"/api/v1/telephony/sounds/{doc['id']}/audio?format=original&download=1")
    assert original.content == source
    assert "attachment" in original.headers["content-disposition"] and "greeting.wav" in original.headers["content-disposition"]


async def test_mp3_named_wav_is_decoded_and_converted(web, worker, tmp_path):
    _url, a, _b = web
    data = lame_mp3(2.0)
    r = await upload(a, data, "Music", filename="music.wav")
    assert r.status_code == 201, r.text
    assert r.json()["format"] == "mp3" and r.json()["sample_rate"] == 44100
    done = await wait_status(a, r.json()["id"])
    assert done["status"] == "ready", done
    wav8 = await a.get(f"/api/v1/telephony/sounds/{done['id']}/audio?format=wav8k")
    rate, ch, bits, secs = wav_params(wav8.content)
    assert (rate, ch, bits) == (8000, 1, 16) and secs == pytest.approx(2.0, abs=0.1)


async def test_damaged_mp3_fails_with_a_reason_shown_in_the_cabinet(web, worker, store):
    _url, a, b = web
    good = lame_mp3(2.0)
    damaged = good[:1500] + bytes((i * 37 + 11) % 256 for i in range(60000))  # frames, then garbage
    r = await upload(a, damaged, "Broken", filename="broken.mp3")
    assert r.status_code == 201, r.text  # the first frames are real MPEG audio: accepted for conversion
    done = await wait_status(a, r.json()["id"])
    assert done["status"] == "failed" and done["variants"] == []
    [entry] = await _system_conversion_entries(store, done["id"])
    assert entry["actor"]["kind"] == "system" and entry["after"]["status"] == "failed"
    assert done["status_title"] == "Conversion failed"
    assert "damaged" in done["error"] and "could be decoded" in done["error"]
    page = await a.get("/telephony/sounds")
    assert page.status_code == 200 and done["error"].replace("'", "&#39;") in page.text
    # the original still plays; the converted forms are not there
    assert (await a.get(f"/api/v1/telephony/sounds/{done['id']}/audio")).headers["content-type"] == "audio/mpeg"
    assert (await a.get(f"/api/v1/telephony/sounds/{done['id']}/audio?format=wav8k")).status_code == 409


@pytest.mark.parametrize("body,code,text", [
    (b"just some text, not audio\n" * 40, "sound.format", "neither WAV (PCM) nor MP3"),
    (b"", "sound.empty", "The file is empty"),
])
async def test_content_check_refuses_with_a_specific_message(web, body, code, text):
    _url, a, _b = web
    r = await upload(a, body, "Fake", filename="fake.wav")
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == code and text in err["message"] and err["fields"]["file"] == err["message"]
    assert (await a.get("/api/v1/telephony/sounds")).json()["own_count"] == 0


async def test_non_pcm_wav_and_russian_messages(web):
    _url, _a, b = web
    alaw = subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-e", "a-law", "-t", "wav", "-", "synth", "0.5",
                           "sine", "300"], capture_output=True, check=True).stdout
    r = await upload(b, alaw, "Алав", filename="alaw.wav")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "sound.wav_codec"
    assert "не в формате PCM" in r.json()["error"]["message"]
    r = await upload(b, b"x" * 10, "", filename="x.wav")
    assert r.status_code == 422 and r.json()["error"]["fields"]["name"] == "Укажите название"


async def raw_upload(url: str, client, headers: str):
    """A sound upload of the signed-in ``client`` over a raw connection: the request head with
    ``headers`` (CRLF-terminated lines) is written, the body is the caller's; (reader, writer)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    cookies = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    writer.write((f"POST /api/v1/telephony/sounds?name=Big HTTP/1.1\r\nHost: {host}\r\nCookie: {cookies}\r\n"
                  f"X-XSRFToken: {client.xsrf_cookie()}\r\n{headers}\r\n").encode())
    return reader, writer


async def test_more_than_32_mb_is_refused_before_the_body_is_sent(web):
    url, _a, a = web  # Boris reads Russian
    reader, writer = await raw_upload(url, a, f"Content-Type: application/octet-stream\r\nAccept-Language: ru\r\n"
                                               f"Content-Length: {33 * MB}\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.read(4096), 5)  # not one byte of the body was sent
    writer.close()
    status_line, _, rest = head.decode("utf-8", "replace").partition("\r\n")
    assert " 413 " in status_line
    assert '"code": "too_large"' in rest and "больше 32 МБ" in rest


async def test_a_chunked_upload_is_cut_off_once_it_crosses_32_mb(web, settings):
    url, a, _b = web
    reader, writer = await raw_upload(url, a, "Accept-Language: en\r\nTransfer-Encoding: chunked\r\n")
    # no Content-Length to judge by: 32 MB and one byte, then wait (no final chunk is sent)
    chunk = b"RIFF" + b"\0" * (MB - 4)
    for _ in range(32):
        writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        await writer.drain()
    writer.write(b"1\r\nx\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.read(4096), 5)
    writer.close()
    assert b" 413 " in head.split(b"\r\n")[0] and b"larger than 32 MB" in head
    uploads = settings.data_dir / "tmp" / "uploads"
    assert not any(uploads.iterdir())  # the partial temporary file is gone


async def test_range_requests_and_validators_for_the_player(web, worker):
    _url, a, _b = web
    sid = (await upload(a, sox_wav(1.0, 8000, 1), "Tone")).json()["id"]
    await wait_status(a, sid)
    base = f"/api/v1/telephony/sounds/{sid}/audio?format=wav8k"
    full = await a.get(base)
    size = len(full.content)
    assert full.headers["accept-ranges"] == "bytes" and int(full.headers["content-length"]) == size
    part = await a.get(base, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == full.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{size}"
    tail = await a.get(base, headers={"Range": "bytes=1000-"})
    assert tail.status_code == 206 and tail.content == full.content[1000:]
    suffix = await a.get(base, headers={"Range": "bytes=-50"})
    assert suffix.content == full.content[-50:]
    assert (await a.get(base, headers={"Range": f"bytes={size + 10}-"})).status_code == 416
    same = await a.get(base, headers={"If-None-Match": full.headers["etag"]})
    assert same.status_code == 304 and same.content == b""
    head = await a.head(base)
    assert head.status_code == 200 and head.headers["content-length"] == str(size)


# --- FreeSWITCH fetch ----------------------------------------------------------------------------
async def test_freeswitch_fetches_by_signed_url_with_caching_headers(web, worker, settings):
    url, a, _b = web
    sid = (await upload(a, lame_mp3(1.0), "Hold")).json()["id"]
    await wait_status(a, sid)
    link = sound_url(settings, 101, sid, base=url)
    assert link.startswith(f"{url}/fs/sounds/101/{sid}/") and link.endswith("/wav8k.wav") and "?" not in link
    assert sound_url(settings, 101, sid, base=url) == link  # stable: mod_http_cache keys by URL
    async with httpx.AsyncClient() as fs:  # no cookies, as FreeSWITCH
        r = await fs.get(link)
        assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
        assert "max-age=86400" in r.headers["cache-control"] and r.headers["etag"] and r.headers["last-modified"]
        assert wav_params(r.content)[:3] == (8000, 1, 16)
        again = await fs.get(link, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
        wide = await fs.get(sound_url(settings, 101, sid, "wav16k", base=url))
        assert wav_params(wide.content)[:3] == (16000, 1, 16)

        expired = sound_url(settings, 101, sid, base=url, now=time.time() - 3 * 24 * 3600)
        r = await fs.get(expired)
        assert r.status_code == 403 and r.json()["error"]["code"] == "url_expired"
        parts = link.split("/")
        sig = parts[-2]
        tampered = "/".join(parts[:-2] + [("0" if sig[0] != "0" else "1") + sig[1:], parts[-1]])
        assert (await fs.get(tampered)).json()["error"]["code"] == "bad_signature"
        later = "/".join(parts[:-3] + [str(int(parts[-3]) + BUCKET), sig, parts[-1]])
        assert (await fs.get(later)).status_code == 403  # the expiry is signed too
        other_pbx = link.replace("/fs/sounds/101/", "/fs/sounds/202/")
        assert (await fs.get(other_pbx)).status_code == 403


async def test_freeswitch_gets_503_until_converted_and_404_for_another_pbx(web, settings, store):
    url, a, _b = web
    sid = (await upload(a, sox_wav(0.5), "Later")).json()["id"]  # no worker: stays "uploaded"
    async with httpx.AsyncClient() as fs:
        r = await fs.get(sound_url(settings, 101, sid, base=url))
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        # a correctly signed URL for PBX 202 naming PBX 101's sound finds nothing
        assert (await fs.get(sound_url(settings, 202, sid, base=url))).status_code == 404


async def test_builtin_melodies_are_generated_and_served_to_everyone_read_only(web, settings, store, tmp_path):
    url, a, b = web
    listed = (await a.get("/api/v1/telephony/sounds")).json()["items"]
    builtin = {s["id"]: s for s in listed if s["builtin"]}
    assert {"builtin:abba", "builtin:sirtaki", "builtin:beethoven", "builtin:all_busy",
            "builtin:unavailable"} <= builtin.keys()
    # named in the cabinet's language: anna's is English, boris's Russian
    assert builtin["builtin:sirtaki"]["name"] == "Sirtaki" and builtin["builtin:sirtaki"]["download_url"] is None
    builtin_ru = {s["id"]: s for s in (await b.get("/api/v1/telephony/sounds")).json()["items"] if s["builtin"]}
    assert builtin_ru.keys() == builtin.keys() and builtin_ru["builtin:sirtaki"]["name"] == "Сиртаки"
    # and so are the built-ins' descriptions (stored as English message ids)
    assert builtin["builtin:sirtaki"]["description"] == "Queue hold music (default, looped)"
    assert builtin_ru["builtin:sirtaki"]["description"] == "Музыка ожидания в очереди (по умолчанию, по кругу)"

    mp3 = await b.get("/api/v1/telephony/sounds/builtin:beethoven/audio")
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    assert float(soxi(mp3.content, tmp_path, "mp3")["D"]) > 5  # a real tune, not a blip
    async with httpx.AsyncClient() as fs:
        r = await fs.get(sound_url(settings, 101, "builtin:all_busy", base=url))
        assert r.status_code == 200
        rate, ch, bits, secs = wav_params(r.content)
        assert (rate, ch, bits) == (8000, 1, 16) and secs > 2
    # generated once, stored as platform media
    doc = await SoundFiles(store.db, Scope.platform()).find_one({"_id": "builtin:all_busy"})
    assert set(doc["variants"]) == {"wav8k", "wav16k", "mp3"} and doc["media_owner"] == 0
    again = await SoundFiles(store.db, Scope.platform()).find_one({"_id": "builtin:all_busy"})
    assert again["variants"] == doc["variants"]

    assert (await a.api("DELETE", "/api/v1/telephony/sounds/builtin:abba")).status_code == 409
    r = await a.api("PATCH", "/api/v1/telephony/sounds/builtin:abba", json={"description": "mine"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "builtin"
    assert (await a.get("/api/v1/telephony/sounds/builtin:abba/audio?download=1")).status_code == 409


# --- isolation, rights, in-use guard -------------------------------------------------------------
async def test_another_pbx_cannot_see_play_change_or_delete(web):
    _url, a, b = web
    sid = (await upload(a, sox_wav(0.3), "Anna-secret-sound")).json()["id"]
    for method, path in [("GET", f"/api/v1/telephony/sounds/{sid}"), ("GET", f"/api/v1/telephony/sounds/{sid}/audio"),
                         ("PATCH", f"/api/v1/telephony/sounds/{sid}"), ("DELETE", f"/api/v1/telephony/sounds/{sid}"),
                         ("POST", f"/api/v1/telephony/sounds/{sid}/convert")]:
        r = await b.api(method, path, json={"name": "hacked"} if method == "PATCH" else None)
        assert r.status_code == 404, (method, path, r.status_code)
        assert r.json()["error"]["code"] == "not_found"
    for path in (f"/telephony/sounds/{sid}/delete", f"/telephony/sounds/{sid}"):
        assert (await b.post_form(path, {"name": "hacked"})).status_code == 404
    assert "Anna-secret-sound" not in (await b.get("/api/v1/telephony/sounds")).text
    assert "Anna-secret-sound" not in (await b.get("/telephony/sounds")).text
    assert (await a.get(f"/api/v1/telephony/sounds/{sid}")).json()["name"] == "Anna-secret-sound"


async def test_an_employee_without_the_sounds_right_is_refused(web):
    url, _a, _b = web
    async with WebClient(url) as e:
        await e.login("101/emma", "tenant-pass-3")
        assert (await e.get("/api/v1/telephony/sounds")).status_code == 403
        assert (await upload(e, sox_wav(0.2), "Nope")).status_code == 403
        assert (await e.get("/telephony/sounds")).status_code == 403


async def test_a_file_in_use_cannot_be_deleted_and_the_page_names_the_users(web, store):
    _url, a, _b = web
    sid = (await upload(a, sox_wav(0.3), "Hold music")).json()["id"]
    await TelSettings(store.db, Scope.pbx(101)).update_one(
        {"_id": 101}, {"$set": {"call_handling.queue.hold_sound": sid}}, upsert=True)
    r = await a.api("DELETE", f"/api/v1/telephony/sounds/{sid}")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "in_use" and "cannot be deleted" in err["message"]
    assert err["references"][0]["field"] == "call_handling.queue.hold_sound"
    page = await a.post_form(f"/telephony/sounds/{sid}/delete", {})
    assert page.status_code == 409
    assert "cannot be deleted" in page.text and "call_handling.queue.hold_sound" in page.text
    assert (await a.get(f"/api/v1/telephony/sounds/{sid}")).status_code == 200

    await TelSettings(store.db, Scope.pbx(101)).update_one({"_id": 101}, {"$unset": {"call_handling.queue.hold_sound": ""}})
    doc = await SoundFiles(store.db, Scope.pbx(101)).find_one({"_id": sid})
    r = await a.post_form(f"/telephony/sounds/{sid}/delete", {})
    assert r.status_code == 302 and r.headers["location"] == "/telephony/sounds?done=deleted"
    assert (await a.get(f"/api/v1/telephony/sounds/{sid}")).status_code == 404
    assert await store.db["media_files"].find_one({"_id": doc["media_id"]}) is None


async def test_rename_and_describe_from_the_api_and_the_page(web):
    _url, a, _b = web
    sid = (await upload(a, sox_wav(0.3), "Old")).json()["id"]
    r = await a.api("PATCH", f"/api/v1/telephony/sounds/{sid}", json={"description": "Morning greeting"})
    assert r.status_code == 200 and r.json()["name"] == "Old" and r.json()["description"] == "Morning greeting"
    r = await a.post_form(f"/telephony/sounds/{sid}", {"name": "New", "description": "Evening"})
    assert r.status_code == 302
    doc = (await a.get(f"/api/v1/telephony/sounds/{sid}")).json()
    assert (doc["name"], doc["description"]) == ("New", "Evening")
    r = await a.post_form(f"/telephony/sounds/{sid}", {"name": " ", "description": ""})
    assert r.status_code == 422 and "Enter a name" in r.text


async def test_conversion_is_idempotent_and_leaves_no_temporary_files(web, store, tmp_path):
    _url, a, _b = web
    sid = (await upload(a, sox_wav(0.5), "Twice")).json()["id"]
    context.bind_store(store, asyncio.get_running_loop())
    work = tmp_path / "work"
    work.mkdir()
    try:
        loop = asyncio.get_running_loop()
        first, second = await asyncio.gather(
            loop.run_in_executor(None, lambda: convert_now(101, sid, tmp_root=str(work))),
            loop.run_in_executor(None, lambda: convert_now(101, sid, tmp_root=str(work))))
        statuses = sorted([first["status"], second["status"]])
        assert statuses in (["ready", "skipped"], ["ready", "ready"])
        third = await loop.run_in_executor(None, lambda: convert_now(101, sid, tmp_root=str(work)))
        assert third["status"] == "skipped"
        gone = await loop.run_in_executor(None, lambda: convert_now(101, "0123456789abcdef01234567"))
        assert gone["status"] == "gone"
    finally:
        context.unbind_store()
    assert list(work.iterdir()) == []
    doc = await SoundFiles(store.db, Scope.pbx(101)).find_one({"_id": sid})
    # exactly one set of converted files is stored, whichever run won
    blobs = await store.db["media_files"].count_documents({"owner_id": 101})
    assert doc["status"] == "ready" and blobs == 1 + 3


async def test_openapi_documents_the_sound_endpoints(web):
    _url, a, _b = web
    spec = (await a.get("/api/v1/openapi.json")).json()
    assert {"/api/v1/telephony/sounds", "/api/v1/telephony/sounds/{sound_id}", "/api/v1/telephony/sounds/{sound_id}/audio"} <= spec["paths"].keys()
    assert "413" in spec["paths"]["/api/v1/telephony/sounds"]["post"]["responses"]


async def test_the_cabinet_form_upload_carries_the_description_in_the_body(web, settings):
    """What the cabinet sends (multipart/form-data: name, description, filename, then the file):
    a description of any length travels in the body; over 500 characters it gets the limit
    message (not a failed upload), and nothing is stored or left behind."""
    _url, a, _b = web
    source = sox_wav(0.5, rate=8000, channels=1)
    fields = {"name": "Greeting", "description": "Привет " * 3, "filename": "hello.wav"}
    r = await a.api("POST", "/api/v1/telephony/sounds", data=fields,
                    files={"file": ("hello.wav", source, "audio/wav")})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["name"], doc["description"], doc["size"]) == ("Greeting", "Привет Привет Привет", len(source))
    original = await a.get(f"/api/v1/telephony/sounds/{doc['id']}/audio", params={"format": "original"})
    assert original.content == source
    for long in ("д" * 501, "x" * 5000, "y" * 200_000):
        r = await a.api("POST", "/api/v1/telephony/sounds", data={**fields, "name": "Long", "description": long},
                        files={"file": ("hello.wav", source, "audio/wav")})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["fields"] == {"description": "Text is longer than 500 characters"}
    r = await a.api("POST", "/api/v1/telephony/sounds", content=b"--xyz\r\nnot a form at all",
                    headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert r.status_code == 422 and r.json()["error"]["code"] in ("sound.form", "sound.empty"), r.text
    listed = (await a.get("/api/v1/telephony/sounds")).json()
    assert listed["own_count"] == 1
    assert not any((settings.data_dir / "tmp" / "uploads").iterdir())

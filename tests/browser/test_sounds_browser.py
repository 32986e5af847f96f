"""The «Audio files» page in a real headless Chromium: upload with the progress bar (the file set
on the input through DevTools), conversion by a real worker, the <audio> player loading the
converted MP3 over Range requests, the built-in melodies, and a refused delete naming what uses
the file — with no console errors or CSP violations."""
from __future__ import annotations

import asyncio
import subprocess

import pytest

from jobs.testing import running_worker
from storage.repos.base import Scope
from storage.repos.telephony import TelSettings
from storage.repos.users import create_tenant_user
from web.testing import web_stack

from .harness import BROWSER_TEST, audio_duration, cheap_hashing, jobs_settings, sign_in, wait_js

pytestmark = BROWSER_TEST


@pytest.fixture
def settings(tmp_path, monkeypatch):
    yield from jobs_settings(tmp_path, monkeypatch)


async def test_upload_convert_play_and_refused_delete(settings, store, browser, tmp_path):
    with cheap_hashing():
        await create_tenant_user(store, 101, "anna", "tenant-pass-1", display_name="Anna", language="en")
    source = tmp_path / "greeting.mp3"  # a WAV named .mp3: the content decides
    subprocess.run(["sox", "-n", "-r", "22050", "-c", "1", "-b", "16", str(source.with_suffix(".wav")), "synth", "2",
                    "sine", "523"], check=True)
    source.write_bytes(source.with_suffix(".wav").read_bytes())

    with running_worker(settings, store=store, loop=asyncio.get_running_loop(), queues="media"):
        async with web_stack(settings, store) as (_ctx, url):
            b = browser
            await sign_in(b, url, "101/anna")
            await b.goto(f"{url}/telephony/sounds")
            assert await b.eval("document.querySelector('.sidebar a.active').getAttribute('href')") == "/telephony/sounds"
            text = await b.eval("document.body.innerText")
            assert "Added by me" in text and "No files yet" in text and "Sirtaki" in text and "Сиртаки" not in text  # English cabinet
            assert await b.eval("document.querySelectorAll('#builtin-sounds audio').length") >= 5

            # choose the file the way a user does, then upload with the form's button
            doc = await b.send("DOM.getDocument")
            node = await b.send("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector="#sound-file")
            await b.send("DOM.setFileInputFiles", nodeId=node["nodeId"], files=[str(source)])
            await b.eval("document.getElementById('sound-file').dispatchEvent(new Event('change')); true")
            assert await b.eval("document.getElementById('sound-name').value") == "greeting"
            await b.eval("document.getElementById('sound-description').value='Morning'; "
                         "document.getElementById('upload-button').click(); true")
            # ready on a page that stays (the poll marks the row ready, then reloads the page)
            await wait_js(b, "document.readyState === 'complete' && !document.documentElement.dataset.reloading"
                             " && !!document.querySelector('#own-sounds li.sound[data-status=\"ready\"]')")
            await b.screenshot(tmp_path / "sounds.png")
            row = "#own-sounds li.sound"
            assert "Morning" in await b.eval(f"document.querySelector('{row}').innerText")
            assert "WAV" in await b.eval(f"document.querySelector('{row}').innerText")
            src = await b.eval(f"document.querySelector('{row} audio').getAttribute('src')")
            assert src.startswith("/api/v1/telephony/sounds/") and src.endswith("/audio")
            # the player really loads the converted audio (metadata over a Range request)
            duration = await audio_duration(b, row)
            assert duration == pytest.approx(2.0, abs=0.2)

            # put the file to use, then try to delete it: refused, the page says by what
            sid = await b.eval(f"document.querySelector('{row}').dataset.sound")
            await TelSettings(store.db, Scope.pbx(101)).update_one(
                {"_id": 101}, {"$set": {"call_handling.queue.hold_sound": sid}}, upsert=True)
            await b.submit_and_wait("window.confirm = function () { return true; };"
                                    f"document.querySelector('{row} form[action$=\"/delete\"] button').click(); true")
            refused = await b.eval("document.querySelector('.refused').innerText")
            assert "cannot be deleted" in refused and "call_handling.queue.hold_sound" in refused
            assert await b.eval("document.querySelectorAll('#own-sounds li.sound').length") == 1
    # (the refused delete answers 409 on purpose; Chromium logs any non-2xx page load)
    assert [p for p in b.console_problems() if "409 (Conflict)" not in p] == []

"""Recording a prompt in the browser (D §4.6.2) in a real headless Chromium with its fake
microphone: the WAV encoder's bytes, the microphone refused by the browser, a ~2 s take with a
running timer, its preview, «Record again», the automatic stop at the limit, and the upload of the
take through the ordinary API — content check, conversion by a real worker, playable in the list."""
from __future__ import annotations

import asyncio
import base64

import pytest

from esl_control.model.sounds.schemas import probe_wav
from jobs.testing import running_worker
from storage.repos.users import create_tenant_user
from web.testing import web_stack

from .cdp import Browser
from .harness import BROWSER_TEST, audio_duration, cheap_hashing, jobs_settings, sign_in, wait_js

pytestmark = BROWSER_TEST

# a fake microphone that grants itself, and an AudioContext that runs without a real user gesture
MEDIA_FLAGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
               "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    yield from jobs_settings(tmp_path, monkeypatch)


@pytest.fixture
async def browser():
    b = await Browser(extra_flags=MEDIA_FLAGS).start()
    yield b
    await b.close()


def state(b: Browser):
    return b.eval("document.getElementById('record-panel').dataset.state")


async def test_record_preview_upload_and_play(settings, store, browser, tmp_path):
    with cheap_hashing():
        await create_tenant_user(store, 101, "anna", "tenant-pass-1", display_name="Anna", language="en")
    b = browser
    with running_worker(settings, store=store, loop=asyncio.get_running_loop(), queues="media"):
        async with web_stack(settings, store) as (_ctx, url):
            await sign_in(b, url, "101/anna")
            await b.goto(f"{url}/telephony/sounds")
            panel = await b.eval("(function (p) { return {hidden: p.hidden, text: p.innerText}; })"
                                 "(document.getElementById('record-panel'))")
            assert panel["hidden"] is False  # shown by the script: it loaded under the CSP
            assert "Record with a microphone" in panel["text"] and "Up to 2:00" in panel["text"]
            assert "0:00 / 2:00" in panel["text"]

            # the encoder alone: known samples → exact header and 16-bit values (clipped at ±1)
            wav_b64 = await b.eval("""(function () {
                var bytes = new Uint8Array(PultWav.encode(new Float32Array([0, 0.5, -0.5, 1, -1, 2, -3]), 16000));
                var s = ''; bytes.forEach(function (x) { s += String.fromCharCode(x); });
                return btoa(s); })()""")
            wav = base64.b64decode(wav_b64)
            assert wav[:44] == (b"RIFF" + (36 + 14).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
                                + (1).to_bytes(2, "little") + (1).to_bytes(2, "little")
                                + (16000).to_bytes(4, "little") + (32000).to_bytes(4, "little")
                                + (2).to_bytes(2, "little") + (16).to_bytes(2, "little")
                                + b"data" + (14).to_bytes(4, "little"))
            samples = [int.from_bytes(wav[i:i + 2], "little", signed=True) for i in range(44, len(wav), 2)]
            assert samples == [0, 16384, -16384, 32767, -32768, 32767, -32768]
            info = probe_wav(wav)  # the server's own content check
            assert (info.format, info.sample_rate, info.channels, info.bits) == ("wav", 16000, 1, 16)

            # record about 2 s from the fake microphone; the timer runs while recording
            await b.eval("document.getElementById('record-start').click(); true")
            await wait_js(b, "parseFloat(document.getElementById('record-panel').dataset.seconds) >= 1.0", 10)
            assert await state(b) == "recording"
            shown = await b.eval("[document.getElementById('record-panel').dataset.seconds,"
                                 " document.getElementById('record-timer').textContent]")
            assert shown[1] == f"0:{int(float(shown[0])):02d} / 2:00"
            await wait_js(b, "parseFloat(document.getElementById('record-panel').dataset.seconds) >= 2.0", 10)
            await b.eval("document.getElementById('record-stop').click(); true")
            await wait_js(b, "document.getElementById('record-panel').dataset.state === 'recorded'", 10)
            # the preview plays the take from the browser (a blob: URL the page's CSP allows)
            preview = await b.eval("""new Promise(function (resolve) {
                var a = document.getElementById('record-preview');
                function done() { resolve({duration: a.duration, src: a.src}); }
                if (a.readyState >= 1) { done(); } else {
                  a.addEventListener('loadedmetadata', done);
                  a.addEventListener('error', function () { resolve({duration: -1, src: a.src}); });
                }
            })""")
            assert preview["src"].startswith("blob:")
            recorded = float(await b.eval("document.getElementById('record-panel').dataset.seconds"))
            assert recorded >= 2.0 and preview["duration"] == pytest.approx(recorded, abs=0.05)
            rate = int(await b.eval("document.getElementById('record-panel').dataset.rate"))
            size = int(await b.eval("document.getElementById('record-panel').dataset.bytes"))
            assert rate == 16000 and size == 44 + 2 * round(preview["duration"] * rate)
            await b.screenshot(tmp_path / "recorded.png")

            # upload it: a name is required, then the common progress bar and conversion
            await b.eval("document.getElementById('record-name').value = ''; "
                         "document.getElementById('record-save').click(); true")
            assert await b.eval("document.getElementById('record-error').textContent") == "Enter a name."
            await b.eval("document.getElementById('record-name').value = 'Recorded greeting';"
                         "document.getElementById('record-description').value = 'Said at the door';"
                         "document.getElementById('record-save').click(); true")
            # ready on a page that stays (the poll marks the row ready, then reloads the page)
            await wait_js(b, "document.readyState === 'complete' && !document.documentElement.dataset.reloading"
                             " && !!document.querySelector('#own-sounds li.sound[data-status=\"ready\"]')", 40)
            row = "#own-sounds li.sound"
            text = await b.eval(f"document.querySelector('{row}').innerText")
            assert "Recorded greeting" in text and "Said at the door" in text and "16000 Hz" in text
            assert "recording.wav" in text
            duration = await audio_duration(b, row)
            assert duration == pytest.approx(preview["duration"], abs=0.2)
            await b.screenshot(tmp_path / "uploaded.png")

            # the automatic stop at the limit (shortened here; the page states 2:00) ...
            await b.eval("var p = document.getElementById('record-panel'); p.dataset.maxSeconds = '1';"
                         "document.getElementById('record-start').click(); true")
            await wait_js(b, "document.getElementById('record-panel').dataset.state === 'recorded'", 10)
            assert float(await b.eval("document.getElementById('record-panel').dataset.seconds")) == 1.0
            assert "stopped at the" in await b.eval("document.getElementById('record-info').textContent")
            # ... and «Record again» throws the take away
            await b.eval("document.getElementById('record-again').click(); true")
            assert await state(b) == "idle"
            assert await b.eval("document.getElementById('record-preview').hasAttribute('src')") is False
            assert await b.eval("document.getElementById('record-review').hidden") is True
            assert await b.eval("document.querySelectorAll('#own-sounds li.sound').length") == 1
    assert b.console_problems() == []


@pytest.fixture
async def denying_browser():
    """A browser whose (fake) permission prompt answers «Block»."""
    b = await Browser(extra_flags=["--use-fake-ui-for-media-stream=deny", "--use-fake-device-for-media-stream",
                                   "--autoplay-policy=no-user-gesture-required"]).start()
    yield b
    await b.close()


async def test_microphone_denied_says_so_in_russian(settings, store, denying_browser):
    with cheap_hashing():
        await create_tenant_user(store, 101, "anna", "tenant-pass-1", display_name="Anna", language="ru")
    b = denying_browser
    async with web_stack(settings, store) as (_ctx, url):
        await sign_in(b, url, "101/anna")
        await b.goto(f"{url}/telephony/sounds")
        assert "Записать с микрофона" in await b.eval("document.getElementById('record-panel').innerText")
        await b.eval("document.getElementById('record-start').click(); true")
        await wait_js(b, "!document.getElementById('record-error').hidden", 10)
        assert await state(b) == "idle"
        message = await b.eval("document.getElementById('record-error').textContent")
        assert "Браузеру не разрешено использовать микрофон" in message
        assert await b.eval("document.getElementById('record-start').disabled") is False

"""The bodies the OpenAPI document now states (issue 9 item 5, the operations that were exempt
from the property-based run's positive_data_acceptance): each statement pinned by requests made
as the document says, and the refusals it announces.

- The sound upload: a multipart form (name, description, filename, file) or the raw file
  (audio/wav, audio/mpeg) with the fields in the query, the name then required
  (``x-pult-raw-body-query``).
"""
from __future__ import annotations

import io
import wave

import pytest
import pytest_asyncio

from tests.integration.tel_api_harness import tel_stack

pytestmark = pytest.mark.asyncio(loop_scope="module")
SOUNDS = "/api/v1/telephony/sounds"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    async with tel_stack() as stack:
        yield stack


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def doc(st):
    async with st.client("101/admin") as c:
        r = await c.get("/api/v1/openapi.json")
        assert r.status_code == 200
        return r.json()


def _wav(seconds: float = 0.2, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(int(rate * seconds) * 2))
    return out.getvalue()


async def test_the_sound_upload_is_documented_as_a_form_or_the_raw_file(st, doc):
    op = doc["paths"][SOUNDS]["post"]
    content = op["requestBody"]["content"]
    assert set(content) == {"multipart/form-data", "audio/wav", "audio/mpeg"}
    form = content["multipart/form-data"]
    assert set(form["schema"]["required"]) == {"name", "file"}
    assert form["schema"]["properties"]["file"]["format"] == "binary"
    assert content["audio/wav"]["schema"]["format"] == "binary"
    assert op["x-pult-raw-body-query"] == ["name"]
    assert not next(p for p in op["parameters"] if p["name"] == "name")["required"]  # a form carries it
    async with st.client("101/admin") as c:
        # the form, as documented (and as the cabinet sends it)
        r = await c.api("POST", SOUNDS, data={"name": "Greeting form", "description": "From the form"},
                        files={"file": ("hello.wav", _wav(), "audio/wav")})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "Greeting form" and r.json()["format"] == "wav"
        # the raw file with the name in the query
        r = await c.api("POST", SOUNDS, params={"name": "Greeting raw", "filename": "raw.wav"},
                        content=_wav(), headers={"Content-Type": "audio/wav"})
        assert r.status_code == 201, r.text
        assert r.json()["name"] == "Greeting raw" and r.json()["filename"] == "raw.wav"
        # a raw file without the name: what x-pult-raw-body-query announces
        r = await c.api("POST", SOUNDS, content=_wav(), headers={"Content-Type": "audio/wav"})
        assert r.status_code == 422 and "name" in r.json()["error"]["fields"]
        # the content decides, not the type: text sent as audio/mpeg is refused
        r = await c.api("POST", SOUNDS, params={"name": "Not audio"}, content=b"hello " * 100,
                        headers={"Content-Type": "audio/mpeg"})
        assert r.status_code == 422 and "file" in r.json()["error"]["fields"]
        names = {s["name"] for s in (await c.get(SOUNDS)).json()["items"]}
        assert {"Greeting form", "Greeting raw"} <= names and "Not audio" not in names

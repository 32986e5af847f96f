"""Signed FreeSWITCH media URLs (web.media.signing) and the byte-range parser (web.media.serve)."""
from __future__ import annotations

import time

import pytest

from pult.settings import load_settings
from web.media.serve import parse_range
from web.media.signing import BUCKET, DEFAULT_TTL, expiry, sound_url, verify


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path, secret_key="unit-secret", base_url="https://pult.example:8443/")


def parts(url: str) -> dict:
    tail = url.split("/fs/sounds/", 1)[1].split("/")
    return {"pbx": int(tail[0]), "sound": tail[1], "expires": int(tail[2]), "sig": tail[3], "file": tail[4]}


def test_url_shape_has_everything_in_the_path_and_ends_with_the_wav_extension(settings):
    url = sound_url(settings, 101, "64f0c0ffee0123456789abcd")
    assert url.startswith("https://pult.example:8443/fs/sounds/101/64f0c0ffee0123456789abcd/")
    assert url.endswith("/wav8k.wav") and "?" not in url  # mod_http_cache takes the format from the end
    p = parts(url)
    assert len(p["sig"]) == 32 and verify(settings, 101, p["sound"], "wav8k", p["expires"], p["sig"]).ok
    assert sound_url(settings, 101, "builtin:abba", "wav16k").split("/")[-4] == "builtin%3Aabba"
    assert sound_url(settings, 101, "x", base="http://10.0.0.5:8080").startswith("http://10.0.0.5:8080/fs/sounds/")


def test_urls_are_stable_within_a_bucket_and_valid_long_enough(settings):
    t0 = (int(time.time()) // BUCKET) * BUCKET + 10
    a = sound_url(settings, 101, "s1", now=t0)
    b = sound_url(settings, 101, "s1", now=t0 + BUCKET - 20)
    assert a == b  # FreeSWITCH's cache keeps hitting the same URL
    assert sound_url(settings, 101, "s1", now=t0 + BUCKET) != a
    exp = parts(a)["expires"]
    assert DEFAULT_TTL <= exp - t0 <= DEFAULT_TTL + BUCKET
    assert exp == expiry(t0)


def test_verify_refuses_expired_tampered_and_foreign_urls(settings):
    p = parts(sound_url(settings, 101, "s1", now=1_000_000))
    assert verify(settings, 101, "s1", "wav8k", p["expires"], p["sig"], now=p["expires"] - 1).ok
    assert verify(settings, 101, "s1", "wav8k", p["expires"], p["sig"], now=p["expires"] + 1).reason == "expired"
    assert verify(settings, 101, "s1", "wav8k", p["expires"] + 1, p["sig"], now=0).reason == "signature"
    assert verify(settings, 202, "s1", "wav8k", p["expires"], p["sig"], now=0).reason == "signature"
    assert verify(settings, 101, "s2", "wav8k", p["expires"], p["sig"], now=0).reason == "signature"
    assert verify(settings, 101, "s1", "wav16k", p["expires"], p["sig"], now=0).reason == "signature"
    assert verify(settings, 101, "s1", "mp3", p["expires"], p["sig"], now=0).reason == "format"
    other = load_settings(data_dir=settings.data_dir, secret_key="another-secret")
    assert verify(other, 101, "s1", "wav8k", p["expires"], p["sig"], now=0).reason == "signature"


def test_bad_arguments_are_refused(settings):
    with pytest.raises(ValueError, match="fmt"):
        sound_url(settings, 101, "s1", "mp3")
    with pytest.raises(ValueError, match="pbx_id"):
        sound_url(settings, 0, "s1")
    with pytest.raises(ValueError, match="sound_id"):
        sound_url(settings, 101, "")


@pytest.mark.parametrize("header,size,want", [
    (None, 100, None), ("bytes=0-9", 100, (0, 9)), ("bytes=90-", 100, (90, 99)), ("bytes=-10", 100, (90, 99)),
    ("bytes=50-500", 100, (50, 99)), ("bytes=-500", 100, (0, 99)), ("bytes=100-", 100, "unsatisfiable"),
    ("bytes=200-300", 100, "unsatisfiable"), ("bytes=-0", 100, "unsatisfiable"), ("bytes=0-1,5-6", 100, None),
    ("items=0-1", 100, None), ("bytes=5-1", 100, None), ("bytes=x-", 100, None),
])
def test_range_header_parsing(header, size, want):
    assert parse_range(header, size) == want

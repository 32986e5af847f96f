"""Conversion with the real sox and lame (jobs.transcode), the built-in recipes
(jobs.builtin_media) and the content check of a streamed upload's head (sounds schemas)."""
from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from esl_control.model.sounds.schemas import HEAD_BYTES, head_needed, probe_audio
from jobs import transcode
from jobs.builtin_media import BUILTIN_IDS, RECIPES, note_hz, render
from jobs.transcode import ConversionError, convert, decode


def make_wav(tmp: Path, seconds: float = 1.0, rate: int = 44100, channels: int = 2) -> Path:
    out = tmp / "in.wav"
    subprocess.run(["sox", "-n", "-r", str(rate), "-c", str(channels), "-b", "16", str(out), "synth", str(seconds),
                    "sine", "440"], check=True, capture_output=True)
    return out


def make_mp3(tmp: Path, seconds: float = 1.0) -> Path:
    out = tmp / "in.mp3"
    subprocess.run(["lame", "--quiet", "-b", "128", str(make_wav(tmp, seconds)), str(out)], check=True)
    return out


def params(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path)) as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth() * 8, w.getnframes() / w.getframerate()


def test_wav_becomes_every_variant(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    files = convert(make_wav(tmp_path, 1.2), "wav", out, expected=1.2)
    assert params(files["wav8k"])[:3] == (8000, 1, 16) and params(files["wav8k"])[3] == pytest.approx(1.2, abs=0.01)
    assert params(files["wav16k"])[:3] == (16000, 1, 16)
    soxi = {k: subprocess.run(["soxi", f"-{k}", str(files["mp3"])], capture_output=True, text=True,
                              check=True).stdout.strip() for k in ("t", "c", "r")}
    assert soxi == {"t": "mp3", "c": "1", "r": "22050"}
    assert sorted(p.name for p in out.iterdir()) == ["browser.mp3", "wav16k.wav", "wav8k.wav"]  # no leftovers


def test_mp3_is_decoded_by_content_not_name(tmp_path):
    src = make_mp3(tmp_path, 1.5)
    renamed = src.rename(tmp_path / "actually-mp3.wav")
    secs = decode(renamed, "mp3", tmp_path / "o.wav", 8000, expected=1.5)
    assert secs == pytest.approx(1.5, abs=0.1) and params(tmp_path / "o.wav")[:3] == (8000, 1, 16)


def test_damaged_mp3_is_refused_with_a_reason_in_both_languages(tmp_path):
    good = make_mp3(tmp_path, 2.0).read_bytes()
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(good[:1500] + bytes((i * 37 + 11) % 256 for i in range(60000)))
    with pytest.raises(ConversionError) as exc:
        decode(bad, "mp3", tmp_path / "o.wav", 8000, expected=3.8)
    assert exc.value.code == "media.damaged"
    assert "only" in exc.value.message("en") and "повреждён" in exc.value.message("ru")


def test_text_is_not_decodable_and_a_missing_tool_or_a_timeout_fails_cleanly(tmp_path, monkeypatch):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"hello, I am not audio\n" * 100)
    with pytest.raises(ConversionError) as exc:
        decode(junk, "wav", tmp_path / "o.wav", 8000)
    assert exc.value.code == "media.decode_failed" and exc.value.params["detail"]

    src = make_wav(tmp_path, 0.2)
    with pytest.raises(ConversionError) as exc:
        transcode.run_tool(["sleep", "5"], timeout=0.2)
    assert exc.value.code == "media.timeout"
    monkeypatch.setattr(transcode.shutil, "which", lambda name: None)
    with pytest.raises(ConversionError) as exc:
        decode(src, "wav", tmp_path / "o.wav", 8000)
    assert exc.value.code == "media.tool_missing" and exc.value.params["tool"] == "sox"


def test_every_builtin_has_a_recipe_that_renders_real_audio(tmp_path):
    assert set(BUILTIN_IDS) == set(RECIPES)
    assert note_hz("A4") == pytest.approx(440.0) and note_hz("E5") == pytest.approx(659.26, abs=0.01)
    lengths = {}
    for sid in ("builtin:abba", "builtin:sirtaki", "builtin:beethoven", "builtin:all_busy", "builtin:unavailable"):
        rate, ch, bits, secs = params(render(sid, tmp_path / f"{sid.split(':')[1]}.wav"))
        assert (rate, ch, bits) == (16000, 1, 16)
        lengths[sid] = secs
    assert all(s >= 2 for s in lengths.values()), lengths
    assert lengths["builtin:sirtaki"] > 5  # hold music, looped: more than a jingle


def test_content_check_of_a_head_uses_the_full_size():
    import io

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000 * 40)  # 40 s, 640 KB
    data = buf.getvalue()
    head = data[:HEAD_BYTES]
    assert probe_audio(head, len(data)).duration == pytest.approx(40.0)
    assert probe_audio(data).duration == pytest.approx(40.0)
    # an MP3 with a big ID3 tag (cover art) needs more than the default head
    tag_size = 300 * 1024
    size_bytes = bytes([(tag_size >> s) & 0x7F for s in (21, 14, 7, 0)])
    tagged = b"ID3\x03\x00\x00" + size_bytes
    assert head_needed(tagged) > tag_size and head_needed(b"RIFF") == HEAD_BYTES

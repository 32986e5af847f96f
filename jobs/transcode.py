"""Audio conversion with the Debian tools ``sox`` (with libsox-fmt-mp3) and ``lame``.

Used by the conversion job (:mod:`jobs.media`) and by the built-in melodies
(:mod:`jobs.builtin_media`). Plain synchronous functions over files in a work directory the caller
owns (and removes); every tool runs as a subprocess with a timeout, so a pathological file can
stop one job, never a worker.

What one source becomes (:data:`VARIANTS`):

- ``wav8k``  — WAV, 16-bit signed PCM, mono, 8 kHz: what FreeSWITCH plays on a narrow-band call
  without resampling (the default for ``playback``);
- ``wav16k`` — the same at 16 kHz, for wide-band (G.722/Opus) calls;
- ``mp3``    — mono MP3 (lame, 64 kbit/s CBR, 22.05 kHz) for listening in the browser.

Why the checks after decoding: sox exits 0 on a damaged MP3 (libmad reports "lost sync" as
warnings and decodes what it can), so a file is refused when nothing, or much less than its
frames promise, could be decoded. Failures are :class:`ConversionError` with a message code
(RU/EN texts below) that the cabinet shows next to the file.
"""
from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from esl_control.routing.errors import RuleError, _register
from pult.i18n import N_
from storage.media import file_chunks

#: seconds one sox/lame run may take (a 32 MB WAV converts in well under 10 s on one core)
TOOL_TIMEOUT = 120.0
#: below this share of the duration the upload check estimated, a decoded file counts as damaged
MIN_DECODED_SHARE = 0.5
_STDERR_KEEP = 300


@dataclass(frozen=True)
class Variant:
    """One converted form of a sound file."""

    key: str
    content_type: str
    ext: str
    rate: int
    purpose: str


VARIANTS: dict[str, Variant] = {
    "wav8k": Variant("wav8k", "audio/wav", "wav", 8000, "FreeSWITCH, narrow-band"),
    "wav16k": Variant("wav16k", "audio/wav", "wav", 16000, "FreeSWITCH, wide-band"),
    "mp3": Variant("mp3", "audio/mpeg", "mp3", 22050, "browser playback"),
}
FS_VARIANTS = ("wav8k", "wav16k")
MP3_BITRATE = 64

_register({
    'media.tool_missing': N_("The audio converter '{tool}' is not installed on the server"),
    'media.timeout': N_('Conversion took longer than {seconds} s and was stopped'),
    'media.decode_failed': N_('The file could not be decoded: {detail}'),
    'media.no_audio': N_('The file contains no audio that could be decoded'),
    'media.damaged': N_('The file is damaged: only {decoded} s of about {expected} s could be decoded'),
    'media.encode_failed': N_('The converted file could not be written: {detail}'),
})


class ConversionError(RuleError):
    """A source that cannot be converted (permanent: retrying will not help)."""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ConversionError("media.tool_missing", tool=name)
    return path


def _last_lines(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    # sox prefixes its messages with "sox FAIL formats:" etc.; keep the human part short
    out = "; ".join(lines[-2:])
    return out[:_STDERR_KEEP] or "no details"


def run_tool(args: list[str], timeout: float = TOOL_TIMEOUT) -> subprocess.CompletedProcess:
    """Run a converter; :class:`ConversionError` on timeout (the process is killed)."""
    try:
        return subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ConversionError("media.timeout", seconds=int(timeout)) from None


def wav_info(path: Path) -> tuple[int, int, int, int]:
    """(rate, channels, sample width in bytes, frames) of a PCM WAV file."""
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


def decode(src: Path, src_format: str, out: Path, rate: int, *, expected: float | None = None,
           timeout: float = TOOL_TIMEOUT) -> float:
    """Decode ``src`` (``wav`` or ``mp3``, as its content said) into 16-bit mono PCM WAV at
    ``rate``; returns the decoded duration in seconds.

    The input type is given explicitly (``-t``): the name of an upload means nothing.
    ``expected``: the duration the upload check estimated; far less decoded audio means a
    damaged file (:class:`ConversionError` ``media.damaged``).
    """
    if src_format not in ("wav", "mp3"):
        raise ValueError(f"unsupported source format {src_format!r}")
    proc = run_tool([_tool("sox"), "-V1", "-t", src_format, str(src), "-t", "wav", "-r", str(rate),
                     "-c", "1", "-b", "16", "-e", "signed-integer", str(out)], timeout)
    if proc.returncode != 0 or not out.exists():
        raise ConversionError("media.decode_failed", detail=_last_lines(proc.stderr))
    try:
        got_rate, channels, width, frames = wav_info(out)
    except (wave.Error, EOFError) as exc:
        raise ConversionError("media.decode_failed", detail=str(exc)) from None
    if (got_rate, channels, width) != (rate, 1, 2):  # sox did not do what it was asked
        raise ConversionError("media.encode_failed",
                              detail=f"got {got_rate} Hz, {channels} channel(s), {8 * width} bit")
    seconds = frames / rate
    if frames == 0:
        raise ConversionError("media.no_audio")
    if expected and expected > 0.5 and seconds < expected * MIN_DECODED_SHARE:
        raise ConversionError("media.damaged", decoded=f"{seconds:.1f}", expected=f"{expected:.1f}")
    return seconds


def resample(src: Path, out: Path, rate: int, timeout: float = TOOL_TIMEOUT) -> None:
    """16-bit mono PCM WAV → the same at another rate (sox's high-quality resampler)."""
    proc = run_tool([_tool("sox"), "-V1", str(src), "-r", str(rate), "-c", "1", "-b", "16",
                     "-e", "signed-integer", str(out)], timeout)
    if proc.returncode != 0 or not out.exists():
        raise ConversionError("media.encode_failed", detail=_last_lines(proc.stderr))


def encode_mp3(src: Path, out: Path, timeout: float = TOOL_TIMEOUT) -> None:
    """PCM WAV → mono CBR MP3 with lame (browser playback)."""
    proc = run_tool([_tool("lame"), "--quiet", "--noreplaygain", "-m", "m", "-b", str(MP3_BITRATE),
                     str(src), str(out)], timeout)
    if proc.returncode != 0 or not out.exists() or out.stat().st_size == 0:
        raise ConversionError("media.encode_failed", detail=_last_lines(proc.stderr))


def convert(src: Path, src_format: str, workdir: Path, *, expected: float | None = None,
            timeout: float = TOOL_TIMEOUT) -> dict[str, Path]:
    """Every variant of :data:`VARIANTS` from one source file, written into ``workdir``.

    Decoding happens once (into the 16 kHz master, which also proves the file is sound); the
    8 kHz and browser forms are made from the master.
    """
    workdir = Path(workdir)
    master = workdir / "wav16k.wav"
    decode(src, src_format, master, VARIANTS["wav16k"].rate, expected=expected, timeout=timeout)
    narrow = workdir / "wav8k.wav"
    resample(master, narrow, VARIANTS["wav8k"].rate, timeout)
    browser_src = workdir / "browser.wav"
    resample(master, browser_src, VARIANTS["mp3"].rate, timeout)
    mp3 = workdir / "browser.mp3"
    encode_mp3(browser_src, mp3, timeout)
    browser_src.unlink(missing_ok=True)
    return {"wav8k": narrow, "wav16k": master, "mp3": mp3}


# --- the converted files in the media store ---------------------------------------------------------
async def put_variants(media, owner, sound_id: str, files: dict[str, Path],
                       filename: Callable[[str, Variant], str]) -> dict[str, dict]:
    """Store the converted ``files`` (``{variant key: path}``) as ``owner``'s media files named
    ``filename(key, variant)``: ``{key: {id, size, sha256}}``. When one fails, those already
    stored are deleted again (nothing is left behind)."""
    stored: dict[str, dict] = {}
    try:
        for key, path in files.items():
            v = VARIANTS[key]
            fid = await media.put(owner, filename(key, v), file_chunks(path), v.content_type,
                                  {"kind": "sound", "sound_id": sound_id, "variant": key})
            info = await media.info(owner, fid)
            stored[key] = {"id": fid, "size": info.length, "sha256": info.sha256}
    except BaseException:
        await delete_variants(media, owner, stored)
        raise
    return stored


async def delete_variants(media, owner, variants: dict[str, dict]) -> None:
    """Delete the media files of ``variants`` (as :func:`put_variants` returns them)."""
    for item in variants.values():
        await media.delete(owner, item["id"])

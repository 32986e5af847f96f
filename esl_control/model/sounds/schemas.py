"""What an uploaded sound file really is, decided from its bytes (PRODUCT.md §3: "checked by
content, not extension"), and the metadata form.

- WAV: a RIFF/WAVE container with a ``fmt `` chunk whose format is PCM (1), or
  WAVE_FORMAT_EXTENSIBLE (0xFFFE) with a PCM sub-format, and a ``data`` chunk. Other WAV codecs
  (A-law, GSM, ADPCM…) are refused with a message saying so.
- MP3: an optional ID3v2 tag, then an MPEG audio Layer III frame header (11-bit sync, valid
  version, bitrate and sample rate); when the file is long enough, the next frame must follow
  where the first one's length says, so random bytes starting with 0xFF do not pass.

The file name plays no part: a WAV named ``.mp3`` is a WAV; a text file named ``.wav`` is refused.
The conversion for FreeSWITCH and the browser is the job ``jobs.media.convert_sound``.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Mapping

from esl_control.model.common import clean_mapping, clean_name, clean_text, norm_name
from esl_control.routing.errors import RuleError

MAX_BYTES = 32 * 1024 * 1024
HEAD_BYTES = 256 * 1024  # what the content check reads of a streamed upload
_PCM = 1
_EXTENSIBLE = 0xFFFE
_BITRATES = {  # kbit/s, Layer III, by MPEG version: 1 and 2/2.5
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass(frozen=True)
class AudioInfo:
    format: str            # "wav" | "mp3"
    sample_rate: int
    channels: int
    bits: int | None = None          # WAV sample size
    bitrate: int | None = None       # MP3 kbit/s of the first frame
    duration: float | None = None    # seconds (WAV exact; MP3 estimated from the first frame)


#: what a WAV header may claim (FreeSWITCH plays 8-48 kHz; studio files go up to 192 kHz)
WAV_MIN_RATE, WAV_MAX_RATE, WAV_MAX_CHANNELS = 8000, 192000, 8


def probe_wav(data: bytes, total: int | None = None) -> AudioInfo | None:
    """``AudioInfo`` for a RIFF/WAVE file; ``None`` if it is not one; RuleError if not PCM
    (``sound.wav_codec``) or if the header does not match the file (``sound.wav_header``).

    ``data`` may be just the head of the file (the upload stream keeps only its start in
    memory); ``total`` is then the whole size, so the duration is still right."""
    total = len(data) if total is None else total
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, fmt, data_size = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                return None
            fmt = struct.unpack_from("<HHIIHH", body, 0)
            if fmt[0] == _EXTENSIBLE and len(body) >= 26:
                fmt = (struct.unpack_from("<H", body, 24)[0],) + fmt[1:]
        elif cid == b"data":
            data_size = size
            data_room = total - pos - 8  # the bytes the file really has after the chunk header
            break
        pos += 8 + size + (size & 1)
    if fmt is None or data_size is None:
        return None
    audio_format, channels, rate, byte_rate, align, bits = fmt
    if audio_format != _PCM:
        raise RuleError("sound.wav_codec", field="file", format=audio_format)
    if not channels or not rate or bits not in (8, 16, 24, 32):
        return None
    # the header must describe this file: a plausible rate and channels, the derived fields
    # consistent (a hostile header claimed 4 000 000 000 Hz). Sizes are taken from the file, not
    # the header: a data chunk claiming more than the file holds (2 GB in a 3 KB upload; also
    # what sox and ffmpeg write when they stream to a pipe) counts only the bytes really there,
    # and there must be at least one whole frame of audio.
    data_size = min(data_size, max(data_room, 0))
    if not (WAV_MIN_RATE <= rate <= WAV_MAX_RATE and 1 <= channels <= WAV_MAX_CHANNELS
            and align == channels * bits // 8 and byte_rate == rate * align and data_size >= align):
        raise RuleError("sound.wav_header", field="file")
    return AudioInfo("wav", rate, channels, bits=bits, duration=round(data_size / byte_rate, 3))


def _id3_end(data: bytes) -> int:
    if len(data) >= 10 and data[:3] == b"ID3" and data[3] < 0xFF and data[4] < 0xFF \
            and all(b < 0x80 for b in data[6:10]):
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        return 10 + size + (10 if data[5] & 0x10 else 0)
    return 0


def _frame(data: bytes, pos: int) -> tuple[int, int, int, int] | None:
    """(frame length, bitrate, sample rate, channels) of a Layer III header at ``pos``."""
    if pos + 4 > len(data):
        return None
    h = struct.unpack_from(">I", data, pos)[0]
    if (h >> 21) & 0x7FF != 0x7FF:
        return None
    version, layer = (h >> 19) & 3, (h >> 17) & 3
    br_index, sr_index, padding, mode = (h >> 12) & 0xF, (h >> 10) & 3, (h >> 9) & 1, (h >> 6) & 3
    if version == 1 or layer != 1 or br_index in (0, 15) or sr_index == 3:
        return None
    bitrate = _BITRATES[1 if version == 3 else 2][br_index]
    rate = _RATES[version][sr_index]
    coef = 144 if version == 3 else 72
    length = coef * bitrate * 1000 // rate + padding
    return length, bitrate, rate, 1 if mode == 3 else 2


def probe_mp3(data: bytes, total: int | None = None) -> AudioInfo | None:
    """``AudioInfo`` for MPEG Layer III audio (``data`` may be the head; ``total`` the size)."""
    total = len(data) if total is None else total
    pos = _id3_end(data)
    while pos < len(data) and pos < 64 * 1024 and data[pos] == 0:  # padding after the tag
        pos += 1
    first = _frame(data, pos)
    if first is None:
        return None
    length, bitrate, rate, channels = first
    nxt = pos + length
    if nxt + 4 <= len(data) and _frame(data, nxt) is None:
        return None
    if nxt > len(data) + 1:  # a single truncated "frame": not audio
        return None
    duration = round((total - pos) * 8 / (bitrate * 1000), 3)
    return AudioInfo("mp3", rate, channels, bitrate=bitrate, duration=duration)


def probe_audio(data: bytes, total: int | None = None) -> AudioInfo:
    """Decide by content; raises RuleError ``sound.empty`` / ``sound.too_large`` /
    ``sound.format`` / ``sound.wav_codec``.

    ``data`` is the whole file, or its head (:data:`HEAD_BYTES` or more — see
    :func:`head_needed`) with ``total`` the full size."""
    total = len(data) if total is None else total
    if not data or not total:
        raise RuleError("sound.empty", field="file")
    if total > MAX_BYTES:
        raise RuleError("sound.too_large", field="file", max_mb=MAX_BYTES // (1024 * 1024))
    info = probe_wav(data, total) or probe_mp3(data, total)
    if info is None:
        raise RuleError("sound.format", field="file")
    return info


def head_needed(head: bytes) -> int:
    """How many leading bytes :func:`probe_audio` needs for a file starting with ``head``:
    :data:`HEAD_BYTES`, or more when an ID3 tag (cover art) comes before the first MP3 frame."""
    return max(HEAD_BYTES, _id3_end(head) + 64 * 1024)


def clean_sound_meta(data: Mapping[str, Any]) -> dict:
    data = clean_mapping(data, "body", optional=False)
    name = clean_name(data.get("name"))
    return {"name": name, "name_norm": norm_name(name),
            "description": clean_text(data.get("description"), "description", 500)}

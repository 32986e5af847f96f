"""The built-in sound files («Стандартные»): synthesised with sox, stored as platform media.

PRODUCT.md §3: built-in melodies are seeded. Their metadata documents are seeded by migration 4
(``storage.repos.telephony.seed_builtin_sounds``: ids ``builtin:abba`` …); their audio is made
here from a short recipe — a sequence of ``sox -n … synth`` notes or tones — the first time it is
needed (:func:`ensure_builtin`), or ahead of time by :func:`seed_builtin_media` (``pult``
start-up / the ``jobs.media.seed_builtins`` job). Generating on first use keeps store start-up
(and every test's fresh database) free of audio work; a recipe takes ~50 ms.

The audio is owned by :data:`PLATFORM_OWNER` in the media store and described on the built-in's
document (``variants``), read through the platform scope: every PBX can play it, none can change
or delete it. The melodies are original short tunes named after the product's defaults (the
«Бетховен» one is the public-domain opening of «Für Elise»); the prompts are telephone tones,
because no speech synthesiser is installed (espeak-ng is not part of the image).
"""
from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any, Callable

from jobs.transcode import VARIANTS, ConversionError, _tool, convert, delete_variants, put_variants, run_tool
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.telephony import BUILTIN_SOUNDS, SoundFiles

log = logging.getLogger("pult.media")

#: media-store owner of platform files (PBX ids start at 1)
PLATFORM_OWNER = 0
MASTER_RATE = 16000
_NOTES = {"C": -9, "C#": -8, "D": -7, "D#": -6, "E": -5, "F": -4, "F#": -3, "G": -2, "G#": -1,
          "A": 0, "A#": 1, "B": 2}


def note_hz(name: str) -> float:
    """``"A4"`` → 440.0, ``"D#5"`` → 622.25 (equal temperament)."""
    pitch, octave = name[:-1], int(name[-1])
    return 440.0 * 2 ** ((_NOTES[pitch] + 12 * (octave - 4)) / 12)


def _melody(notes: str, beat: float, voice: str = "pluck") -> list[list[str]]:
    """``"E5:1 D#5:1 R:2"`` (note:beats, R = rest) → sox synth chains."""
    chains = []
    for item in notes.split():
        name, _, beats = item.partition(":")
        dur = round(beat * float(beats or 1), 3)
        if name == "R":
            chains.append(["synth", str(dur), "sine", "0", "vol", "0"])
        else:
            chains.append(["synth", str(dur), voice, f"{note_hz(name):.2f}",
                           "fade", "q", "0.01", str(dur), str(min(0.08, dur / 3)), "vol", "0.5"])
    return chains


def _tones(pattern: list[tuple[float, float]], freqs: list[float] | None = None) -> list[list[str]]:
    """Tone bursts ``[(seconds on, seconds off), …]``; ``freqs`` per burst (default 425 Hz)."""
    chains = []
    for i, (on, off) in enumerate(pattern):
        hz = (freqs or [425.0])[i % len(freqs or [425.0])]
        chains.append(["synth", str(on), "sine", f"{hz:.1f}", "fade", "q", "0.01", str(on), "0.01",
                       "vol", "0.5"])
        if off:
            chains.append(["synth", str(off), "sine", "0", "vol", "0"])
    return chains


_SIT = [913.8, 1370.6, 1776.7]  # special information tone: "the number cannot be reached"

#: built-in id → sox synth chains (each chain one note or tone, played in sequence)
RECIPES: dict[str, list[list[str]]] = {
    # a bright pop arpeggio in A major, twice
    "builtin:abba": _melody("A4:1 C#5:1 E5:1 A5:2 G#5:1 E5:1 F#5:2 E5:1 C#5:1 D5:2 B4:2 "
                            "A4:1 C#5:1 E5:1 A5:2 B5:1 A5:1 G#5:2 E5:2 A5:4", 0.18),
    # a Greek-dance-like figure in D minor that speeds up (a looped queue hold melody)
    "builtin:sirtaki": _melody("D4:2 A4:2 D5:1 C5:1 A#4:1 A4:1 G4:2 A4:2 F4:2 E4:2 D4:4 "
                               "D4:1 E4:1 F4:1 G4:1 A4:1 A#4:1 A4:1 G4:1 F4:1 E4:1 D4:2", 0.2)
    + _melody("D4:1 A4:1 D5:1 C5:1 A#4:1 A4:1 G4:1 A4:1 F4:1 E4:1 D4:2", 0.13),
    # Beethoven, «Für Elise» (public domain), the opening phrase
    "builtin:beethoven": _melody("E5:1 D#5:1 E5:1 D#5:1 E5:1 B4:1 D5:1 C5:1 A4:3 R:1 C4:1 E4:1 A4:1 "
                                 "B4:3 R:1 E4:1 G#4:1 B4:1 C5:3 R:1 E4:1 E5:1 D#5:1 E5:1 D#5:1 E5:1 "
                                 "B4:1 D5:1 C5:1 A4:4", 0.2, voice="sine"),
    # "all operators are busy": the busy tone (425 Hz, 0.35 s on / 0.35 s off) four times
    "builtin:all_busy": _tones([(0.35, 0.35)] * 4),
    # "unavailable": the special information tone, twice
    "builtin:unavailable": _tones([(0.33, 0.0), (0.33, 0.0), (0.33, 1.0)] * 2, _SIT),
    # "enter the password": two short rising beeps
    "builtin:enter_password": _tones([(0.15, 0.1), (0.15, 0.0)], [660.0, 880.0]),
    # before voice mail records: one long beep
    "builtin:voicemail_warning": _tones([(0.2, 0.3), (0.8, 0.0)], [800.0, 1000.0]),
}
BUILTIN_IDS = tuple(sid for sid, *_ in BUILTIN_SOUNDS)

#: the built-ins' names as the cabinet shows them: English ids, the Russian (as seeded and stored,
#: storage.repos.telephony.BUILTIN_SOUNDS) in the catalogue; "abba" is the same in both
BUILTIN_NAMES = {
    "builtin:sirtaki": N_("Sirtaki"),
    "builtin:beethoven": N_("Beethoven"),
    "builtin:all_busy": N_("Sorry, all operators are busy"),
    "builtin:unavailable": N_("The subscriber does not answer or is temporarily unavailable"),
    "builtin:enter_password": N_("Enter the password"),
    "builtin:voicemail_warning": N_("Warning before a voice mail is recorded"),
}


def sound_name(doc: dict, translate: Callable[[str], str]) -> str:
    """A sound file's name in the reader's language: a built-in's from :data:`BUILTIN_NAMES`
    (its stored name is Russian), an own file's as its owner typed it."""
    sid = doc.get("id") or doc.get("_id")
    if doc.get("builtin") and sid in BUILTIN_NAMES:
        return translate(BUILTIN_NAMES[sid])
    return doc.get("name") or ""
_locks: dict[str, asyncio.Lock] = {}


def render(sound_id: str, out: Path) -> Path:
    """Synthesise the 16 kHz master of a built-in into ``out`` (WAV, 16-bit mono)."""
    chains = RECIPES.get(sound_id)
    if chains is None:
        raise KeyError(f"no recipe for built-in sound {sound_id!r}")
    args = [_tool("sox"), "-V1", "-n", "-r", str(MASTER_RATE), "-c", "1", "-b", "16",
            "-e", "signed-integer", str(out)]
    for i, chain in enumerate(chains):
        if i:
            args.append(":")
        args += chain
    proc = run_tool(args)
    if proc.returncode != 0:
        raise ConversionError("media.encode_failed", detail=proc.stderr.strip()[-300:] or "sox failed")
    return out


def render_variants(sound_id: str, workdir: Path) -> dict[str, Path]:
    """Every variant (wav8k, wav16k, mp3) of a built-in, in ``workdir``."""
    master = render(sound_id, Path(workdir) / "master.wav")
    return convert(master, "wav", Path(workdir))


async def ensure_builtin(store, sound_id: str) -> dict[str, Any]:
    """The built-in's document with its ``variants`` — generating and storing them if missing.

    Safe under concurrency: one generation per process at a time (a lock per id); across
    processes the document update is conditional, and the loser removes the media it stored.
    Raises ``KeyError`` for an unknown built-in and :class:`ConversionError` if sox fails.
    """
    repo = SoundFiles(store.db, Scope.platform())
    doc = await repo.find_one({"_id": sound_id, "builtin": True})
    if doc is None:
        raise KeyError(sound_id)
    if _complete(doc):
        return doc
    lock = _locks.setdefault(sound_id, asyncio.Lock())
    async with lock:
        doc = await repo.find_one({"_id": sound_id, "builtin": True})
        if doc is None:
            raise KeyError(sound_id)
        if _complete(doc):
            return doc
        with tempfile.TemporaryDirectory(prefix="pult-builtin-") as tmp:
            files = await asyncio.get_running_loop().run_in_executor(
                None, render_variants, sound_id, Path(tmp))
            variants = await put_variants(store.media, PLATFORM_OWNER, sound_id, files,
                                          lambda key, v: f"{sound_id.split(':', 1)[1]}.{v.ext}")
        seconds = _duration(files)
        stored = await repo.update_one(
            {"_id": sound_id, "builtin": True, "variants": {"$exists": False}},
            {"$set": {"variants": variants, "status": "ready", "duration": seconds,
                      "media_owner": PLATFORM_OWNER}})
        if not stored:  # another process finished first: keep its files
            await delete_variants(store.media, PLATFORM_OWNER, variants)
        log.info("built-in sound %s generated (%.1f s)", sound_id, seconds or 0)
        return await repo.find_one({"_id": sound_id, "builtin": True})


def _duration(files: dict[str, Path]) -> float | None:
    from jobs.transcode import wav_info

    try:
        rate, _ch, _w, frames = wav_info(files["wav8k"])
    except Exception:
        return None
    return round(frames / rate, 3)


def _complete(doc: dict) -> bool:
    return all(k in (doc.get("variants") or {}) for k in VARIANTS)


async def seed_builtin_media(store) -> int:
    """Generate the audio of every built-in that lacks it; returns how many were generated."""
    done = 0
    for sid in BUILTIN_IDS:
        doc = await SoundFiles(store.db, Scope.platform()).find_one({"_id": sid, "builtin": True})
        if doc is not None and not _complete(doc):
            await ensure_builtin(store, sid)
            done += 1
    return done

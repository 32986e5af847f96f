"""Generate the default prompt set by speech synthesis, and check a voice directory.

Synthesizers, from the Debian archive (scripts/setup.sh installs them), best first per language:

- Festival (``festival``) with ``festvox-ru`` (``msu_ru_nsh_clunits``, a Russian male unit-selection
  voice) and ``festvox-us-slt-hts`` (``cmu_us_slt_arctic_hts``, a US English female HTS voice);
- eSpeak NG (``espeak-ng``), formant synthesis, both languages: the fallback when a Festival voice
  is not installed.

Debian bookworm has no RHVoice, no MBROLA voices in main and no Russian voice but these. Each
language's texts go through one synthesizer process (Festival loads its voice once: the whole
set takes 20 s to a minute on two cores, tests/bench/bench_prompts.py); sox then makes the 8000 Hz and 16000 Hz copies (mono,
16-bit PCM, normalised to -3 dBFS). A manifest in each voice directory remembers which text
each file was made from, so running again only makes what is missing or whose text changed:
over a complete set it takes about 0.1 s.
"""
from __future__ import annotations

import hashlib
import json
import logging
import operator
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from array import array
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from esl_control.prompts import DEFAULT_VOICES, LANGS, PHRASE_FILES, PHRASES, RATES
from esl_control.prompts.say import SAY_TEXTS

log = logging.getLogger("pult.prompts")

MANIFEST = ".pult-prompts.json"
FESTIVAL_VOICES = {  # lang → (Festival voice function, its directory under /usr/share/festival/voices)
    "ru": ("voice_msu_ru_nsh_clunits", "russian/msu_ru_nsh_clunits"),
    "en": ("voice_cmu_us_slt_arctic_hts", "us/cmu_us_slt_arctic_hts"),
}
ESPEAK_VOICES = {"ru": "ru", "en": "en-us"}
FESTIVAL_VOICE_ROOT = Path("/usr/share/festival/voices")
#: a file quieter than this RMS (16-bit full scale = 32767) is taken as silence
SILENCE_RMS = 100.0


class GenerateError(RuntimeError):
    """No synthesizer, or a tool failed: the message says which and what to install."""


def texts(lang: str) -> dict[str, str]:
    """Every file of the set for ``lang`` (``<category>/<name>.wav``) → the text spoken in it."""
    out = {PHRASE_FILES[pid]: PHRASES[pid][lang] for pid in PHRASES}
    for rel, text in SAY_TEXTS[lang].items():
        out.setdefault(f"{rel}.wav", text)
    return out


def synthesizer(lang: str) -> str:
    """``festival`` or ``espeak-ng``: the best one installed for ``lang``."""
    if shutil.which("festival") and (FESTIVAL_VOICE_ROOT / FESTIVAL_VOICES[lang][1]).is_dir():
        return "festival"
    if shutil.which("espeak-ng"):
        return "espeak-ng"
    raise GenerateError("no speech synthesizer: install the Debian packages festival festvox-ru "
                        "festvox-us-slt-hts (or at least espeak-ng)")


def _digest(engine: str, text: str) -> str:
    return hashlib.sha256(f"{engine}\0{text}".encode()).hexdigest()[:16]


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run(args: list[str], **kw) -> None:
    proc = subprocess.run(args, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise GenerateError(f"{args[0]} failed ({proc.returncode}): {(proc.stderr or proc.stdout).strip()[-400:]}")


def _synthesize(engine: str, lang: str, items: list[tuple[str, str]], workdir: Path) -> list[Path]:
    """Speak each text into ``workdir/<n>.wav`` (the synthesizer's own rate)."""
    outs = [workdir / f"{i:04d}.wav" for i in range(len(items))]
    if engine == "festival":
        script = workdir / "say.scm"
        lines = [f"({FESTIVAL_VOICES[lang][0]})"]
        for (_, text), out in zip(items, outs):
            lines.append(f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) "
                         f"{_scheme_string(str(out))} 'riff)")
        script.write_text("\n".join(lines) + "\n", encoding="utf-8")
        _run(["festival", "-b", str(script)], timeout=1800)
    else:
        for (_, text), out in zip(items, outs):
            _run(["espeak-ng", "-v", ESPEAK_VOICES[lang], "-s", "150", "-w", str(out), text], timeout=60)
    missing = [str(o) for o in outs if not o.is_file() or o.stat().st_size <= 44]
    if missing:
        raise GenerateError(f"{engine} produced no audio for {len(missing)} text(s), e.g. {missing[0]}")
    return outs


def _convert(src: Path, dest: Path, rate: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp.wav")
    _run(["sox", "-V1", str(src), "-c", "1", "-b", "16", "-e", "signed-integer", "-r", str(rate), str(tmp),
          "gain", "-n", "-3"], timeout=60)
    os.replace(tmp, dest)


def rate_path(voice_dir: Path, rel: str, rate: int) -> Path:
    category, _, name = rel.rpartition("/")
    return Path(voice_dir) / category / str(rate) / name


@dataclass
class Report:
    lang: str
    voice_dir: Path
    engine: str
    made: int = 0
    kept: int = 0


def generate_voice(sounds_dir: str | os.PathLike, lang: str, *, force: bool = False) -> Report:
    """Make (or complete) the generated voice of ``lang`` under ``sounds_dir``."""
    if lang not in LANGS:
        raise ValueError(f"no prompt set for language {lang!r}")
    voice_dir = Path(sounds_dir) / DEFAULT_VOICES[lang]
    wanted = texts(lang)
    manifest_path = voice_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text()) if not force else {}
    except (OSError, ValueError):
        manifest = {}
    done: dict[str, str] = manifest.get("files", {})
    try:
        engine = synthesizer(lang)
    except GenerateError:
        engine = None  # a complete set made earlier is still good; a missing file is an error below
    if engine is None or manifest.get("engine") == engine:
        made_by = manifest.get("engine") or ""
        todo = [(rel, text) for rel, text in wanted.items()
                if done.get(rel) != _digest(made_by, text)
                or not all(rate_path(voice_dir, rel, r).is_file() for r in RATES)]
    else:  # first run, or a better synthesizer was installed: one voice per set, all made again
        todo, done = list(wanted.items()), {}
    if not todo:
        return Report(lang, voice_dir, manifest.get("engine") or "", kept=len(wanted))
    if engine is None:
        synthesizer(lang)  # raises, naming what to install
    voice_dir.mkdir(parents=True, exist_ok=True)
    log.info("prompts: synthesizing %d %s file(s) with %s into %s", len(todo), lang, engine, voice_dir)
    with tempfile.TemporaryDirectory(prefix="pult-prompts-") as tmp:
        raw = _synthesize(engine, lang, todo, Path(tmp))
        jobs = [(src, rate_path(voice_dir, rel, rate), rate) for (rel, _), src in zip(todo, raw) for rate in RATES]
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            list(pool.map(lambda j: _convert(*j), jobs))
    for rel, text in todo:
        done[rel] = _digest(engine, text)
    tmp_manifest = manifest_path.with_suffix(".tmp")
    tmp_manifest.write_text(json.dumps({"engine": engine, "lang": lang,
                                        "files": {k: done[k] for k in sorted(done) if k in wanted}},
                                       ensure_ascii=False, indent=0))
    os.replace(tmp_manifest, manifest_path)
    return Report(lang, voice_dir, engine, made=len(todo), kept=len(wanted) - len(todo))


def generate(sounds_dir: str | os.PathLike, langs: Iterable[str] = LANGS, *, force: bool = False) -> list[Report]:
    return [generate_voice(sounds_dir, lang, force=force) for lang in langs]


# --- checking ---------------------------------------------------------------------------------
def wav_problem(path: Path, rate: int | None = None) -> str | None:
    """Why FreeSWITCH could not play ``path`` as a prompt, or ``None``: it must be a RIFF WAVE of
    16-bit PCM, mono, 8000 or 16000 Hz (``rate`` when given), and not silent."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return "not a RIFF WAVE file"
        with wave.open(str(path), "rb") as w:  # reads PCM only (format 1): other codecs raise
            channels, width, framerate, frames = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
            data = w.readframes(frames)
    except FileNotFoundError:
        return "missing"
    except (wave.Error, EOFError, OSError) as exc:
        return f"not a PCM WAVE file ({exc})"
    if channels != 1:
        return f"{channels} channels (expected mono)"
    if width != 2:
        return f"{8 * width}-bit samples (expected 16-bit)"
    if framerate not in RATES or (rate is not None and framerate != rate):
        return f"{framerate} Hz (expected {rate or ' or '.join(map(str, RATES))} Hz)"
    if frames < framerate // 10:
        return f"{frames / framerate:.3f} s long (too short to be speech)"
    samples = array("h", data)
    if sys.byteorder == "big":
        samples.byteswap()
    samples = samples[::max(1, len(samples) // 8000)]  # enough to tell speech from silence
    rms = (sum(map(operator.mul, samples, samples)) / len(samples)) ** 0.5
    if rms < SILENCE_RMS:
        return f"silent (RMS {rms:.0f})"
    return None


def check_voice(voice_dir: str | os.PathLike, lang: str) -> list[str]:
    """Every problem of the generated layout in ``voice_dir`` for ``lang``: one line per bad file."""
    out = []
    for rel in texts(lang):
        for rate in RATES:
            path = rate_path(Path(voice_dir), rel, rate)
            problem = wav_problem(path, rate)
            if problem:
                out.append(f"{path}: {problem}")
    return out

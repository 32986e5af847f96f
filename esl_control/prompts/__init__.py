"""The prompt sets: what the call engine plays for each phrase, per language.

The engine plays phrases by id (:data:`PHRASES`); a :class:`PromptSet` says which file FreeSWITCH
plays for a phrase in a language, and which directory is the channel's ``sound_prefix`` (where
``say`` finds ``digits/…``, ``time/…``, ``currency/…``). Where a phrase comes from, first match wins:

1. the tenant's own recording: the PBX setting ``prompts`` maps a phrase id to an uploaded sound
   file (:func:`tenant_phrase`; played over ``http_cache://`` like every uploaded sound);
2. the operator's voice for the language (setting ``PULT_PROMPT_VOICE_RU`` / ``_EN``): an installed
   FreeSWITCH sound package such as ``/usr/share/freeswitch/sounds/ru/RU/elena`` or a directory of
   the operator's own recordings in the same layout — for each file it has;
3. the set generated at setup by speech synthesis (``pult prompts generate``), in
   ``<PULT_SOUNDS_DIR>/ru/RU/pult`` and ``…/en/us/pult``.

Files are laid out like FreeSWITCH's packages, ``<voice dir>/<category>/<rate>/<name>.wav``; the
engine gets ``<voice dir>/<category>/<name>.wav`` and mod_sndfile opens the copy at the channel's
rate (it inserts ``<rate>/`` before the name, else tries 48000 … 8000, see
``mod_sndfile.c:sndfile_file_open``). The directories are read where Pult runs and played where
FreeSWITCH runs: install the set at the same path on both, or name the nodes' copy with
``PULT_FS_SOUNDS_DIR`` (deploy/README.md).

Nothing here imports gevent or the web layer; the composition root builds the set from settings
(:func:`PromptSet.from_settings` reads the attributes it needs from any settings object).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping

from esl_control.prompts.phrases import BEEP, BUILTIN_PHRASES, PHRASE_FILES, PHRASES

__all__ = ["BEEP", "BUILTIN_PHRASES", "DEFAULT_VOICES", "LANGS", "PHRASES", "PHRASE_FILES", "PromptMissing", "PromptSet", "RATES",
           "setting_sound", "tenant_phrase", "validate_overrides"]

LANGS = ("ru", "en")
#: the generated set's voice directories under the sounds dir, as FreeSWITCH's packages name theirs
DEFAULT_VOICES: dict[str, str] = {"ru": "ru/RU/pult", "en": "en/us/pult"}
#: the rate directories the generated set has (mod_sndfile also looks in 32000 and 48000)
RATES = (8000, 16000)
_LOOKUP_RATES = (8000, 16000, 32000, 48000)


class PromptMissing(LookupError):
    """No voice of the language has the phrase's file (the set was not generated?)."""


class PromptSet:
    """Which file plays a phrase, per language; see the module's docstring for the order."""

    def __init__(self, sounds_dir: str | os.PathLike, *, voices: Mapping[str, str | os.PathLike | None] | None = None,
                 fs_sounds_dir: str | os.PathLike | None = None) -> None:
        self.sounds_dir = Path(sounds_dir).absolute()
        self.fs_sounds_dir = Path(fs_sounds_dir) if fs_sounds_dir else self.sounds_dir
        self.voices: dict[str, Path] = {}
        for lang, path in (voices or {}).items():
            self._check_lang(lang)
            if path:
                self.voices[lang] = Path(path)
        self._cache: dict[tuple[str, str], str | None] = {}
        self._prefixes: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings) -> "PromptSet":
        sounds = (getattr(settings, "prompts_dir", None) or getattr(settings, "sounds_dir", None)
                  or Path(getattr(settings, "data_dir", "var")) / "sounds")
        return cls(sounds, voices={"ru": getattr(settings, "prompt_voice_ru", None),
                                   "en": getattr(settings, "prompt_voice_en", None)},
                   fs_sounds_dir=getattr(settings, "fs_sounds_dir", None))

    # --- directories
    @staticmethod
    def _check_lang(lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"no prompt set for language {lang!r} (expected one of {', '.join(LANGS)})")

    def generated_dir(self, lang: str) -> Path:
        """Where the generated voice of ``lang`` is, as Pult sees it."""
        self._check_lang(lang)
        return self.sounds_dir / DEFAULT_VOICES[lang]

    def _fs_generated_dir(self, lang: str) -> Path:
        return self.fs_sounds_dir / DEFAULT_VOICES[lang]

    def sound_prefix(self, lang: str) -> str:
        """The absolute directory FreeSWITCH uses as ``sound_prefix`` for ``lang``, where ``say``
        finds ``digits/…``: the operator's voice when it has them (a sound package; a directory
        of a few recorded phrases does not), else the generated set."""
        self._check_lang(lang)
        prefix = self._prefixes.get(lang)
        if prefix is None:
            voice = self.voices.get(lang)
            use_voice = voice is not None and voice_has_file(voice, "digits/0.wav")
            prefix = self._prefixes[lang] = str(voice if use_voice else self._fs_generated_dir(lang))
        return prefix

    def channel_variables(self, lang: str) -> dict[str, str]:
        """What to set on the call's channel before ``say``: ``sound_prefix`` and
        ``sound_prefix_enforced=true`` (else switch_ivr_say() switches to the ``sound-prefix`` of
        the node's ``<language>`` entry, e.g. vanilla's callie directory)."""
        return {"sound_prefix": self.sound_prefix(lang), "sound_prefix_enforced": "true"}

    # --- phrases
    def phrase_file(self, phrase_id: str, lang: str) -> str:
        """The absolute path to give ``playback`` (without the rate directory). Raises ``KeyError``
        for an unknown phrase and :class:`PromptMissing` when no voice has its file."""
        path = self._resolve(phrase_id, lang)
        if path is None:
            raise PromptMissing(f"prompt {phrase_id!r} ({lang}) is in no voice directory: "
                                f"run `pult prompts generate` (sounds dir {self.sounds_dir})")
        return path

    def has(self, phrase_id: str, lang: str) -> bool:
        """Whether some voice of ``lang`` has the phrase (``False`` for an unknown phrase id)."""
        if phrase_id not in PHRASE_FILES:
            return False
        return self._resolve(phrase_id, lang) is not None

    def refresh(self) -> None:
        """Forget what was found (after an operator installs or records files)."""
        self._cache.clear()
        self._prefixes.clear()

    def _resolve(self, phrase_id: str, lang: str) -> str | None:
        key = (phrase_id, lang)
        if key in self._cache:
            return self._cache[key]
        self._check_lang(lang)
        rel = PHRASE_FILES[phrase_id]
        found = None
        candidates = [(self.voices[lang], self.voices[lang])] if lang in self.voices else []
        candidates.append((self.generated_dir(lang), self._fs_generated_dir(lang)))
        for local, remote in candidates:
            if voice_has_file(local, rel):
                found = str(remote / rel)
                break
        self._cache[key] = found
        return found


def voice_has_file(voice_dir: Path, rel: str) -> bool:
    """Whether ``<voice_dir>/<rel>`` exists as FreeSWITCH would open it: in a rate directory
    (``<category>/<rate>/<name>``) or as is."""
    voice_dir = Path(voice_dir)
    category, _, name = rel.rpartition("/")
    if any((voice_dir / category / str(rate) / name).is_file() for rate in _LOOKUP_RATES):
        return True
    return (voice_dir / rel).is_file()


# --- the tenant's own recordings ---------------------------------------------------------------
def validate_overrides(value: object) -> dict[str, str]:
    """A PBX's ``prompts`` setting: ``{phrase id: sound file id}``. Raises ``ValueError`` naming
    the bad entry (an unknown phrase id, an empty or non-text sound id). Whether each sound file
    exists in the PBX is checked by the caller (the references check)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError("expected an object mapping phrase ids to sound file ids")
    out: dict[str, str] = {}
    for phrase_id, sound_id in value.items():
        if phrase_id not in PHRASES:
            raise ValueError(f"unknown phrase {phrase_id!r}")
        if sound_id is None:  # null removes the override
            continue
        if not isinstance(sound_id, str) or not sound_id.strip():
            raise ValueError(f"phrase {phrase_id!r}: expected a sound file id")
        out[phrase_id] = sound_id.strip()
    return dict(sorted(out.items()))


def setting_sound(prompts: PromptSet, sound_id: str | None, lang: str,
                  sound_url: Callable[[str], str | None]) -> str | None:
    """What ``playback`` gets for a sound chosen in a PBX setting (``unavailable_message``,
    ``password_prompt``, ``voicemail.prompt``, a queue's entry message): a built-in prompt that
    stands in for speech is its phrase in the PBX's language (:data:`BUILTIN_PHRASES`); any other
    file is its URL; ``None`` when the setting is empty or the file cannot be fetched."""
    if not sound_id:
        return None
    phrase_id = BUILTIN_PHRASES.get(sound_id)
    if phrase_id is not None and prompts.has(phrase_id, lang):
        return prompts.phrase_file(phrase_id, lang)
    return sound_url(sound_id)


def tenant_phrase(prompts: PromptSet, phrase_id: str, lang: str, overrides: Mapping[str, str] | None,
                  sound_url: Callable[[str], str | None]) -> str:
    """What ``playback`` gets for a phrase in a PBX: the tenant's recording when the PBX replaced
    the phrase and ``sound_url(sound id)`` gives its URL (``http_cache://…``; ``None`` when the file
    is gone or not converted yet), else the prompt set's file."""
    if phrase_id not in PHRASES:
        raise KeyError(phrase_id)
    sound_id = (overrides or {}).get(phrase_id)
    if sound_id:
        url = sound_url(sound_id)
        if url:
            return url
    return prompts.phrase_file(phrase_id, lang)

"""The prompt sets (esl_control/prompts): every phrase the engine can play and every file the
``say`` modules ask for is in the generated set, audible, and in a format FreeSWITCH plays; the
operator's voice wins over the generated one, file by file; a broken file is recognised.

The generated set is the one ``scripts/setup.sh`` makes (``pult prompts generate``, into
``var/sounds`` or ``PULT_SOUNDS_DIR``); when it is not there the first test makes it (about a
minute), as setup would.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import wave
from pathlib import Path

import pytest

from esl_control.prompts import (BEEP, BUILTIN_PHRASES, DEFAULT_VOICES, LANGS, PHRASE_FILES, PHRASES, RATES,
                                 PromptMissing, PromptSet, setting_sound, tenant_phrase, validate_overrides)
from storage.repos.telephony import BUILTIN_SOUNDS
from esl_control.prompts.generate import check_voice, generate, generate_voice, rate_path, texts, wav_problem
from esl_control.prompts.say import SAY_TEXTS, duration_files, number_files

ROOT = Path(__file__).resolve().parents[2]

#: what the engine plays by id (issue 12, "Prompts"): the catalog must keep at least these
ENGINE_PHRASES = ("pbx_blocked", "no_answer", "unavailable", "busy_all_lines", "voicemail_greeting",
                  "voicemail_saved", "menu_invalid", "menu_timeout", "enter_extension", "extension_invalid",
                  "enter_password", "password_wrong", "direction_forbidden", "demo_international",
                  "no_outgoing_number", "number_invalid", "number_unknown", "trunk_busy", "call_failed",
                  "please_hold", "transferring", "fax_receive", "caller_announce", "goodbye")


@pytest.fixture(scope="module")
def sounds_dir() -> Path:
    path = Path(os.environ.get("PULT_SOUNDS_DIR") or ROOT / "var" / "sounds")
    generate(path)  # quick when setup already made it
    return path


def _tone(path: Path, seconds: float = 0.5, rate: int = 8000, *extra: str, vol: str = "0.5") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-V1", "-n", "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer", *extra,
                    str(path), "synth", str(seconds), "sine", "440",
                    "vol", vol], check=True)
    return path


# --- the catalog ---------------------------------------------------------------------------------
def test_every_phrase_the_engine_plays_has_a_russian_and_an_english_text_and_a_file():
    assert set(ENGINE_PHRASES) <= set(PHRASES)
    for pid, t in PHRASES.items():
        assert set(t) == {"ru", "en"} and all(v.strip() for v in t.values()), pid
        assert any("а" <= ch <= "я" for ch in t["ru"].lower()), f"{pid}: the Russian text is not Russian"
        category, _, name = PHRASE_FILES[pid].rpartition("/")
        assert category and name.endswith(".wav"), pid
    assert len(set(PHRASE_FILES.values())) == len(PHRASE_FILES), "two phrases share a file"
    assert BEEP.startswith("tone_stream://")


# --- the generated set -----------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_every_phrase_and_say_file_is_there_audible_and_playable(sounds_dir, lang):
    voice = sounds_dir / DEFAULT_VOICES[lang]
    files = [PHRASE_FILES[p] for p in PHRASES] + [f"{rel}.wav" for rel in SAY_TEXTS[lang]]
    assert len(files) > 100
    problems = []
    for rel in files:
        for rate in RATES:                      # <voice>/<category>/<rate>/<name>.wav, as FreeSWITCH's packages
            problem = wav_problem(rate_path(voice, rel, rate), rate)
            if problem:
                problems.append(f"{rel} @ {rate}: {problem}")
    assert not problems, "\n".join(problems[:20])
    assert check_voice(voice, lang) == []
    prompts = PromptSet(sounds_dir)
    assert prompts.sound_prefix(lang) == str(voice.absolute())
    for pid in PHRASES:
        assert prompts.has(pid, lang)
        assert prompts.phrase_file(pid, lang) == str(voice.absolute() / PHRASE_FILES[pid])


def test_the_russian_and_english_files_are_different_recordings(sounds_dir):
    ru = rate_path(sounds_dir / DEFAULT_VOICES["ru"], PHRASE_FILES["no_answer"], 8000).read_bytes()
    en = rate_path(sounds_dir / DEFAULT_VOICES["en"], PHRASE_FILES["no_answer"], 8000).read_bytes()
    assert ru != en


def test_generating_again_makes_only_what_is_missing(sounds_dir, tmp_path):
    shutil.copytree(sounds_dir / DEFAULT_VOICES["en"], tmp_path / DEFAULT_VOICES["en"])
    assert generate_voice(tmp_path, "en").made == 0
    lost = rate_path(tmp_path / DEFAULT_VOICES["en"], PHRASE_FILES["goodbye"], 16000)
    lost.unlink()
    report = generate_voice(tmp_path, "en")
    assert (report.made, report.kept) == (1, len(texts("en")) - 1)
    assert wav_problem(lost, 16000) is None


# --- what the say modules ask for -------------------------------------------------------------------
SAMPLES = [*range(0, 1001), 1999, 2000, 2021, 5000, 11000, 21000, 25000, 100000, 101101, 999999, 1000000,
           2000000, 5000000, 21000000, 123456789, 999999999]


@pytest.mark.parametrize("gender", ["male", "it", "female", "male_h", "female_h"])
def test_mod_say_ru_finds_every_file_it_plays_for_numbers(gender):
    missing = {f for n in SAMPLES for f in number_files("ru", n, gender=gender) if f not in SAY_TEXTS["ru"]}
    assert not missing, sorted(missing)[:20]


def test_mod_say_en_finds_every_file_it_plays_for_numbers_and_ordinals():
    for method in ("pronounced", "counted", "iterated"):
        missing = {f for n in SAMPLES for f in number_files("en", n, method=method) if f not in SAY_TEXTS["en"]}
        assert not missing, (method, sorted(missing)[:20])


@pytest.mark.parametrize("lang", LANGS)
def test_durations_and_money_words_are_there(lang):
    for h, m, s in ((0, 0, 0), (1, 1, 1), (2, 3, 4), (5, 21, 22), (11, 12, 14), (24, 59, 59), (0, 45, 0)):
        missing = [f for f in duration_files(lang, h, m, s) if f not in SAY_TEXTS[lang]]
        assert not missing, (h, m, s, missing)
    money = {"ru": ("currency/ruble", "currency/ruble-a", "currency/rubles", "currency/kopeck",
                    "currency/kopeck-i", "currency/kopecks", "currency/minus"),
             "en": ("currency/dollar", "currency/dollars", "currency/cent", "currency/cents", "currency/and",
                    "currency/negative")}[lang]
    assert set(money) <= set(SAY_TEXTS[lang])


def test_the_files_follow_the_say_modules_word_by_word():
    assert number_files("ru", 25) == ["digits/20", "digits/5"]
    assert number_files("ru", 21, gender="female") == ["digits/20", "digits/1f"]
    assert number_files("ru", 2, gender="it") == ["digits/2"]
    assert number_files("ru", 1000) == ["digits/1f", "digits/thousand"]
    assert number_files("ru", 3500) == ["digits/3", "digits/thousands-i", "digits/500"]
    assert number_files("ru", 2000000) == ["digits/2", "digits/million-a"]
    assert number_files("ru", 5, gender="male_h") == ["digits/h-5m"]
    assert number_files("ru", 0) == ["digits/0"]
    assert number_files("en", 1234) == ["digits/1", "digits/thousand", "digits/2", "digits/hundred", "digits/30",
                                        "digits/4"]
    assert number_files("en", 13) == ["digits/13"]
    assert number_files("en", 40, method="counted") == ["digits/h-40"]
    assert number_files("ru", 907, method="iterated") == ["digits/9", "digits/0", "digits/7"]
    assert duration_files("ru", 2, 1, 0) == ["digits/2", "time/hours-a", "digits/1f", "time/minute"]
    assert duration_files("en", 0, 1, 5) == ["digits/0", "time/hours", "digits/1", "time/minute", "digits/5",
                                             "time/seconds"]
    with pytest.raises(ValueError):
        number_files("ru", 10 ** 9)
    assert SAY_TEXTS["ru"]["digits/1f"] == "одна" and SAY_TEXTS["ru"]["time/hours-a"] == "часа"


# --- which file plays ---------------------------------------------------------------------------------
def test_an_operator_voice_wins_file_by_file_and_gives_the_sound_prefix(tmp_path):
    generated = tmp_path / "var-sounds"
    elena = tmp_path / "freeswitch" / "sounds" / "ru" / "RU" / "elena"
    for pid in PHRASES:                                  # the generated set has everything (16 kHz only here)
        _tone(rate_path(generated / DEFAULT_VOICES["ru"], PHRASE_FILES[pid], 16000), rate=16000)
    _tone(rate_path(elena, PHRASE_FILES["goodbye"], 8000))    # the package has its own "goodbye"
    prompts = PromptSet(generated, voices={"ru": elena, "en": None}, fs_sounds_dir="/srv/pult-sounds")
    # without digits/ the say module could not count in that voice: the generated one stays the prefix
    assert prompts.sound_prefix("ru") == "/srv/pult-sounds/ru/RU/pult"
    _tone(rate_path(elena, "digits/0.wav", 8000))
    prompts.refresh()
    assert prompts.sound_prefix("ru") == str(elena)
    assert prompts.sound_prefix("en") == "/srv/pult-sounds/en/us/pult"      # as the FreeSWITCH nodes see it
    assert prompts.channel_variables("en") == {"sound_prefix": "/srv/pult-sounds/en/us/pult",
                                               "sound_prefix_enforced": "true"}
    assert prompts.phrase_file("goodbye", "ru") == str(elena / "voicemail" / "vm-goodbye.wav")
    assert prompts.phrase_file("no_answer", "ru") == "/srv/pult-sounds/ru/RU/pult/pult/no_answer.wav"
    assert not prompts.has("no_answer", "en")
    with pytest.raises(PromptMissing, match="pult prompts generate"):
        prompts.phrase_file("no_answer", "en")
    assert not prompts.has("no_such_phrase", "ru")
    with pytest.raises(KeyError):
        prompts.phrase_file("no_such_phrase", "ru")
    with pytest.raises(ValueError, match="'de'"):
        prompts.sound_prefix("de")
    # a recording installed while running is found after refresh()
    _tone(rate_path(generated / DEFAULT_VOICES["en"], PHRASE_FILES["no_answer"], 8000))
    assert not prompts.has("no_answer", "en")
    prompts.refresh()
    assert prompts.has("no_answer", "en")


def test_a_tenant_override_is_played_when_its_file_can_be_fetched(tmp_path):
    _tone(rate_path(tmp_path / DEFAULT_VOICES["en"], PHRASE_FILES["trunk_busy"], 8000))
    prompts = PromptSet(tmp_path)
    url = "http_cache://http://pult/fs/sounds/7/s1/1/ab/wav8k.wav"
    assert tenant_phrase(prompts, "trunk_busy", "en", {"trunk_busy": "s1"}, {"s1": url}.get) == url
    assert tenant_phrase(prompts, "trunk_busy", "en", {}, {"s1": url}.get).endswith("pult/trunk_busy.wav")
    with pytest.raises(KeyError):
        tenant_phrase(prompts, "nope", "en", {}, {}.get)
    assert validate_overrides({"goodbye": " s2 ", "no_answer": None}) == {"goodbye": "s2"}
    for bad, match in (({"nope": "s1"}, "unknown phrase 'nope'"), ({"goodbye": ""}, "goodbye"),
                       (["goodbye"], "expected an object")):
        with pytest.raises(ValueError, match=match):
            validate_overrides(bad)


def test_a_broken_or_foreign_file_is_named_with_its_problem(tmp_path):
    assert wav_problem(_tone(tmp_path / "ok.wav"), 8000) is None
    assert wav_problem(tmp_path / "none.wav") == "missing"
    assert wav_problem(_tone(tmp_path / "quiet.wav", vol="0.001")).startswith("silent")
    assert "channels" in wav_problem(_tone(tmp_path / "stereo.wav", 0.5, 8000, "-c", "2"))
    assert "8-bit" in wav_problem(_tone(tmp_path / "u8.wav", 0.5, 8000, "-b", "8", "-e", "unsigned-integer"))
    assert "44100 Hz" in wav_problem(_tone(tmp_path / "cd.wav", 0.5, 44100))
    assert "8000 Hz" in wav_problem(_tone(tmp_path / "wide.wav", 0.5, 16000), 8000)
    assert "not a PCM" in wav_problem(_tone(tmp_path / "alaw.wav", 0.5, 8000, "-e", "a-law"))
    assert wav_problem(_tone(tmp_path / "click.wav", 0.02)).startswith("0.020 s long")
    (tmp_path / "text.wav").write_text("not audio")
    assert wav_problem(tmp_path / "text.wav") == "not a RIFF WAVE file"
    with wave.open(str(tmp_path / "ok.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 8000)


def test_install_prompts_puts_the_set_where_the_node_finds_every_phrase(sounds_dir, tmp_path):
    node = tmp_path / "usr-share-freeswitch-sounds"
    (node / "en" / "us" / "callie" / "ivr" / "8000").mkdir(parents=True)   # another package stays
    proc = subprocess.run([str(ROOT / "deploy" / "freeswitch" / "install-prompts.sh"), str(sounds_dir), str(node)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    prompts = PromptSet(sounds_dir, fs_sounds_dir=node)
    for lang in LANGS:
        assert prompts.sound_prefix(lang) == str(node / DEFAULT_VOICES[lang])
        for pid in PHRASES:
            played = Path(prompts.phrase_file(pid, lang))
            assert played.is_relative_to(node)
            for rate in RATES:   # what mod_sndfile opens on an 8 kHz and a 16 kHz call
                assert wav_problem(played.parent / str(rate) / played.name, rate) is None, (pid, lang, rate)
    assert (node / "en" / "us" / "callie" / "ivr" / "8000").is_dir()
    assert not list(node.rglob(".pult-prompts.json"))
    empty = tmp_path / "nothing"
    proc = subprocess.run([str(ROOT / "deploy" / "freeswitch" / "install-prompts.sh"), str(empty), str(node)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "pult prompts generate" in proc.stderr


def test_a_built_in_stand_in_prompt_is_spoken_in_the_pbx_language(tmp_path):
    prompts_builtins = {sid for sid, _name, kind, _d in BUILTIN_SOUNDS if kind == "prompt"}
    assert set(BUILTIN_PHRASES) == prompts_builtins and set(BUILTIN_PHRASES.values()) <= set(PHRASES)
    for lang in LANGS:
        _tone(rate_path(tmp_path / DEFAULT_VOICES[lang], PHRASE_FILES["unavailable"], 8000))
    prompts = PromptSet(tmp_path)
    url = {"builtin:unavailable": "http_cache://u", "builtin:abba": "http_cache://abba", "s9": "http_cache://s9"}.get
    assert setting_sound(prompts, "builtin:unavailable", "ru", url).endswith("ru/RU/pult/pult/unavailable.wav")
    assert setting_sound(prompts, "builtin:unavailable", "en", url).endswith("en/us/pult/pult/unavailable.wav")
    assert setting_sound(prompts, "builtin:abba", "ru", url) == "http_cache://abba"      # a melody stays a melody
    assert setting_sound(prompts, "s9", "ru", url) == "http_cache://s9"                  # the tenant's own file
    assert setting_sound(prompts, "builtin:enter_password", "ru", url) is None           # no phrase, no URL
    assert setting_sound(prompts, None, "ru", url) is None


def test_the_settings_name_the_directories_and_refuse_a_relative_voice(tmp_path, monkeypatch):
    from pult.settings import SettingsError, load_settings

    for name in ("PULT_SOUNDS_DIR", "PULT_FS_SOUNDS_DIR", "PULT_PROMPT_VOICE_RU", "PULT_PROMPT_VOICE_EN"):
        monkeypatch.delenv(name, raising=False)
    prompts = PromptSet.from_settings(load_settings(data_dir=tmp_path / "data"))
    assert prompts.generated_dir("ru") == tmp_path / "data" / "sounds" / "ru" / "RU" / "pult"
    assert prompts.sound_prefix("en") == str(tmp_path / "data" / "sounds" / "en" / "us" / "pult")
    elena = tmp_path / "elena"
    _tone(rate_path(elena, "digits/0.wav", 8000))
    monkeypatch.setenv("PULT_PROMPT_VOICE_RU", str(elena))
    monkeypatch.setenv("PULT_PROMPT_VOICE_EN", "")                     # empty: not set
    monkeypatch.setenv("PULT_FS_SOUNDS_DIR", "/srv/sounds")
    prompts = PromptSet.from_settings(load_settings(data_dir=tmp_path / "data"))
    assert prompts.sound_prefix("ru") == str(elena)
    assert prompts.sound_prefix("en") == "/srv/sounds/en/us/pult"
    monkeypatch.setenv("PULT_PROMPT_VOICE_EN", "sounds/en")
    with pytest.raises(SettingsError, match="PULT_PROMPT_VOICE_EN='sounds/en': .*absolute directory"):
        load_settings()

"""Pure parts of the telephony configuration domain: scheme trees, sound-file content checks,
SIP login/password rules, encrypted secrets, reference errors in two languages."""
from __future__ import annotations

import io
import struct
import wave

import pytest

from esl_control.model.common import InUse, Reference, clean_extension
from esl_control.model.crypto import SecretBox, SecretError, derive_key
from esl_control.model.groups.schemas import clean_group
from esl_control.model.messages import MESSAGES as TEL_MESSAGES
from esl_control.model.schemes.schemas import MAX_MENU_LEVEL, clean_scheme, refs_of_scheme, skeleton
from esl_control.model.sip.schemas import (clean_domain_label, clean_login, clean_sip_access, clean_sip_password,
                                           generate_sip_password)
from esl_control.model.sounds.schemas import probe_audio
from esl_control.routing.errors import MESSAGES, RuleError
from pult import i18n


def wav_bytes(seconds=0.2, rate=8000, width=2, channels=1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(rate * seconds) * channels)
    return buf.getvalue()


def mp3_bytes(frames=5) -> bytes:
    """MPEG-1 Layer III, 128 kbit/s, 44.1 kHz frames (417 bytes each, no padding) after an ID3 tag."""
    header = bytes([0xFF, 0xFB, 0x90, 0x44])
    tag = b"ID3\x03\x00\x00\x00\x00\x00\x0a" + b"\x00" * 10
    return tag + (header + b"\x00" * 413) * frames


def menu(level_steps):
    return {"kind": "menu", "children": {"1": {"steps": level_steps}}}


# --- scheme trees -------------------------------------------------------------------------------
def test_scheme_needs_final_hangup_and_nothing_after_it():
    with pytest.raises(RuleError) as e:
        clean_scheme({"name": "Day", "blocks": [{"steps": [{"kind": "greeting"}]}]})
    assert e.value.code == "scheme.final_hangup" and e.value.field == "blocks[0].steps"
    assert "Отбой" in e.value.message("ru")
    with pytest.raises(RuleError) as e:
        clean_scheme({"name": "Day", "blocks": [{"steps": [{"kind": "hangup"}, {"kind": "voicemail"}]}]})
    assert e.value.code == "scheme.step_after_final" and e.value.field == "blocks[0].steps[1]"
    with pytest.raises(RuleError) as e:
        clean_scheme({"name": "Day", "blocks": [{"steps": [{"kind": "return_to_main"}]}]})
    assert e.value.code == "scheme.return_top"


def test_scheme_menus_nest_at_most_four_levels():
    steps = [{"kind": "hangup"}]
    for _ in range(MAX_MENU_LEVEL):
        steps = [menu(steps), {"kind": "hangup"}]
    doc = clean_scheme({"name": "Deep", "blocks": [{"steps": steps}]})
    assert doc["blocks"][0]["steps"][0]["kind"] == "menu"
    with pytest.raises(RuleError) as e:
        clean_scheme({"name": "Too deep", "blocks": [{"steps": [menu(steps), {"kind": "hangup"}]}]})
    assert e.value.code == "scheme.menu_depth" and e.value.params["max"] == 4


def test_scheme_nested_blocks_default_to_hangup_and_accept_return_to_main():
    doc = clean_scheme({"name": "S", "blocks": [{"steps": [
        {"kind": "menu", "children": {"1": {"steps": []}, "2": {"password": "1234", "steps": [
            {"kind": "voicemail", "emails": "a@b.ru; c@d.ru"}, {"kind": "return_to_main"}]}},
         "rules": {"no_input": {}, "disa": {"min_length": 2, "max_length": 4}, "fax_detect": {"emails": ["f@b.ru"]}}},
        {"kind": "hangup"}]}]})
    m = doc["blocks"][0]["steps"][0]
    assert m["children"]["1"]["steps"][0]["kind"] == "hangup"
    assert m["children"]["2"]["steps"][0]["emails"] == ["a@b.ru", "c@d.ru"]
    assert m["rules"]["no_input"]["timeout"] == 5 and m["rules"]["no_input"]["steps"][0]["kind"] == "hangup"


@pytest.mark.parametrize("body, code", [
    ({"kind": "menu", "children": {"1a": {}}}, "scheme.menu_digits"),
    ({"kind": "menu", "children": {}}, "scheme.menu_empty"),
    ({"kind": "menu", "children": {"1": {"password": "12ab"}}}, "scheme.password"),
    ({"kind": "menu", "children": {"1": {}}, "rules": {"disa": {"min_length": 4, "max_length": 3}}}, "scheme.disa_lengths"),
    ({"kind": "menu", "children": {"1": {}}, "rules": {"busy": {}}}, "value.choice"),
    ({"kind": "forward", "target": {"type": "external", "value": "+79121234567"}}, "number.plus"),
    ({"kind": "forward", "target": {"type": "employee", "id": "e1"}, "queue": {"max_wait": 20}}, "scheme.queue_override"),
    ({"kind": "forward", "target": {"type": "extension", "value": "112"}}, "direction.emergency_extension"),
    ({"kind": "forward", "target": None, "ring_time": 3601}, "rule.ring_time"),
    ({"kind": "dance"}, "value.choice"),
])
def test_scheme_step_errors(body, code):
    with pytest.raises(RuleError) as e:
        clean_scheme({"name": "S", "blocks": [{"steps": [body, {"kind": "hangup"}]}]})
    assert e.value.code == code


def test_scheme_last_block_has_no_schedule_and_refs_and_skeleton():
    with pytest.raises(RuleError) as e:
        clean_scheme({"name": "S", "blocks": [{"schedule_id": "s1", "steps": [{"kind": "hangup"}]}]})
    assert e.value.code == "scheme.last_block_schedule"
    doc = clean_scheme({"name": "S", "blocks": [
        {"schedule_id": "work", "steps": [{"kind": "greeting", "sound_id": "snd"},
                                          {"kind": "forward", "target": {"type": "group", "id": "g1"},
                                           "queue": {"enabled": True, "max_wait": 20}},
                                          {"kind": "hangup"}]},
        {"steps": [{"kind": "fax", "emails": ["x@y.ru"]}, {"kind": "hangup"}]}]})
    assert set(refs_of_scheme(doc)) == {("schedule", "work", "blocks[0].schedule_id"), ("sound", "snd", "greeting"),
                                        ("group", "g1", "forward")}
    sk = skeleton(doc)
    assert [s["kind"] for s in sk["blocks"][0]["steps"]] == ["greeting", "forward", "hangup"]
    assert list(refs_of_scheme(sk)) == [] and sk["blocks"][1]["steps"][0]["emails"] == []


# --- groups -------------------------------------------------------------------------------------
def test_group_defaults_follow_product_and_dtmf_codes_are_checked():
    g = clean_group({"name": "Sales", "extension": "20"})
    assert g["strategy"] == "sequential" and g["dtmf"] == {"transfer": "##", "toggle": "*", "return": "#",
                                                           "fax": "0", "record": "#5"}
    assert g["queue"]["max_wait"] == 600 and g["queue"]["mode"] == "pbx" and g["ring_time"] is None
    with pytest.raises(RuleError) as e:
        clean_group({"name": "S", "extension": "20", "dtmf": {"fax": "##"}})
    assert e.value.code == "dtmf.duplicate" and e.value.field == "dtmf.fax"
    with pytest.raises(RuleError) as e:
        clean_group({"name": "S", "extension": "20", "dtmf": {"fax": "0a"}})
    assert e.value.code == "dtmf.code"
    with pytest.raises(RuleError) as e:
        clean_group({"name": "S", "extension": "20", "strategy": "round_robin"})
    assert e.value.code == "value.choice" and e.value.field == "strategy"
    with pytest.raises(RuleError) as e:
        clean_group({"name": "S", "extension": "20", "members": [{"kind": "external", "value": "8 912 123"}]})
    assert e.value.field == "members[0].value"


def test_extension_rules():
    assert clean_extension("6") == "6" and clean_extension(12345) == "12345"
    for bad in ("", "123456", "12a", None, True):
        with pytest.raises(RuleError) as e:
            clean_extension(bad)
        assert e.value.code == "extension.format"
    with pytest.raises(RuleError) as e:
        clean_extension("112")
    assert e.value.code == "direction.emergency_extension"


# --- sound files: decided by content --------------------------------------------------------------
def test_wav_and_mp3_are_recognised_by_content_not_name():
    info = probe_audio(wav_bytes())
    assert (info.format, info.sample_rate, info.channels, info.bits) == ("wav", 8000, 1, 16)
    assert info.duration == pytest.approx(0.2, abs=0.01)
    mp3 = probe_audio(mp3_bytes())
    assert (mp3.format, mp3.sample_rate, mp3.bitrate) == ("mp3", 44100, 128)


@pytest.mark.parametrize("data, code", [
    (b"", "sound.empty"),
    (b"This is a plain text file pretending to be a .wav\n" * 10, "sound.format"),
    (b"RIFF\x00\x00\x00\x00WAVEjunk", "sound.format"),
    (bytes([0xFF, 0xFB, 0x90, 0x44]) + b"\x00" * 413 + b"not a frame" * 10, "sound.format"),
])
def test_non_audio_is_refused(data, code):
    with pytest.raises(RuleError) as e:
        probe_audio(data)
    assert e.value.code == code and e.value.field == "file"


def test_non_pcm_wav_and_oversized_files_are_refused():
    alaw = bytearray(wav_bytes())
    struct.pack_into("<H", alaw, 20, 6)  # fmt chunk: audio format 6 = A-law
    with pytest.raises(RuleError) as e:
        probe_audio(bytes(alaw))
    assert e.value.code == "sound.wav_codec" and "PCM" in e.value.message("ru")
    with pytest.raises(RuleError) as e:
        probe_audio(b"\x00" * (32 * 1024 * 1024 + 1))
    assert e.value.code == "sound.too_large" and e.value.params["max_mb"] == 32


def _patched(offset: int, fmt: str, *values) -> bytes:
    wav = bytearray(wav_bytes())
    struct.pack_into(fmt, wav, offset, *values)
    return bytes(wav)


@pytest.mark.parametrize("lie", [
    (24, "<I", 4_000_000_000),                     # sample rate 4 000 000 000 Hz
    (24, "<II", 4_000_000_000, 8_000_000_000 % 2**32),  # ... with a byte rate to match
    (24, "<I", 1),                                 # 1 Hz
    (22, "<H", 0x4000),                            # 16384 channels
    (28, "<I", 123),                               # byte rate does not follow rate × block align
    (32, "<H", 7),                                 # block align does not follow channels × bits
])
def test_a_wav_header_that_lies_about_the_file_is_refused(lie):
    """probe_wav checks the header against the file: sample rate, channels, block align, byte
    rate, the RIFF and data sizes (a hostile upload claimed 4 GHz and 2 GB)."""
    with pytest.raises(RuleError) as e:
        probe_audio(_patched(*lie))
    assert e.value.code == "sound.wav_header" and e.value.field == "file"
    assert "WAV" in e.value.message("en") and "WAV" in e.value.message("ru")
    # an honest file of every rate and layout the cabinet accepts still passes
    for rate, width, channels in ((8000, 2, 1), (16000, 2, 1), (48000, 2, 2), (44100, 1, 1)):
        info = probe_audio(wav_bytes(rate=rate, width=width, channels=channels))
        assert (info.sample_rate, info.channels) == (rate, channels)


def test_wav_sizes_are_measured_on_the_file_not_taken_from_the_header():
    honest = probe_audio(wav_bytes())
    for lie in ((40, "<I", 2 * 1024 ** 3), (4, "<I", 2 * 1024 ** 3), (40, "<I", 0xFFFFFFFF)):
        info = probe_audio(_patched(*lie))  # 2 GB claimed in a 3 KB file (or a pipe's placeholder)
        assert info.duration == honest.duration == pytest.approx(0.2, abs=0.01)
    with pytest.raises(RuleError) as e:  # a header and no audio at all
        probe_audio(wav_bytes()[:44])
    assert e.value.code == "sound.wav_header"


# --- SIP rules ----------------------------------------------------------------------------------
def test_sip_login_domain_and_password_rules():
    assert clean_login("Ivanov") == "ivanov" and clean_login("000123") == "000123"
    for bad in ("iva", "1ivanov", "12345", "ivan ov", "иванов"):
        with pytest.raises(RuleError) as e:
            clean_login(bad)
        assert e.value.code == "sip_account.login"
    assert clean_domain_label("MyDomain") == "mydomain"
    for bad in ("abc", "1abc", "my.domain", "my_domain"):
        with pytest.raises(RuleError):
            clean_domain_label(bad)
    assert clean_sip_password("Secret123") == "Secret123"
    for bad in ("Secr123", "secret123", "SECRET123", "SecretPass"):
        with pytest.raises(RuleError) as e:
            clean_sip_password(bad)
        assert e.value.code == "sip_account.password"
    with pytest.raises(RuleError) as e:
        clean_sip_password("Пароль123Ab")
    assert e.value.code == "sip_account.password_chars"
    for _ in range(20):
        assert clean_sip_password(generate_sip_password())


def test_whitelist_entries_use_the_acl_syntax():
    ok = clean_sip_access({"mode": "restricted", "entries": ["192.168.1.16-32", {"value": "10.*", "comment": "office"}]})
    assert [e["value"] for e in ok["entries"]] == ["192.168.1.16-32", "10.*"]
    for bad in ("192.168.1.1-2-3", "192.168.*.5", "300.1.1.1", "10.1"):
        with pytest.raises(RuleError) as e:
            clean_sip_access({"mode": "restricted", "entries": [bad]})
        assert e.value.code == "whitelist.entry" and e.value.field == "entries[0].value"
    with pytest.raises(RuleError) as e:
        clean_sip_access({"mode": "restricted", "entries": []})
    assert e.value.code == "whitelist.empty"


# --- secrets and messages -------------------------------------------------------------------------
def test_secret_box_round_trip_is_bound_to_its_owner():
    box = SecretBox(derive_key("installation secret"))
    stored = box.encrypt("Secret123", "sip_account:a")
    assert "Secret123" not in stored and stored.startswith("v1:")
    assert box.decrypt(stored, "sip_account:a") == "Secret123"
    with pytest.raises(SecretError):
        box.decrypt(stored, "sip_account:b")
    with pytest.raises(SecretError):
        SecretBox(derive_key("another secret")).decrypt(stored, "sip_account:a")


def test_in_use_lists_referrers_in_both_languages():
    err = InUse("Sales", [Reference("scheme", "s1", "Day", "forward"), Reference("client_rule", "r1", "7495*")])
    assert err.message("en") == "'Sales' is used by: scheme 'Day', client-number rule '7495*'. It cannot be deleted"
    assert err.message("ru").startswith("«Sales» используется: схема «Day»")
    assert err.to_dict("en")["references"][0] == {"type": "scheme", "id": "s1", "name": "Day", "field": "forward"}


def test_every_telephony_message_has_both_languages_and_is_registered():
    ru = i18n.catalog("ru")
    for code, english in TEL_MESSAGES.items():
        assert english and ru.get(english) and MESSAGES[code] == english


# --- the extension bounds: one statement, every validator ----------------------------------------
def test_extension_bounds_are_the_same_for_extensions_menus_and_pbx_settings():
    from esl_control.model.common import DIAL_LONGEST_MIN, EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS
    from esl_control.model.pbx_settings.schemas import clean_call_handling

    longest = "9" * EXTENSION_MAX_DIGITS
    assert clean_extension(longest) == longest
    for bad in ("9" * (EXTENSION_MAX_DIGITS + 1), "9" * (EXTENSION_MIN_DIGITS - 1)):
        with pytest.raises(RuleError) as e:
            clean_extension(bad)
        assert e.value.code == "extension.format"

    def menu(lo, hi):
        return clean_scheme({"name": "S", "blocks": [{"steps": [
            {"kind": "menu", "children": {"1": {}}, "rules": {"disa": {"min_length": lo, "max_length": hi}}},
            {"kind": "hangup"}]}]})

    def settings(lo, hi):
        return clean_call_handling({"dial_extensions": {"enabled": True, "min_length": lo, "max_length": hi}})

    for check in (menu, settings):
        check(EXTENSION_MIN_DIGITS, EXTENSION_MAX_DIGITS)           # the widest allowed
        check(EXTENSION_MAX_DIGITS, EXTENSION_MAX_DIGITS)
        for lo, hi in ((EXTENSION_MIN_DIGITS - 1, EXTENSION_MAX_DIGITS), (EXTENSION_MIN_DIGITS, EXTENSION_MAX_DIGITS + 1),
                       (EXTENSION_MIN_DIGITS, DIAL_LONGEST_MIN - 1), (DIAL_LONGEST_MIN + 1, DIAL_LONGEST_MIN)):
            with pytest.raises(RuleError):
                check(lo, hi)

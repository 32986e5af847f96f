"""The decision path told in words (web/telephony/dryrun/describe.py): every kind of step the
engine notes has its line in English and Russian (no entry makes the page fail), the headline
stops at the first menu, and what the caller hears is the prompt's text in the reader's language."""
from __future__ import annotations

from functools import partial

import pytest

from pult import i18n
from web.telephony.dryrun.describe import describe, headline, heard

PATH = [
    {"step": "inbound", "number": "74951234567", "caller": None, "pbx_id": 101},
    {"step": "list", "mode": "white", "allowed": True, "reason": "listed", "entry": "7916"},
    {"step": "client_rule", "rule_id": "r1", "entry": "79160000001", "target": "external:79031112233"},
    {"step": "forward", "target": "external:79031112233", "ring_time": 20},
    {"step": "ring", "target": "external:79031112233", "result": "busy", "simultaneous": False,
     "legs": [{"target": "external:79031112233", "kind": "external", "address": "79031112233", "timeout": 20,
               "result": "busy", "cause": "USER_BUSY"}]},
    {"step": "scheme", "scheme_id": "s1", "name": "Day", "block": 0, "schedule_id": None},
    {"step": "greeting", "sound": "Hello", "wait_end": False, "pressed": "1"},
    {"step": "menu", "input": "fax_tone", "rule": "fax_detect"},
    {"step": "password", "ok": False, "attempt": 2},
    {"step": "group", "target": "group:g1", "strategy": "uniform", "members": 3, "attempts": 2, "ring_time": 15},
    {"step": "ring", "target": "group:g1", "attempt": 1, "simultaneous": True, "result": "no_answer", "legs": [
        {"address": "u1@d", "timeout": 0, "result": "no_answer"}, {"address": "u2@d", "timeout": 15, "result": "failed"}]},
    {"step": "ring", "target": "group:g1", "result": "failed", "reason": "no_members"},
    {"step": "pause", "seconds": 5, "melody": "Waltz"},
    {"step": "skip", "target": "external:79990000000", "reason": "out_of_schedule"},
    {"step": "skip", "target": "external:79031112233", "reason": "no_platform_gateway"},
    {"step": "skip", "target": "external:79031112244", "reason": "lines_busy", "lines": 1},
    {"step": "skip", "target": "trunk:t1", "reason": "trunk_inactive"},
    {"step": "skip", "target": "trunk:t2", "reason": "trunk_lines", "lines": 5},
    {"step": "unavailable", "action": "voicemail"},
    {"step": "unavailable", "action": "busy", "message": False},
    {"step": "voicemail", "max_seconds": 120},
    {"step": "fax"},
    {"step": "return_to_main"},
    {"step": "blocked", "reasons": ["balance"]},
    {"step": "limit", "max_calls": 4, "result": "busy"},
    {"step": "problem", "reason": "group_missing", "target": "g9"},
    {"step": "problem", "reason": "something_new"},
    {"step": "conference", "room": "r1", "pin": True},
    {"step": "scheme", "scheme_id": None, "reason": "no_scheme"},
    # the steps of a phone's own call (internal, outbound), kept in its call record
    {"step": "internal", "dialled": "84951112233", "caller": "101", "pbx_id": 101},
    {"step": "route", "kind": "trunk", "reason": "prefix", "number": "4951112233", "trunk_id": "t1"},
    {"step": "route", "kind": "platform", "number": "74951112233", "direction": "local"},
    {"step": "route", "kind": "internal", "number": "102"},
    {"step": "route", "kind": "refused", "reason": "direction_barred", "direction": "international"},
    {"step": "outbound", "result": "refused", "reason": "trunk_lines", "lines": 2},
    {"step": "hangup", "cause": "NORMAL_CLEARING"},
]


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_every_step_kind_has_a_line_in_both_languages(lang):
    t = partial(i18n.translate, lang)
    lines = describe({"path": PATH}, None, t)
    assert len(lines) == len(PATH)
    assert all(line["text"] and line["text"] != line["step"] for line in lines if line["step"] != "problem")
    if lang == "en":
        texts = [line["text"] for line in lines]
        assert texts[0] == "A call to 74951234567 from a hidden number"
        assert "The white list lets the caller through (entry 7916)" in texts
        assert "Rings: 79031112233 for 20 s — busy" in texts
        assert "Greeting «Hello», the caller presses 1 during it" in texts
        assert "Voice menu: a fax tone → rule «Fax detection»" in texts
        assert "Rings at once (attempt 1): u1@d for ∞ s — no answer; u2@d for 15 s — failed" in texts
        assert "group:g1: 3 members longest idle first, 2 attempts" in texts
        assert "Problem: the group was deleted, the step is skipped" in texts
        assert "A call from 101 to 84951112233" in texts and "Outbound through trunk:t1 to 4951112233" in texts
        assert "Outbound routing refuses the call (direction_barred)" in texts
        assert "Problem: something_new" in texts  # an unknown reason is shown as it is, never an error
        assert "number 79031112233 is skipped: the platform has no gateway for external numbers" in texts
        assert "number 79031112244 is skipped: all its lines are busy" in texts
        assert "trunk:t1 is skipped: it is switched off" in texts  # not "outside its schedule"
        assert "trunk:t2 is skipped: all its lines are busy" in texts
        assert "Unavailable: the caller hears the message, then voice mail" in texts
        assert "Unavailable: no message, then busy signal" in texts
    else:
        assert lines[0]["text"] == "Звонок на 74951234567 со скрытого номера"
        assert lines[-1]["text"] == "Разъединение"
        assert "trunk:t1 пропускается: он отключён" in [line["text"] for line in lines]
        assert "Недоступен: без сообщения, затем сигнал «занято»" in [line["text"] for line in lines]
        assert "номер 79031112233 пропускается: у платформы нет шлюза для внешних номеров" in [
            line["text"] for line in lines]


def test_the_headline_stops_at_the_first_menu_or_a_refusal():
    t = partial(i18n.translate, "en")
    path = [{"step": "inbound"}, {"step": "list", "mode": None, "allowed": True},
            {"step": "scheme", "scheme_id": "s1", "name": "Day", "block": 0},
            {"step": "greeting", "sound": "Hi"}, {"step": "menu", "input": None, "result": "replay"},
            {"step": "menu", "input": None, "result": "next_step"}, {"step": "hangup"}]
    assert headline({"path": path}, None, t) == "Now: scheme «Day» → greeting → menu"
    refused = [{"step": "inbound"}, {"step": "list", "mode": "black", "allowed": False, "entry": "7"}]
    assert headline({"path": refused}, None, t) == "Now: the caller is refused by the list"
    assert headline({"path": [{"step": "blocked"}]}, None, partial(i18n.translate, "ru")) == \
        "Сейчас: ВАТС заблокирована, звонящий слышит уведомление"
    assert headline(None, None, t) == "Now: —"


def test_what_the_caller_hears_is_the_prompt_in_the_readers_language():
    actions = [{"verb": "answer"}, {"verb": "play", "media": "phrase:no_answer"},
               {"verb": "collect", "media": "sound:Menu prompt"}, {"verb": "pause", "media": None},
               {"verb": "hangup"}]
    assert heard({"actions": actions}, "en") == ["«The subscriber does not answer. Please call later.»", "«Menu prompt»"]
    assert heard({"actions": actions}, "ru")[0].startswith("«Абонент не отвечает")


def test_the_built_in_sounds_and_the_default_group_are_named_in_the_readers_language():
    """The engine names a sound by its stored name (a built-in's is Russian) and seed 000's group
    keeps «По умолчанию»: the English page says them in English, the Russian one in Russian; a
    tenant's own file and a renamed group keep the names as typed."""
    from esl_control.model.effective import PbxSnapshot
    from web.telephony.dryrun.describe import target_name

    snap = PbxSnapshot(pbx_id=101, pbx={}, state=None, settings={})
    snap.sounds = {"builtin:sirtaki": {"_id": "builtin:sirtaki", "builtin": True, "name": "Сиртаки"},
                   "f1": {"_id": "f1", "builtin": False, "name": "Приветствие"}}
    snap.groups = {"g6": {"_id": "g6", "default": True, "name": "По умолчанию"},
                   "g7": {"_id": "g7", "name": "Продажи"}}
    actions = [{"verb": "play", "media": "sound:Сиртаки"}, {"verb": "play", "media": "sound:Приветствие"}]
    en, ru = partial(i18n.translate, "en"), partial(i18n.translate, "ru")
    assert heard({"actions": actions}, "en", snap, en) == ["«Sirtaki»", "«Приветствие»"]
    assert heard({"actions": actions}, "ru", snap, ru) == ["«Сиртаки»", "«Приветствие»"]
    assert target_name(snap, "group:g6", en) == "group «Default»"
    assert target_name(snap, "group:g6", ru) == "группа «По умолчанию»"
    assert target_name(snap, "group:g7", en) == "group «Продажи»"

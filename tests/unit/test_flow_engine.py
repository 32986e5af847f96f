"""The call engine over the recording FakeChannel: what a caller hears, who rings, where it ends."""
from __future__ import annotations

import subprocess
import sys

import pytest

from esl_control.flow.dryrun import dry_run
from tests.unit.flow_data import (CLIENT_MEMBER, EVENING, NUMBER, PETROV_PHONE, SALES_MEMBER, SUNDAY, WORK_TIME,
                                  documents, snapshot)

CALLER = "79031234567"


def steps(result, kind=None):
    return [p for p in result["path"] if kind is None or p["step"] == kind]


def rings(result):
    return [(p["target"], [(leg["address"], leg["timeout"], leg["result"]) for leg in p.get("legs", [])], p["result"])
            for p in steps(result, "ring")]


async def run(snap=None, *, digits=(), answers=None, at=WORK_TIME, caller=CALLER, number=NUMBER, **kw):
    return await dry_run(snap or snapshot(), number=number, caller=caller, at=at, digits=digits,
                         answers=answers, **kw)


# --- the worked example of inventory A §4.4.2.1 -----------------------------------------------
async def test_worked_example_1_rings_the_client_department_and_ends_when_answered():
    r = await run(digits=["1"], answers={CLIENT_MEMBER: "answered"})
    assert [p["step"] for p in r["path"]][:4] == ["inbound", "list", "scheme", "greeting"]
    assert steps(r, "scheme")[0]["block"] == 0
    assert steps(r, "greeting")[0]["sound"] == "Приветствие"
    assert steps(r, "menu")[0]["item"] == "1"
    assert rings(r) == [("group:grp_client", [(CLIENT_MEMBER, 20, "answered")], "answered")]
    assert not steps(r, "voicemail")
    assert r["ended"]["cause"] == "NORMAL_CLEARING"


async def test_worked_example_2_sales_then_the_employee_by_one_method_then_voicemail():
    r = await run(digits=["2"])
    assert rings(r) == [("group:grp_sales", [(SALES_MEMBER, 20, "no_answer")], "no_answer"),
                        ("employee:emp_petrov", [(PETROV_PHONE, 60, "no_answer")], "no_answer")]
    vm = steps(r, "voicemail")
    assert len(vm) == 1 and vm[0]["max_seconds"] == 180 and vm[0]["path"]
    assert r["actions"][-1]["verb"] == "hangup"


async def test_worked_example_2_answered_by_the_employee():
    r = await run(digits=["2"], answers={PETROV_PHONE: "answered"})
    assert rings(r)[-1] == ("employee:emp_petrov", [(PETROV_PHONE, 60, "answered")], "answered")
    assert not steps(r, "voicemail")


async def test_worked_example_no_input_goes_to_the_client_department_for_the_pbx_default_time():
    r = await run(digits=[None])
    assert steps(r, "menu")[0]["rule"] == "no_input"
    # ring time None in the rule's forward = the PBX default answer time (120 s)
    assert rings(r) == [("group:grp_client", [(CLIENT_MEMBER, 120, "no_answer")], "no_answer")]
    assert steps(r, "voicemail")
    collect = next(a for a in r["actions"] if a["verb"] == "collect")
    assert collect["timeout"] == 5.0


async def test_worked_example_wrong_digit_is_other_input_greeting_then_voicemail():
    r = await run(digits=["7"])
    assert steps(r, "menu")[0] == {"step": "menu", "input": "7", "rule": "other_input"}
    assert [g["sound"] for g in steps(r, "greeting")] == ["Приветствие", "Неверный выбор"]
    assert not rings(r)
    assert steps(r, "voicemail")


async def test_worked_example_fax_tone_receives_the_fax():
    r = await run(digits=["fax"])
    assert steps(r, "menu")[0]["rule"] == "fax_detect"
    fax = steps(r, "fax")[0]
    assert fax["emails"] == ["petrov@host.ru"] and fax["ok"] is True
    assert "receive_fax" in [a["verb"] for a in r["actions"]]


@pytest.mark.parametrize("at", [EVENING, SUNDAY])
async def test_worked_example_any_other_time_greeting_then_fax(at):
    r = await run(at=at)
    assert steps(r, "scheme")[0]["block"] == 1
    assert [g["sound"] for g in steps(r, "greeting")] == ["Мы не работаем"]
    assert steps(r, "fax")


# --- inbound order -----------------------------------------------------------------------------
async def test_blocked_pbx_hears_the_notice_and_is_hung_up():
    r = await run(snapshot(balance=-100), digits=["1"], answers={CLIENT_MEMBER: "answered"})
    assert steps(r, "blocked")[0]["reasons"] == ["balance"]
    assert "phrase:pbx_blocked" in [a.get("media") for a in r["actions"]]
    assert not rings(r) and r["ended"]["cause"] == "CALL_REJECTED"


async def test_blocked_pbx_still_makes_internal_calls():
    r = await run(snapshot(balance=-100), number="102", caller="101", internal=True,
                  answers={"102": "answered"})
    assert not steps(r, "blocked")
    assert rings(r)[0][2] == "answered"


def _with_list(mode, *entries, unknown_allowed=True):
    docs = documents()
    docs["tel_settings"][0]["lists"] = {"mode": mode, "unknown_allowed": unknown_allowed}
    docs["list_entries"] = [{"_id": f"e{i}", "list": mode, "kind": "phone", "value": v, "exact": True}
                            for i, v in enumerate(entries)]
    return snapshot(docs)


@pytest.mark.parametrize("mode,entries,caller,allowed,reason", [
    ("white", [CALLER], CALLER, True, "in_white_list"),
    ("white", ["79990000000"], CALLER, False, "not_in_white_list"),
    ("black", [CALLER], CALLER, False, "in_black_list"),
    ("black", ["79990000000"], CALLER, True, "not_in_black_list"),
    (None, [], CALLER, True, "no_list"),
])
async def test_black_and_white_lists_decide_busy_or_continue(mode, entries, caller, allowed, reason):
    r = await run(_with_list(mode, *entries) if mode else snapshot(), digits=["1"], caller=caller)
    decision = steps(r, "list")[0]
    assert (decision["allowed"], decision["reason"]) == (allowed, reason)
    if allowed:
        assert steps(r, "menu")
    else:
        assert not steps(r, "greeting") and r["ended"]["cause"] == "USER_BUSY"


@pytest.mark.parametrize("unknown_allowed,cause", [(True, "NORMAL_CLEARING"), (False, "USER_BUSY")])
async def test_hidden_caller_with_a_list_follows_the_unknown_setting(unknown_allowed, cause):
    r = await run(_with_list("white", CALLER, unknown_allowed=unknown_allowed), caller="anonymous",
                  digits=["1"], answers={CLIENT_MEMBER: "answered"})
    assert steps(r, "list")[0]["allowed"] is unknown_allowed
    assert r["ended"]["cause"] == cause


def _with_client_rule(target_kind="employee", target="emp_petrov", **kw):
    docs = documents()
    docs["client_rules"] = [{"_id": "r1", "position": 0, "kind": "phone", "value": CALLER, "exact": True,
                             "target_kind": target_kind, "target": target, "contact_method": kw.get("method"),
                             "ring_time": kw.get("ring_time"), "active": kw.get("active", True)}]
    return snapshot(docs)


async def test_client_rule_answered_ends_the_call_before_the_scheme():
    r = await run(_with_client_rule(ring_time=40), answers={"101": "answered"})
    assert steps(r, "client_rule")[0]["rule_id"] == "r1"
    assert rings(r) == [("employee:emp_petrov", [(f"101@vpbx101.example.ru", 40, "answered")], "answered")]
    assert not steps(r, "scheme")


async def test_client_rule_not_answered_goes_on_to_the_scheme():
    r = await run(_with_client_rule(), digits=["1"], answers={CLIENT_MEMBER: "answered"})
    assert rings(r)[0][2] == "no_answer"
    assert steps(r, "scheme") and rings(r)[-1][2] == "answered"


async def test_inactive_client_rule_is_skipped():
    r = await run(_with_client_rule(active=False), digits=["1"])
    assert not steps(r, "client_rule") and steps(r, "scheme")


async def test_no_scheme_rings_the_default_group_then_voicemail():
    r = await run(number="74957654321")
    assert steps(r, "scheme")[0]["reason"] == "no_scheme"
    assert [t for t, _, _ in rings(r)] == ["group:grp_dial"] * 6
    assert steps(r, "voicemail")


async def test_concurrent_call_limit_gives_busy():
    from esl_control.flow.channel import FakeChannel
    from esl_control.flow.engine import CallContext, Engine
    from esl_control.flow.inbound import run_inbound
    snap = snapshot(max_concurrent_calls=2)
    ch = FakeChannel(caller=CALLER, destination=NUMBER)
    ctx = CallContext(snap, ch, WORK_TIME, CALLER, NUMBER, number=snap.number(number=NUMBER))
    await run_inbound(ctx, Engine(), over_limit=lambda: True)
    assert ctx.path[-1] == {"step": "limit", "max_calls": 2, "result": "busy"}
    assert ch.hangup_cause == "USER_BUSY" and not ch.answered


# --- groups ------------------------------------------------------------------------------------
async def test_seed_000_dial_list_sequential_two_attempts_pause_answered_on_the_second():
    second = "79160000102"
    r = await run(number="74957654321", answers={second: ["no_answer", "answered"]})
    assert rings(r) == [
        ("group:grp_dial", [("79160000101", 15, "no_answer")], "no_answer"),
        ("group:grp_dial", [(second, 15, "no_answer")], "no_answer"),
        ("group:grp_dial", [("79160000103", 15, "no_answer")], "no_answer"),
        ("group:grp_dial", [("79160000101", 15, "no_answer")], "no_answer"),
        ("group:grp_dial", [(second, 15, "answered")], "answered"),
    ]
    assert [p["attempt"] for p in steps(r, "ring")] == [1, 1, 1, 2, 2]
    pause = steps(r, "pause")
    assert pause == [{"step": "pause", "seconds": 10, "melody": "Сиртаки"}]
    assert not steps(r, "voicemail")


def _group_snapshot(strategy, members, **group):
    docs = documents()
    docs["ring_groups"][2].update(strategy=strategy, members=members, attempts=1, attempt_pause=0, **group)
    return snapshot(docs)


def _ext(value, priority=1):
    return {"id": value, "kind": "external", "value": value, "lines": 1, "schedule_id": None, "priority": priority}


async def test_simultaneous_group_rings_everyone_at_once():
    r = await run(_group_snapshot("simultaneous", [_ext("79160000201"), _ext("79160000202")]),
                  number="74957654321", answers={"79160000202": "answered"})
    ring = steps(r, "ring")
    assert len(ring) == 1 and ring[0]["simultaneous"] is True
    assert ring[0]["answered_by"] == "external:79160000202"


async def test_priority_group_rings_the_best_priority_together_first():
    members = [_ext("79160000301", 2), _ext("79160000302", 1), _ext("79160000303", 1)]
    r = await run(_group_snapshot("priority", members), number="74957654321")
    assert [[leg[0] for leg in legs] for _, legs, _ in rings(r)] == [["79160000302", "79160000303"], ["79160000301"]]


async def test_random_group_rings_each_member_once_in_a_seeded_order():
    members = [_ext(f"7916000040{i}") for i in range(5)]
    r = await run(_group_snapshot("random", members), number="74957654321")
    order = [legs[0][0] for _, legs, _ in rings(r)]
    assert sorted(order) == [m["value"] for m in members] and order != [m["value"] for m in members]


async def test_uniform_group_rings_the_longest_idle_member_first():
    from esl_control.flow.channel import FakeChannel
    from esl_control.flow.engine import CallContext, Engine
    from esl_control.flow.shared import LocalCallState
    from esl_control.flow.targets import ring_group
    snap = _group_snapshot("uniform", [_ext("79160000501"), _ext("79160000502")])
    import itertools
    clock = itertools.chain([100.0, 50.0], itertools.repeat(200.0))  # then: the lines taken while ringing
    shared = LocalCallState(now=lambda: next(clock))
    await shared.finished(101, "external:79160000501")  # finished at 100
    await shared.finished(101, "external:79160000502")  # finished at 50: idle longer
    ctx = CallContext(snap, FakeChannel(), WORK_TIME, CALLER, shared=shared)
    await ring_group(ctx, snap.group("grp_dial"))
    assert [p["legs"][0]["address"] for p in ctx.path if p["step"] == "ring"] == ["79160000502", "79160000501"]


async def test_an_external_member_whose_lines_are_all_taken_is_skipped_and_lines_are_given_back():
    """An external member's ``lines``: the calls of the PBX ringing or talking to that number
    (shared by the Pult instances); a member with every line taken by other calls is skipped,
    one with a free line rings and holds the line only while it rings and talks."""
    from esl_control.flow.channel import FakeChannel
    from esl_control.flow.engine import CallContext
    from esl_control.flow.shared import LocalCallState
    from esl_control.flow.targets import line_key, ring_group
    one, two = _ext("79160000701"), dict(_ext("79160000702"), lines=2)
    snap = _group_snapshot("sequential", [one, two])
    shared = LocalCallState()
    await shared.enter(line_key(101, "79160000701"), "other-call-1")  # its only line is busy
    await shared.enter(line_key(101, "79160000702"), "other-call-2")  # one of its two lines
    during: list[int] = []

    def answers(leg, attempt):
        during.append(len(shared.calls[line_key(101, leg.address)]))
        return "answered"

    ctx = CallContext(snap, FakeChannel(answers=answers), WORK_TIME, CALLER, shared=shared)
    result = await ring_group(ctx, snap.group("grp_dial"))
    assert result.answered and result.answered_by.address == "79160000702"
    assert [p["legs"][0]["address"] for p in ctx.path if p["step"] == "ring"] == ["79160000702"]
    skip = [p for p in ctx.path if p["step"] == "skip"]
    assert skip == [{"step": "skip", "target": "external:79160000701", "reason": "lines_busy", "lines": 1}]
    assert during == [2]  # this call held the second line while it rang and talked
    assert set(shared.calls[line_key(101, "79160000701")]) == {"other-call-1"}
    assert set(shared.calls[line_key(101, "79160000702")]) == {"other-call-2"}  # given back


async def test_a_number_with_an_extension_suffix_shares_the_lines_of_the_number():
    from esl_control.flow.targets import line_key
    assert line_key(101, "74951234567(123)") == line_key(101, "74951234567") == "line:101:74951234567"


async def test_external_member_outside_its_schedule_does_not_ring():
    members = [dict(_ext("79160000601"), schedule_id="sch_work"), _ext("79160000602")]
    r = await run(_group_snapshot("sequential", members), number="74957654321", at=SUNDAY)
    assert [legs[0][0] for _, legs, _ in rings(r)] == ["79160000602"]
    assert steps(r, "skip")[0]["reason"] == "out_of_schedule"


async def test_group_with_no_reachable_member_goes_on_to_voicemail():
    r = await run(_group_snapshot("sequential", [dict(_ext("79160000601"), schedule_id="sch_work")]),
                  number="74957654321", at=SUNDAY)
    assert steps(r, "ring")[-1]["reason"] == "no_reachable_member"
    assert steps(r, "voicemail")


async def test_group_ringback_and_line_caller_id():
    docs = documents()
    docs["ring_groups"][2].update(ringback="builtin:abba", caller_id="line", attempts=1)
    r = await run(snapshot(docs), number="74957654321")
    ring = next(a for a in r["actions"] if a["verb"] == "ring")
    assert ring["ringback"] == "sound:abba" and ring["caller_id"] == "74957654321"


# --- employees -----------------------------------------------------------------------------------
def _petrov(mode, methods=None):
    docs = documents()
    emp = docs["employees"][0]
    emp["reception_mode"] = mode
    if methods is not None:
        emp["contact_methods"] = methods
    return snapshot(docs)


async def test_employee_main_mode_rings_only_the_first_active_method_then_unavailable_voicemail():
    r = await run(_petrov("main"), number="101", caller="102", internal=True)
    assert rings(r) == [("employee:emp_petrov", [("101@vpbx101.example.ru", 120, "no_answer")], "no_answer")]
    assert "sound:Абонент не отвечает" in [a.get("media") for a in r["actions"]]
    assert steps(r, "unavailable")[0]["action"] == "voicemail" and steps(r, "voicemail")


async def test_employee_in_turn_mode_rings_each_method_for_its_own_time():
    r = await run(_petrov("sequential"), number="101", caller="102", internal=True, answers={PETROV_PHONE: "answered"})
    assert rings(r) == [("employee:emp_petrov", [("101@vpbx101.example.ru", 120, "no_answer")], "no_answer"),
                        ("employee:emp_petrov", [(PETROV_PHONE, 30, "answered")], "answered")]
    assert not steps(r, "unavailable")


async def test_employee_all_at_once_mode_rings_all_methods_together():
    r = await run(_petrov("simultaneous"), number="101", caller="102", internal=True, answers={"101": "answered"})
    ring = steps(r, "ring")
    assert len(ring) == 1 and ring[0]["simultaneous"] and ring[0]["answered_by"] == "employee:emp_petrov/cm_sip"


async def test_employee_inactive_and_out_of_schedule_methods_do_not_ring():
    methods = [{"id": "a", "kind": "phone", "value": "79160000701", "active": False, "ring_time": None, "schedule_id": None},
               {"id": "b", "kind": "phone", "value": "79160000702", "active": True, "ring_time": None,
                "schedule_id": "sch_work"},
               {"id": "c", "kind": "phone", "value": "79160000703", "active": True, "ring_time": 10, "schedule_id": None}]
    r = await run(_petrov("simultaneous", methods), number="101", caller="102", internal=True, at=SUNDAY)
    assert [leg[0] for leg in rings(r)[0][1]] == ["79160000703"]


@pytest.mark.parametrize("action,expect", [("busy", "USER_BUSY"), ("extension", "NORMAL_CLEARING")])
async def test_pbx_if_unavailable_action(action, expect):
    docs = documents()
    docs["tel_settings"][0]["call_handling"].update(unavailable_action=action, unavailable_extension="102")
    r = await run(snapshot(docs), number="101", caller="79031234567", internal=True, answers={"102": "answered"})
    assert steps(r, "unavailable")[0]["action"] == action
    assert r["ended"]["cause"] == expect
    if action == "extension":
        assert rings(r)[-1] == ("employee:emp_ivanov", [("102@vpbx101.example.ru", 25, "answered")], "answered")


async def test_an_unavailable_message_of_none_plays_nothing_before_the_action():
    """A §4.4.3: «none» as the unavailable message — the caller goes straight to voice mail,
    hearing no message (the catalogue's phrase is not put in its place), then the beep."""
    docs = documents()
    docs["tel_settings"][0]["call_handling"].update(unavailable_action="voicemail", unavailable_message=None)
    docs["tel_settings"][0]["voicemail"] = {"prompt": "builtin:voicemail_warning"}
    r = await run(snapshot(docs), number="101", caller="102", internal=True)
    after_ring = r["actions"][max(i for i, a in enumerate(r["actions"]) if a["verb"] == "ring") + 1:]
    assert [a["verb"] for a in after_ring] == ["answer", "play", "record", "hangup"]
    assert [a["media"] for a in after_ring if a["verb"] == "play"] == ["sound:Оставьте сообщение"]
    assert steps(r, "unavailable")[0]["action"] == "voicemail"
    # the PBX's own message, when set, is what plays
    docs["tel_settings"][0]["call_handling"]["unavailable_message"] = "builtin:unavailable"
    r = await run(snapshot(docs), number="101", caller="102", internal=True)
    assert "sound:Абонент не отвечает" in [a.get("media") for a in r["actions"]]


async def test_a_voicemail_prompt_of_none_is_the_beep_alone():
    """D §4.6.5.1: «none» as the voice-mail prompt — nothing is played before the recording (its
    beep); an unset prompt is the PBX default «Оставьте ваше сообщение»."""
    docs = documents()
    docs["tel_settings"][0]["voicemail"] = {"prompt": None}
    r = await run(snapshot(docs), digits=["7"])  # wrong digit: «Неверный выбор», then voice mail
    assert [a.get("media") for a in r["actions"] if a["verb"] in ("play", "record")] == [
        "sound:Приветствие", "sound:Неверный выбор", None]
    assert steps(r, "voicemail")[0]["path"]
    del docs["tel_settings"][0]["voicemail"]
    r = await run(snapshot(docs), digits=["7"])
    assert [a.get("media") for a in r["actions"] if a["verb"] in ("play", "record")] == [
        "sound:Приветствие", "sound:Неверный выбор", "sound:Оставьте сообщение", None]


async def test_internal_call_to_an_unknown_extension_is_told_so():
    r = await run(number="555", caller="101", internal=True)
    assert "phrase:extension_invalid" in [a.get("media") for a in r["actions"]]
    assert r["ended"]["cause"] == "UNALLOCATED_NUMBER"


async def test_internal_call_to_a_group_extension():
    r = await run(number="10", caller="101", internal=True, answers={CLIENT_MEMBER: "answered"})
    assert rings(r) == [("group:grp_client", [(CLIENT_MEMBER, 120, "answered")], "answered")]


# --- menu rules ----------------------------------------------------------------------------------
def _menu_snapshot(rules=None, children=None, greeting_wait=True):
    docs = documents()
    block = docs["schemes"][0]["blocks"][0]
    block["steps"][0]["wait_end"] = greeting_wait
    menu = block["steps"][1]
    menu["rules"] = rules or {}
    if children is not None:
        menu["children"] = children
    block["steps"].insert(2, {"kind": "voicemail", "emails": []})
    return snapshot(docs)


async def test_unset_rules_replay_the_menu_once_then_the_next_step():
    r = await run(_menu_snapshot(), digits=[None, None])
    menu = steps(r, "menu")
    assert [m.get("result") for m in menu] == ["replay", "next_step"]
    assert r["actions"][2]["verb"] == "collect" and r["actions"][3]["media"] == "sound:Приветствие"
    assert steps(r, "voicemail")


async def test_unset_rules_wrong_digit_says_invalid_replays_once_then_next_step():
    r = await run(_menu_snapshot(), digits=["9", "8"])
    assert [m.get("result") for m in steps(r, "menu")] == ["invalid_replay", "next_step"]
    assert "phrase:menu_invalid" in [a.get("media") for a in r["actions"]]
    assert steps(r, "voicemail")


async def test_wrong_input_rule_after_n_wrong_inputs():
    rules = {"wrong_input": {"count": 2, "schedule_id": None, "steps": [{"kind": "fax", "emails": []}]}}
    r = await run(_menu_snapshot(rules), digits=["9", "9"])
    assert [m.get("rule") or m.get("result") for m in steps(r, "menu")] == ["invalid", "wrong_input"]
    assert steps(r, "fax")


async def test_wrong_input_then_right_choice():
    rules = {"wrong_input": {"count": 3, "schedule_id": None, "steps": [{"kind": "fax", "emails": []}]}}
    r = await run(_menu_snapshot(rules), digits=["9", "1"], answers={CLIENT_MEMBER: "answered"})
    assert steps(r, "menu")[-1]["item"] == "1" and rings(r)[0][2] == "answered"


async def test_password_protected_item():
    children = {"1": {"password": "4321", "steps": [
        {"kind": "forward", "target": {"type": "group", "id": "grp_client"}, "ring_time": 20, "queue": None},
        {"kind": "hangup"}]}}
    r = await run(_menu_snapshot(children=children), digits=["1", "4321"], answers={CLIENT_MEMBER: "answered"})
    assert rings(r)[0][2] == "answered"
    assert "sound:Введите пароль" in [a.get("media") for a in r["actions"]]


async def test_wrong_password_rule_after_n_attempts():
    children = {"1": {"password": "4321", "steps": [{"kind": "hangup"}]}}
    rules = {"wrong_password": {"count": 2, "schedule_id": None, "steps": [{"kind": "voicemail", "emails": []},
                                                                          {"kind": "hangup"}]}}
    r = await run(_menu_snapshot(rules, children), digits=["1", "0000", "1111"])
    assert steps(r, "menu")[-1]["rule"] == "wrong_password"
    assert len(steps(r, "password")) == 2 and steps(r, "voicemail")


async def test_disa_dials_an_extension_of_the_allowed_length():
    rules = {"disa": {"min_length": 3, "max_length": 3, "schedule_id": None}}
    r = await run(_menu_snapshot(rules), digits=["102"], answers={"102": "answered"})
    assert steps(r, "menu")[0]["rule"] == "disa"
    assert rings(r)[0][0] == "employee:emp_ivanov" and rings(r)[0][2] == "answered"


async def test_rule_outside_its_schedule_is_as_if_unset():
    rules = {"no_input": {"timeout": 7, "schedule_id": "sch_work", "steps": [{"kind": "fax", "emails": []}]}}
    # a one-block scheme (on Sunday the worked example is in its "other time" block)
    docs = documents()
    scheme = docs["schemes"][0]
    scheme["blocks"] = [dict(scheme["blocks"][0], schedule_id=None)]
    scheme["blocks"][0]["steps"][1]["rules"] = rules
    r = await run(snapshot(docs), digits=[None, None], at=SUNDAY)
    assert [m.get("result") for m in steps(r, "menu")] == ["replay", "next_step"]


async def test_digit_pressed_during_a_greeting_that_does_not_wait_is_the_choice():
    r = await run(_menu_snapshot(greeting_wait=False), digits=["!1"], answers={CLIENT_MEMBER: "answered"})
    assert steps(r, "greeting")[0]["pressed"] == "1"
    assert steps(r, "menu")[0]["item"] == "1"
    assert "collect" not in [a["verb"] for a in r["actions"]]


async def test_nested_menu_and_return_to_main():
    children = {"1": {"password": None, "steps": [
        {"kind": "menu", "children": {"5": {"password": None, "steps": [{"kind": "return_to_main"}]}}, "rules": {}},
        {"kind": "return_to_main"}]},
        "2": {"password": None, "steps": [{"kind": "fax", "emails": []}, {"kind": "hangup"}]}}
    r = await run(_menu_snapshot(children=children), digits=["1", "5", "2"])
    assert [m.get("item") for m in steps(r, "menu")] == ["1", "5", "2"]
    assert steps(r, "return_to_main") and steps(r, "fax")


# --- bad data ------------------------------------------------------------------------------------
async def test_forward_to_a_deleted_group_goes_on_with_the_next_step():
    docs = documents()
    docs["ring_groups"] = [g for g in docs["ring_groups"] if g["_id"] != "grp_client"]
    r = await run(snapshot(docs), digits=["1"])
    assert {"step": "problem", "reason": "group_missing", "target": "grp_client"} in r["path"]
    assert steps(r, "voicemail")


async def test_a_greeting_not_converted_yet_is_skipped_and_noted():
    docs = documents()
    docs["sound_files"][0]["status"] = "converting"
    r = await run(snapshot(docs), digits=["1"], answers={CLIENT_MEMBER: "answered"})
    assert steps(r, "greeting")[0] == {"step": "greeting", "played": False, "reason": "no_sound"}
    assert rings(r)[0][2] == "answered"


async def test_a_step_that_raises_is_noted_and_the_call_goes_on(monkeypatch):
    from esl_control.flow import targets

    async def broken(*a, **k):
        raise KeyError("members")
    monkeypatch.setattr(targets, "ring_group", broken)
    r = await run(digits=["1"])
    assert any(p["step"] == "problem" and p["reason"] == "step_error" for p in r["path"])
    assert steps(r, "voicemail") and r["ended"]


def test_importing_the_engine_does_not_import_gevent():
    code = ("import sys; import esl_control.flow.dryrun, esl_control.flow.live, esl_control.flow.runner; "
            "assert 'gevent' not in sys.modules, [m for m in sys.modules if 'gevent' in m]")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- outbound calls (PRODUCT.md §4.5) ------------------------------------------------------------
def _outbound_snapshot(outgoing="74951234567", **pbx_fields):
    docs = documents()
    docs["employees"][0]["outgoing_number"] = outgoing
    docs["trunks"] = [{"_id": "t1", "pbx_id": 101, "name": "Office PBX", "active": True, "prefix": "88",
                       "numbers": [{"number": "74959990000", "receive": True, "call": True}]}]
    return snapshot(docs, **pbx_fields)


async def outbound(snap, dialled, answers=None):
    return await dry_run(snap, number=dialled, caller="101", at=WORK_TIME, internal=True, answers=answers)


async def test_outbound_through_the_platform_with_the_outgoing_number_as_caller_id():
    r = await outbound(_outbound_snapshot(), "74951112233", answers={"74951112233": "answered"})
    route = steps(r, "route")[0]
    assert (route["kind"], route["reason"], route["direction"]) == ("platform", "platform", "local")
    ring = next(a for a in r["actions"] if a["verb"] == "ring")
    assert ring["legs"][0]["kind"] == "external" and ring["caller_id"] == "74951234567"


async def test_outbound_trunk_prefix_is_stripped_into_the_trunk():
    r = await outbound(_outbound_snapshot(), "88123456")
    assert steps(r, "route")[0]["reason"] == "trunk_prefix"
    ring = next(a for a in r["actions"] if a["verb"] == "ring")
    assert ring["legs"][0] == {"target": "trunk:t1", "address": "123456", "kind": "trunk", "timeout": 120}


@pytest.mark.parametrize("snap_kw,dialled,phrase", [
    ({"outgoing": None}, "74951112233", "no_outgoing_number"),
    ({"status": "demo"}, "493012345678", "demo_international"),
    ({}, "12ab", "number_invalid"),
])
async def test_outbound_refusals_are_spoken(snap_kw, dialled, phrase):
    kw = dict(snap_kw)
    outgoing = kw.pop("outgoing", "74951234567")
    r = await outbound(_outbound_snapshot(outgoing, **kw), dialled)
    assert f"phrase:{phrase}" in [a.get("media") for a in r["actions"]]
    assert not [a for a in r["actions"] if a["verb"] == "ring"]
    assert r["ended"]["cause"] == "CALL_REJECTED"


async def test_d_5_6_examples_a_short_number_of_the_customers_pbx_goes_through_its_mask():
    """Inventory D §5.6 Ex. 2: an employee dials 456, an extension of the customer's own PBX
    (кАТС) — not one of this PBX: the mask ``([100-500])`` → ``$1`` sends it into the кАТС's trunk
    as 456. Ex. 6: 123, an extension here, stays internal even with the trunk as the outgoing
    line. A short number no route takes is still "no such extension"."""
    snap = _outbound_snapshot()
    snap.settings["trunk_masks"] = [{"id": "k1", "mask": "([100-500])", "transformation": "$1", "trunk_id": "t1",
                                     "active": True}]
    r = await outbound(snap, "456", answers={"456": "answered"})
    assert (steps(r, "route")[0]["kind"], steps(r, "route")[0]["reason"]) == ("trunk", "trunk_mask")
    assert rings(r) == [("trunk:t1", [("456", 120, "answered")], "answered")]
    assert next(a for a in r["actions"] if a["verb"] == "ring")["caller_id"] == "101"  # the extension (D §5.3.3)
    r = await outbound(snap, "102", answers={"102@vpbx101.example.ru": "answered"})  # Ex. 6
    assert not steps(r, "route") and rings(r)[0][1][0][0] == "102@vpbx101.example.ru"
    r = await outbound(snap, "555")  # no mask takes 555 (only 100-500): told it is no extension
    assert "phrase:extension_invalid" in [a.get("media") for a in r["actions"]] and not rings(r)
    # Ex. 5: with a trunk number as the outgoing line, what is no extension goes out through that trunk
    docs = documents()
    docs["employees"][0]["outgoing_number"] = "74959990000"
    docs["trunks"] = [{"_id": "t1", "pbx_id": 101, "name": "Office PBX", "active": True, "prefix": "88",
                       "numbers": [{"number": "74959990000", "receive": True, "call": True}]}]
    r = await outbound(snapshot(docs), "555", answers={"555": "answered"})
    assert steps(r, "route")[0]["reason"] == "outgoing_number_trunk" and rings(r)[0][2] == "answered"


def _from_trunk_snapshot(default_number="74951234567", allow_change=False):
    """The customer's PBX (кАТС) is connected by the trunk t1 (its receive number 74959990000,
    without a scheme); the PBX's second number 74957654321 is a platform number."""
    docs = documents()
    docs["numbers"][1]["kind"] = "platform"
    docs["trunks"] = [{"_id": "t1", "pbx_id": 101, "name": "кАТС", "active": True, "lines": 5,
                       "numbers": [{"number": "74959990000", "receive": True, "call": True}],
                       "default_number": default_number, "allow_number_change": allow_change}]
    return snapshot(docs)


async def from_trunk(snap, dialled, caller="201", answers=None):
    """A call from the trunk t1 (as EngineFlow.run runs it: the inbound order, ``via_trunk``)."""
    from esl_control.flow.channel import FakeChannel
    from esl_control.flow.engine import CallContext, Engine
    from esl_control.flow.inbound import run_inbound

    ch = FakeChannel(caller=caller, destination=dialled, answers=answers)
    ctx = CallContext(snap, ch, WORK_TIME, caller, dialled, number=snap.number(number=dialled), via_trunk="t1")
    await run_inbound(ctx, Engine())
    return {"path": ctx.path, "actions": ch.actions, "ended": {"cause": ch.hangup_cause}}


async def test_d_5_6_ex_1_a_user_of_the_customers_pbx_reaches_an_extension_through_the_trunk():
    """D §5.6 Ex. 1: the кАТС sends 101 (an extension here) through its trunk: the employee's
    phone rings as for a phone's call to it, and nobody answering gets the "if unavailable"
    handling (voice mail), not the default group."""
    snap = _from_trunk_snapshot()
    r = await from_trunk(snap, "101", answers={"101@vpbx101.example.ru": "answered"})
    assert rings(r) == [("employee:emp_petrov", [("101@vpbx101.example.ru", 120, "answered")], "answered")]
    r = await from_trunk(snap, "101")
    assert steps(r, "unavailable")[0]["action"] == "voicemail" and steps(r, "voicemail")
    assert "group:grp_dial" not in [ring[0] for ring in rings(r)]


async def test_d_5_6_ex_4_a_user_of_the_customers_pbx_calls_out_with_the_trunks_number():
    """D §5.6 Ex. 4 / §5.3.3: the кАТС sends an external number through its trunk: it goes out
    through the platform (not back into a trunk) with the trunk's default outgoing number; with
    "allow number change" the number the кАТС sent is kept when it is one of this PBX's platform
    numbers; without a default number the call is refused aloud. The trunk's own receive number
    still takes the inbound way (no scheme: the default group)."""
    r = await from_trunk(_from_trunk_snapshot(), "74997654321", answers={"74997654321": "answered"})
    route = steps(r, "route")[0]
    assert (route["kind"], route["number"]) == ("platform", "74997654321")
    ring = next(a for a in r["actions"] if a["verb"] == "ring")
    assert ring["legs"][0]["kind"] == "external" and ring["caller_id"] == "74951234567"
    snap = _from_trunk_snapshot(allow_change=True)
    r = await from_trunk(snap, "74997654321", caller="74957654321", answers={"74997654321": "answered"})
    assert next(a for a in r["actions"] if a["verb"] == "ring")["caller_id"] == "74957654321"
    r = await from_trunk(snap, "74997654321", caller="79990000000", answers={"74997654321": "answered"})
    assert next(a for a in r["actions"] if a["verb"] == "ring")["caller_id"] == "74951234567"
    r = await from_trunk(_from_trunk_snapshot(default_number=None), "74997654321")
    assert "phrase:no_outgoing_number" in [a.get("media") for a in r["actions"]] and not rings(r)
    assert r["ended"]["cause"] == "CALL_REJECTED"
    r = await from_trunk(_from_trunk_snapshot(), "74959990000")
    assert steps(r, "scheme")[0]["reason"] == "no_scheme" and rings(r)[0][0] == "group:grp_dial"


async def test_a_mask_whose_transformation_leaves_nothing_is_refused_aloud():
    """D §5.3.3.2: a mask that matches but whose transformation gives an empty number (350 with
    ``350|7(\\d{8})`` → ``$1``) is refused with «number invalid», not rerouted or dialled."""
    snap = _outbound_snapshot()
    snap.settings["trunk_masks"] = [{"id": "k1", "mask": r"350|7(\d{8})", "transformation": "$1",
                                     "trunk_id": "t1", "active": True}]
    r = await outbound(snap, "350")
    assert steps(r, "route")[0]["reason"] == "empty_transformation"
    assert "phrase:number_invalid" in [a.get("media") for a in r["actions"]]
    assert not [a for a in r["actions"] if a["verb"] == "ring"] and r["ended"]["cause"] == "CALL_REJECTED"


async def test_blocked_pbx_calls_emergency_but_nothing_else():
    snap = _outbound_snapshot(balance=-1)
    r = await outbound(snap, "74951112233")
    assert "phrase:pbx_blocked" in [a.get("media") for a in r["actions"]]
    r = await outbound(snap, "112", answers={"112": "answered"})
    assert steps(r, "route")[0]["reason"] == "emergency" and rings(r)[0][2] == "answered"


async def test_a_switch_that_refuses_the_bridge_sends_the_call_on_to_the_next_step():
    from esl_control.flow.channel import ChannelFailed, FakeChannel
    from esl_control.flow.engine import CallContext, Engine
    from esl_control.flow.inbound import run_inbound

    class Refusing(FakeChannel):
        async def ring(self, legs, **kw):
            raise ChannelFailed("bridge: -ERR invalid")

    snap = snapshot()
    ch = Refusing(caller=CALLER, destination=NUMBER, digits=["1"])
    ctx = CallContext(snap, ch, WORK_TIME, CALLER, NUMBER, number=snap.number(number=NUMBER))
    await run_inbound(ctx, Engine())
    problem = next(p for p in ctx.path if p["step"] == "problem")
    assert problem["reason"] == "channel_failed" and "-ERR" in problem["detail"]
    assert any(p["step"] == "voicemail" for p in ctx.path)  # the step after the forward
    assert ch.hangup_cause == "NORMAL_CLEARING"


async def test_internal_call_to_a_conference_room_joins_it():
    docs = documents()
    docs["conference_rooms"] = [{"_id": "room1", "pbx_id": 101, "name": "Planning", "extension": "1000",
                                 "seats": 10, "join": "all", "pin": "4321", "pin_for": "all"},
                                {"_id": "room2", "pbx_id": 101, "name": "Clients", "extension": "1001",
                                 "seats": 10, "join": "external", "pin": None, "pin_for": "all"}]
    docs["extensions"] += [{"pbx_id": 101, "extension": "1000", "owner_type": "room", "owner_id": "room1"},
                           {"pbx_id": 101, "extension": "1001", "owner_type": "room", "owner_id": "room2"}]
    snap = snapshot(docs)
    r = await dry_run(snap, number="1000", caller="101", at=WORK_TIME, internal=True)
    assert [a for a in r["actions"] if a["verb"] == "conference"] == [
        {"verb": "conference", "t": 0.0, "room": "room1", "pin": True}]
    r = await dry_run(snap, number="1001", caller="101", at=WORK_TIME, internal=True)
    assert steps(r, "conference")[0]["reason"] == "external_only"
    assert "phrase:extension_invalid" in [a.get("media") for a in r["actions"]]


async def test_outbound_trunk_with_every_line_in_use_says_line_busy():
    from esl_control.flow.channel import FakeChannel
    from esl_control.flow.engine import CallContext
    from esl_control.flow.inbound import run_internal
    from esl_control.flow.shared import LocalCallState
    from esl_control.flow.engine import Engine
    docs = documents()
    docs["employees"][0]["outgoing_number"] = "74951234567"
    docs["trunks"] = [{"_id": "t1", "pbx_id": 101, "name": "Office PBX", "active": True, "prefix": "88", "lines": 5,
                       "numbers": []}]
    snap = snapshot(docs)
    shared = LocalCallState()
    for i in range(5):  # five calls already use the trunk
        await shared.enter("trunk:t1", f"other-{i}")
    ch = FakeChannel(caller="101", destination="88123456")
    ctx = CallContext(snap, ch, WORK_TIME, "101", "88123456", shared=shared, caller_employee=snap.employee("emp_petrov"))
    await run_internal(ctx, Engine())
    assert ctx.path[-1] == {"step": "outbound", "result": "refused", "reason": "trunk_lines", "lines": 5}
    assert "phrase:trunk_busy" in [a.get("media") for a in ch.actions] and ch.hangup_cause == "USER_BUSY"
    assert len(shared.calls["trunk:t1"]) == 5  # the refused call is not counted
    await shared.leave("trunk:t1", "other-0")
    ch = FakeChannel(caller="101", destination="88123456", answers={"123456": "answered"})
    ctx = CallContext(snap, ch, WORK_TIME, "101", "88123456", shared=shared, caller_employee=snap.employee("emp_petrov"))
    await run_internal(ctx, Engine())
    assert [p["result"] for p in ctx.path if p["step"] == "ring"] == ["answered"]
    assert len(shared.calls["trunk:t1"]) == 4  # counted while it rang and talked, counted out after


def _trunk_forward_snapshot(active=True, lines=5):
    """Menu item 1 forwards to the trunk «Office PBX» (its number 2001), then voice mail."""
    docs = documents()
    docs["trunks"] = [{"_id": "t1", "pbx_id": 101, "name": "Office PBX", "active": active, "prefix": "88",
                       "lines": lines, "numbers": []}]
    item = docs["schemes"][0]["blocks"][0]["steps"][1]["children"]["1"]
    item["steps"][0] = {"kind": "forward", "target": {"type": "trunk", "id": "t1", "value": "2001"}, "ring_time": 30}
    return snapshot(docs)


async def test_a_forward_to_a_switched_off_trunk_is_not_dialled_and_the_next_step_runs():
    """D §5.4/§5.5: a trunk switched off is not dialled by a scheme's forward (the switch has no
    gateway for it); the call goes on with the next step, and the path says why."""
    r = await run(_trunk_forward_snapshot(active=False), digits=["1"], answers={"2001": "answered"})
    assert not rings(r)
    assert {"step": "skip", "target": "trunk:t1", "reason": "trunk_inactive"} in r["path"]
    assert steps(r, "voicemail")
    r = await run(_trunk_forward_snapshot(active=True), digits=["1"], answers={"2001": "answered"})
    assert rings(r) == [("trunk:t1", [("2001", 30, "answered")], "answered")] and not steps(r, "voicemail")


async def test_a_forward_into_a_trunk_holds_one_of_its_lines_and_skips_a_full_trunk():
    """D §5.3.1: a scheme's forward into a trunk takes one of its lines while it rings and talks
    (counted with the outbound calls, shared by the instances); with every line in use the trunk
    is not dialled and the scheme goes on (busy). A call that came in through that very trunk
    takes a second line to go back out through it."""
    from esl_control.flow.channel import FakeChannel
    from esl_control.flow.engine import CallContext, Engine
    from esl_control.flow.inbound import run_inbound
    from esl_control.flow.shared import LocalCallState

    snap = _trunk_forward_snapshot(lines=2)
    shared = LocalCallState()

    class Watching(FakeChannel):  # how many lines the trunk has in use while the leg rings
        async def ring(self, legs, **kw):
            self.in_use = len(shared.calls.get("trunk:t1", {}))
            return await super().ring(legs, **kw)

    async def call(uuid, via_trunk=None):
        ch = Watching(caller=CALLER, destination=NUMBER, digits=["1"], answers={"2001": "answered"}, uuid=uuid)
        ctx = CallContext(snap, ch, WORK_TIME, CALLER, NUMBER, number=snap.number(number=NUMBER), shared=shared,
                          via_trunk=via_trunk)
        if via_trunk:
            await shared.enter(f"trunk:{via_trunk}", uuid)  # as EngineFlow.run counts a call from a trunk
        await run_inbound(ctx, Engine())
        return ch, ctx

    ch, ctx = await call("c1")
    assert ch.in_use == 1 and [p["result"] for p in steps({"path": ctx.path}, "ring")] == ["answered"]
    assert "trunk:t1" not in shared.calls  # given back when the conversation ended
    # the call came in through t1 and goes back out through it: two lines while it rings
    ch, ctx = await call("c2", via_trunk="t1")
    assert ch.in_use == 2 and set(shared.calls["trunk:t1"]) == {"c2"}  # its own inbound line is kept
    # both lines taken by other calls: t1 is not dialled, the scheme goes on to voice mail
    await shared.enter("trunk:t1", "other-1")
    await shared.enter("trunk:t1", "other-2")
    ch, ctx = await call("c3")
    assert "ring" not in ch.verbs()
    assert {"step": "skip", "target": "trunk:t1", "reason": "trunk_lines", "lines": 2} in ctx.path
    assert steps({"path": ctx.path}, "voicemail") and set(shared.calls["trunk:t1"]) == {"c2", "other-1", "other-2"}


def test_every_phrase_the_engine_says_is_in_the_prompt_catalogue():
    import re
    from pathlib import Path

    import esl_control.flow as flow
    from esl_control.flow.outbound import REFUSAL_PHRASES
    from esl_control.prompts import PHRASES
    used = set(REFUSAL_PHRASES.values())
    for path in Path(flow.__file__).parent.rglob("*.py"):
        used |= set(re.findall(r'(?:say|phrase)\("([a-z_]+)"\)', path.read_text()))
    assert len(used) > 12  # the scan finds them
    assert used <= set(PHRASES), sorted(used - set(PHRASES))

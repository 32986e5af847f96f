"""One call in detail (esl_control/model/call_history.py): what happened to each leg, the stage
timings and who ended the call, from what a call record carries."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from esl_control.model.call_history import ended_by, leg_result, leg_ringing, legs_in_order, stages

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def leg(uuid, start, end, cause="NO_ANSWER", answer=None, billsec=0, disposition=None) -> dict:
    return {"uuid": uuid, "start": at(start), "end": at(end), "answer": at(answer) if answer is not None else None,
            "billsec": billsec, "hangup_cause": cause,
            "vars": {"sip_hangup_disposition": disposition} if disposition else {}}


def test_a_call_nobody_answered_rang_until_its_last_leg_ended_and_pult_hung_up():
    rec = {"start": T0, "answer": at(1), "end": at(50), "billsec": 49,
           "legs": [leg("b", 25, 45, "USER_BUSY"), leg("a", 5, 25)],
           "path": [{"step": "ring"}, {"step": "hangup", "cause": "NORMAL_CLEARING"}]}
    assert [lg["uuid"] for lg in legs_in_order(rec)] == ["a", "b"]
    assert [leg_result(lg) for lg in legs_in_order(rec)] == ["no_answer", "busy"]
    assert [leg_ringing(lg) for lg in legs_in_order(rec)] == [20, 20]
    assert stages(rec) == {"menu": 4, "ringing": 40, "talk": None}
    assert ended_by(rec) == "pult"


def test_leg_results_and_who_hung_up_by_the_sip_dispositions():
    assert leg_result(leg("x", 0, 5, "ORIGINATOR_CANCEL")) == "cancelled"
    assert leg_result(leg("x", 0, 5, "NODE_LOST")) == "lost"
    assert leg_result(leg("x", 0, 5, "DESTINATION_OUT_OF_ORDER")) == "failed"
    talked = leg("x", 0, 30, "NORMAL_CLEARING", answer=3, billsec=27, disposition="send_bye")
    assert leg_result(talked) == "answered" and leg_ringing(talked) == 3
    # the caller hung up on the conversation: the caller's channel received the BYE
    assert ended_by({"vars": {"sip_hangup_disposition": "recv_bye"}, "legs": [talked]}) == "caller"
    # the member hung up: its leg received the BYE, the switch then sent one to the caller
    far = {**talked, "vars": {"sip_hangup_disposition": "recv_bye"}}
    assert ended_by({"vars": {"sip_hangup_disposition": "send_bye"}, "legs": [far]}) == "far_end"
    # a caller who left the menu (loopback channels carry no SIP disposition): the engine's path says so
    assert ended_by({"path": [{"step": "menu", "input": None, "result": "caller_hung_up"}]}) == "caller"
    # nothing to tell by
    assert ended_by({"vars": {}, "legs": [], "path": None}) is None


def test_a_call_that_rang_nobody_spent_its_time_with_the_pbx():
    voicemail = {"start": T0, "answer": at(1), "end": at(61), "billsec": 60,
                 "path": [{"step": "voicemail", "max_seconds": 120}]}
    assert stages(voicemail) == {"menu": 60, "ringing": None, "talk": None}
    # a record the engine did not make (no path, no legs): its own talk seconds
    assert stages({"start": T0, "answer": at(2), "end": at(12), "billsec": 10}) == \
        {"menu": None, "ringing": None, "talk": 10}

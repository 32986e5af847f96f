"""Where a call goes when its Pult instance stops cleanly (EngineFlow.handoff_target): back to
its own destination in its own context while another instance is live, else the switch's own
"please call later" in an ``inline`` dialplan — every target one ``uuid_transfer`` accepts
(no spaces: mod_commands splits its arguments at them)."""
from __future__ import annotations

from esl_control.flow.runner import EngineFlow


class Prompts:
    def __init__(self, directory: str = "/usr/share/pult/sounds") -> None:
        self.directory = directory

    def sound_prefix(self, lang: str) -> str:
        return f"{self.directory}/{lang}"

    def phrase_file(self, phrase_id: str, lang: str) -> str:
        return f"{self.directory}/{lang}/pult/{phrase_id}.wav"

    def has(self, phrase_id: str, lang: str) -> bool:
        return True


class FakeCall:
    """What handoff_target reads of an outbound-socket call."""

    def __init__(self, destination="74951234567", context="public", variables=None) -> None:
        self.uuid = "u-1"
        self.caller = "79031234567"
        self.destination = destination
        self.channel_data = {"Caller-Context": context, **{f"variable_{k}": v for k, v in (variables or {}).items()}}

    def variable(self, name):
        return self.channel_data.get("variable_" + name)


def flow(prompts=None) -> EngineFlow:
    f = EngineFlow(None, prompts=prompts or Prompts())
    f.instance_name = "10.0.0.1:8084"
    return f


def test_with_another_instance_live_the_call_goes_back_to_its_destination_in_its_context():
    target, variables = flow().handoff_target(FakeCall(), True)
    assert target == "74951234567 XML public"
    assert variables == {"pult_handed_off": "10.0.0.1:8084"}
    target, _ = flow().handoff_target(FakeCall(destination="104", context="vpbx7"), True)
    assert target == "104 XML vpbx7"


def test_without_one_the_switch_says_please_call_later_and_hangs_up():
    target, _ = flow().handoff_target(FakeCall(), False)
    assert target == ("answer,playback:/usr/share/pult/sounds/ru/pult/call_failed.wav,"
                      "hangup:NORMAL_CLEARING inline")


def test_a_destination_the_dialplan_cannot_be_asked_for_again_gets_the_goodbye():
    target, _ = flow().handoff_target(FakeCall(destination="${system(reboot)}"), True)
    assert target.endswith(" inline") and "call_failed.wav" in target


def test_a_prompt_path_with_a_comma_uses_another_separator_and_one_with_a_space_a_tone():
    target, _ = flow(Prompts("/srv/a,b")).handoff_target(FakeCall(), False)
    assert target == "m:^:answer^playback:/srv/a,b/ru/pult/call_failed.wav^hangup:NORMAL_CLEARING inline"
    target, _ = flow(Prompts("/srv/a b")).handoff_target(FakeCall(), False)
    assert " " not in target.removesuffix(" inline")
    assert target.startswith("m:^:answer^playback:tone_stream://")

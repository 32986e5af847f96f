"""SIPp phones that register with the real switch and then answer, or only ring, an INVITE."""
from __future__ import annotations

import subprocess
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.realfs.harness import (SIPP, free_tcp_udp_port, run_sipp_client, sip_messages, sip_register,
                                  sipp_scenario, sipp_send, stop_process)

_SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""

#: the answer's SDP: PCMU, or L16 when that is what the switch offers (a call from a loopback caller:
#: FreeSWITCH 1.10 offers a bridged leg only the originator's codec, ``ep_codec_string``)
_ANSWER_SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 102
a=rtpmap:0 PCMU/8000
a=rtpmap:102 L16/8000
"""


def reply(status: str, *, to_tag: bool = True, contact: bool = False, cseq: str = "[last_CSeq:]",
          sdp: str = "") -> str:
    """SIPp's ``<send>`` of the response ``status`` to the request it received last: with our tag in
    To (the dialog's first answer) or the request's own To (a request inside the dialog), our
    Contact, and ``sdp`` as the body (then resent until the ACK)."""
    return sipp_send(f"SIP/2.0 {status}", "[last_Via:]", "[last_From:]",
                     "[last_To:];tag=[pid]SIPpTag01[call_number]" if to_tag else "[last_To:]",
                     "[last_Call-ID:]", cseq,
                     *(["Contact: <sip:[local_ip]:[local_port];transport=[transport]>"] if contact else []),
                     *(["Content-Type: application/sdp", "Content-Length: [len]"] if sdp else ["Content-Length: 0"]),
                     sdp=sdp, retrans=bool(sdp))


INVITED = '<recv request="INVITE"/>'
RINGING = reply("180 Ringing", contact=True)
#: 200 to a request inside the dialog (a BYE, an INFO)
OK_IN_DIALOG = reply("200 OK", to_tag=False)
#: 180, then 200 to the CANCEL and 487 to the INVITE (whose ACK is left to the scenario)
RING_UNTIL_CANCELLED = (RINGING, '<recv request="CANCEL"/>', reply("200 OK"),
                        reply("487 Request Terminated", cseq="CSeq: [cseq] INVITE"))
#: 200 with PCMU or L16, then its ACK
ANSWERED = (reply("200 OK", contact=True, sdp=_ANSWER_SDP), '<recv request="ACK"/>')
#: the far end's BYE and its 200
HUNG_UP = ('<recv request="BYE"/>', OK_IN_DIALOG)
ANSWER_UNTIL_BYE = (*ANSWERED, *HUNG_UP)

#: answers the first INVITE (180, then 200 with PCMU or L16), then waits for the BYE
ANSWER_XML = sipp_scenario("answer", INVITED, RINGING, '<pause milliseconds="1000"/>', *ANSWER_UNTIL_BYE)

#: rings (180) until the switch cancels the INVITE
RING_XML = sipp_scenario("ring", INVITED, *RING_UNTIL_CANCELLED, '<recv request="ACK"/>')

#: rings (180) at the first INVITE until the switch cancels it, answers (200, PCMU or L16) every
#: later one and waits for its BYE: a member who does not answer the first attempt of a group but
#: does the next (SIPp's global variable counts the INVITEs across calls)
RING_THEN_ANSWER_XML = sipp_scenario(
    "ring then answer", '<Global variables="invites"/>', INVITED,
    """<nop><action>
    <add assign_to="invites" value="1"/>
    <test assign_to="later" variable="invites" compare="greater_than" value="1"/>
  </action></nop>""",
    '<nop test="later" next="answer"/>', *RING_UNTIL_CANCELLED, '<recv request="ACK" next="end"/>',
    '<label id="answer"/>', *ANSWER_UNTIL_BYE, '<label id="end"/>')


@dataclass
class Phone:
    login: str
    domain: str
    password: str
    extension: str
    employee_id: str = ""
    port: int = 0
    proc: subprocess.Popen | None = None
    trace: Path | None = None

    def register(self, tmp: Path, sip_port: int) -> None:
        self.port = self.port or free_tcp_udp_port()
        result = sip_register(tmp, sip_port, self.login, self.domain, self.password, local_port=self.port)
        assert result.code == 200, result.output[-2000:]

    def listen(self, tmp: Path, answer: bool, timeout: int = 60, scenario: str | None = None,
               calls: int = 1) -> None:
        """Wait (in the background) for ``calls`` INVITEs on the registered contact (or on
        ``port``: a far end that never registers), answering (``ANSWER_XML``), ringing
        (``RING_XML``) or as ``scenario`` says."""
        assert SIPP and self.port
        scen = tmp / f"{'answer' if answer else 'ring'}-{uuidlib.uuid4().hex[:6]}.xml"
        scen.write_text(scenario or (ANSWER_XML if answer else RING_XML))
        self.trace = tmp / f"{self.login}-msg.log"
        self.proc = subprocess.Popen(
            [SIPP, "-sf", str(scen), "-i", "127.0.0.1", "-p", str(self.port), "-m", str(calls),
             "-timeout", str(timeout), "-mp", str(free_tcp_udp_port()), "-trace_msg", "-message_file",
             str(self.trace), "-nostdin"],
            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def messages(self) -> str:
        return sip_messages(self.trace)

    def stop(self) -> None:
        stop_process(self.proc, 5)


_VIA = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]"


def _invite(uri: str, caller: str, cseq: int, *auth: str) -> str:
    return sipp_send(f"INVITE {uri} SIP/2.0", _VIA, f"From: {caller};tag=[pid]SIPpTag00[call_number]",
                     f"To: <{uri}>", "Call-ID: [call_id]", f"CSeq: {cseq} INVITE",
                     "Contact: <sip:[field0]@[local_ip]:[local_port]>", *auth, "Max-Forwards: 70",
                     "Content-Type: application/sdp", "Content-Length: [len]", sdp=_SDP, retrans=True)


def _in_dialog(method: str, uri: str, caller: str, cseq: int) -> str:
    """The caller's ACK or BYE inside the answered dialog (to the Contact and routes of the 200)."""
    return sipp_send(f"{method} [next_url] SIP/2.0", _VIA, f"From: {caller};tag=[pid]SIPpTag00[call_number]",
                     f"To: <{uri}>[peer_tag_param]", "Call-ID: [call_id]", f"CSeq: {cseq} {method}", "[routes]",
                     "Content-Length: 0", retrans=method == "BYE")


def _talk_once_answered(uri: str, caller: str, invite_cseq: int) -> tuple[str, ...]:
    """After the INVITE: provisional answers, the 200 and its ACK, 2 s of talk, the BYE and its 200."""
    return ('<recv response="100" optional="true"/>', '<recv response="180" optional="true"/>',
            '<recv response="183" optional="true"/>', '<recv response="200" rrs="true"/>',
            _in_dialog("ACK", uri, caller, invite_cseq), '<pause milliseconds="2000"/>',
            _in_dialog("BYE", uri, caller, invite_cseq + 1), '<recv response="200"/>')


_SERVICE, _ACCOUNT = "sip:[service]@[field1]", "<sip:[field0]@[field1]>"
#: calls sip:<service>@<domain> as the registered account (digest on 407/401), talks 2 s, hangs up
CALL_XML = sipp_scenario(
    "call", _invite(_SERVICE, _ACCOUNT, 1), '<recv response="100" optional="true"/>',
    '<recv response="407" auth="true" optional="true" next="auth"/>', '<recv response="401" auth="true" next="auth"/>',
    '<label id="auth"/>',
    sipp_send(f"ACK {_SERVICE} SIP/2.0", "[last_Via:]", f"From: {_ACCOUNT};tag=[pid]SIPpTag00[call_number]",
              "[last_To:]", "Call-ID: [call_id]", "CSeq: 1 ACK", "Content-Length: 0"),
    _invite(_SERVICE, _ACCOUNT, 2, "[authentication]"), *_talk_once_answered(_SERVICE, _ACCOUNT, 2))


def call(phone: Phone, tmp: Path, sip_port: int, extension: str, timeout: int = 30) -> subprocess.CompletedProcess:
    """``phone`` (registered) calls ``extension`` through the switch's internal profile."""
    assert phone.port
    proc, trace = run_sipp_client(tmp, sip_port, "call", CALL_XML, f"{phone.login};{phone.domain}", phone.port,
                                  timeout, "-s", extension, "-au", phone.login, "-ap", phone.password,
                                  "-mp", str(free_tcp_udp_port()))
    proc.stdout += sip_messages(trace)
    return proc


_SWITCH, _PBX_USER = "sip:[service]@[remote_ip]:[remote_port]", '"[field0]" <sip:[field0]@[local_ip]:[local_port]>'
#: the customer's own PBX calling through its trunk: an INVITE without authentication from the
#: trunk's address (the switch's external profile takes it as the trunk's by that address) for
#: ``sip:<service>@<switch>``, from ``[field0]`` (the PBX's user); talks 2 s once answered, hangs up
TRUNK_CALL_XML = sipp_scenario("call from a trunk", _invite(_SWITCH, _PBX_USER, 1),
                               *_talk_once_answered(_SWITCH, _PBX_USER, 1))


def call_from_trunk(pbx: Phone, tmp: Path, sip_port: int, number: str, user: str,
                    timeout: int = 30) -> subprocess.CompletedProcess:
    """The customer's PBX (SIPp on ``pbx.port``, the trunk's address) sends a call from its user
    ``user`` for ``number`` to the switch's ``sip_port`` (the external profile), without auth."""
    assert pbx.port
    proc, pbx.trace = run_sipp_client(tmp, sip_port, "trunk-call", TRUNK_CALL_XML, f"{user};", pbx.port, timeout,
                                      "-s", number, "-mp", str(free_tcp_udp_port()))
    proc.stdout += pbx.messages()
    return proc


def answered_by(far: Phone, tmp: Path, place_call: Callable[[], subprocess.CompletedProcess],
                scenario: str | None = None) -> str:
    """``far`` listens (``ANSWER_XML`` or ``scenario``) and answers the call ``place_call`` makes;
    the caller talks, hangs up, and both ends finish cleanly. The SIP messages ``far`` saw."""
    far.listen(tmp, answer=True, scenario=scenario)
    time.sleep(0.5)
    done = place_call()
    assert done.returncode == 0, done.stdout[-3000:]  # answered by the far end, talked, hung up
    assert far.proc.wait(15) == 0, far.proc.stdout.read()[-2000:]
    return far.messages()

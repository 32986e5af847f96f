"""SIPp phones that register with the real switch and then answer, or only ring, an INVITE."""
from __future__ import annotations

import subprocess
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path

from tests.realfs.harness import SIPP, free_tcp_udp_port, sip_register

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

#: answers the first INVITE (180, then 200 with PCMU or L16), then waits for the BYE
ANSWER_XML = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="answer">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

  ]]></send>
  <pause milliseconds="1000"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{_ANSWER_SDP}
  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
</scenario>
"""

#: rings (180) until the switch cancels the INVITE
RING_XML = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ring">
  <recv request="INVITE"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

  ]]></send>
  <recv request="CANCEL"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [cseq] INVITE
      Content-Length: 0

  ]]></send>
  <recv request="ACK"/>
</scenario>
"""


#: rings (180) at the first INVITE until the switch cancels it, answers (200, PCMU or L16) every
#: later one and waits for its BYE: a member who does not answer the first attempt of a group but
#: does the next (SIPp's global variable counts the INVITEs across calls)
RING_THEN_ANSWER_XML = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="ring then answer">
  <Global variables="invites"/>
  <recv request="INVITE"/>
  <nop><action>
    <add assign_to="invites" value="1"/>
    <test assign_to="later" variable="invites" compare="greater_than" value="1"/>
  </action></nop>
  <nop test="later" next="answer"/>
  <send><![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

  ]]></send>
  <recv request="CANCEL"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <send><![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: [cseq] INVITE
      Content-Length: 0

  ]]></send>
  <recv request="ACK" next="end"/>
  <label id="answer"/>
  <send retrans="500"><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{_ANSWER_SDP}
  ]]></send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

  ]]></send>
  <label id="end"/>
</scenario>
"""


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
        return self.trace.read_text(errors="replace") if self.trace and self.trace.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


#: calls sip:<service>@<domain> as the registered account (digest on 407/401), talks 2 s, hangs up
CALL_XML = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true" optional="true" next="auth"/>
  <recv response="401" auth="true" next="auth"/>
  <label id="auth"/>
  <send><![CDATA[
      ACK sip:[service]@[field1] SIP/2.0
      [last_Via:]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

  ]]></send>
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      [authentication]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 ACK
      [routes]
      Content-Length: 0

  ]]></send>
  <pause milliseconds="2000"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[field1]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 3 BYE
      [routes]
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""


def call(phone: Phone, tmp: Path, sip_port: int, extension: str, timeout: int = 30) -> subprocess.CompletedProcess:
    """``phone`` (registered) calls ``extension`` through the switch's internal profile."""
    assert SIPP and phone.port
    scen = tmp / f"call-{uuidlib.uuid4().hex[:6]}.xml"
    scen.write_text(CALL_XML)
    csv = tmp / f"call-{uuidlib.uuid4().hex[:6]}.csv"
    csv.write_text("SEQUENTIAL\n" + f"{phone.login};{phone.domain}\n")
    trace = tmp / f"{phone.login}-call-msg.log"
    proc = subprocess.run(
        [SIPP, f"127.0.0.1:{sip_port}", "-sf", str(scen), "-inf", str(csv), "-s", extension, "-m", "1",
         "-au", phone.login, "-ap", phone.password, "-i", "127.0.0.1", "-p", str(phone.port),
         "-mp", str(free_tcp_udp_port()), "-timeout", str(timeout), "-trace_msg", "-message_file", str(trace),
         "-nostdin"], cwd=tmp, capture_output=True, text=True, timeout=timeout + 15)
    proc.stdout += trace.read_text(errors="replace") if trace.exists() else ""
    return proc


#: the customer's own PBX calling through its trunk: an INVITE without authentication from the
#: trunk's address (the switch's external profile takes it as the trunk's by that address) for
#: ``sip:<service>@<switch>``, from ``[field0]`` (the PBX's user); talks 2 s once answered, hangs up
TRUNK_CALL_XML = f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call from a trunk">
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}
  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      [routes]
      Content-Length: 0

  ]]></send>
  <pause milliseconds="2000"/>
  <send retrans="500"><![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field0]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      [routes]
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""


def call_from_trunk(pbx: Phone, tmp: Path, sip_port: int, number: str, user: str,
                    timeout: int = 30) -> subprocess.CompletedProcess:
    """The customer's PBX (SIPp on ``pbx.port``, the trunk's address) sends a call from its user
    ``user`` for ``number`` to the switch's ``sip_port`` (the external profile), without auth."""
    assert SIPP and pbx.port
    scen = tmp / f"trunk-call-{uuidlib.uuid4().hex[:6]}.xml"
    scen.write_text(TRUNK_CALL_XML)
    csv = tmp / f"trunk-call-{uuidlib.uuid4().hex[:6]}.csv"
    csv.write_text("SEQUENTIAL\n" + f"{user};\n")
    pbx.trace = tmp / f"{pbx.login}-call-msg.log"
    proc = subprocess.run(
        [SIPP, f"127.0.0.1:{sip_port}", "-sf", str(scen), "-inf", str(csv), "-s", number, "-m", "1",
         "-i", "127.0.0.1", "-p", str(pbx.port), "-mp", str(free_tcp_udp_port()), "-timeout", str(timeout),
         "-trace_msg", "-message_file", str(pbx.trace), "-nostdin"],
        cwd=tmp, capture_output=True, text=True, timeout=timeout + 15)
    proc.stdout += pbx.messages()
    return proc

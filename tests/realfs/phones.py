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

#: answers the first INVITE (180, then 200 with PCMU), then waits for the BYE
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

{_SDP}
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


@dataclass
class Phone:
    login: str
    domain: str
    password: str
    extension: str
    port: int = 0
    proc: subprocess.Popen | None = None
    trace: Path | None = None

    def register(self, tmp: Path, sip_port: int) -> None:
        self.port = self.port or free_tcp_udp_port()
        result = sip_register(tmp, sip_port, self.login, self.domain, self.password, local_port=self.port)
        assert result.code == 200, result.output[-2000:]

    def listen(self, tmp: Path, answer: bool, timeout: int = 60) -> None:
        """Wait (in the background) for one INVITE on the registered contact."""
        assert SIPP and self.port
        scen = tmp / f"{'answer' if answer else 'ring'}-{uuidlib.uuid4().hex[:6]}.xml"
        scen.write_text(ANSWER_XML if answer else RING_XML)
        self.trace = tmp / f"{self.login}-msg.log"
        self.proc = subprocess.Popen(
            [SIPP, "-sf", str(scen), "-i", "127.0.0.1", "-p", str(self.port), "-m", "1",
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

"""Start-up: the deploy kit runs on a real FreeSWITCH, its SIP profiles listen where the node's
settings say, Pult's ESL connection is up, and the switch's log has no error."""
from __future__ import annotations

import re
import socket

from tests.realfs.harness import DEPLOY, set_vars

#: Lines of the switch's log that are an error in a clean start-up: errors, critical messages,
#: and warnings about configuration (deprecated parameters, unknown settings).
_BAD = re.compile(r"\[(ERR|CRIT|ALERT)\]|\[WARNING\].*(deprecated|[Uu]nknown|[Ii]nvalid|not found)")


def test_the_deploy_kit_starts_clean_and_pult_is_connected(stack):
    status = stack.fs.api("status")
    assert "is ready" in status, status
    assert stack.pult.node(stack.node)["state"] == "up"
    assert "FreeSWITCH Started" in stack.fs.startup_log
    bad = [line for line in stack.fs.startup_log.splitlines() if _BAD.search(line)]
    assert bad == [], "\n".join(bad[:20])


def test_sip_profiles_listen_on_the_nodes_addresses(stack):
    sofia = stack.fs.api("sofia status")
    ports = stack.fs.ports
    assert re.search(rf"internal\s+profile\s+sip:mod_sofia@127\.0\.0\.1:{ports.sip_internal}\s+RUNNING", sofia), sofia
    assert re.search(rf"external\s+profile\s+sip:mod_sofia@127\.0\.0\.1:{ports.sip_external}\s+RUNNING", sofia), sofia
    # and something answers there (an OPTIONS over UDP gets a SIP response)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.bind(("127.0.0.1", 0))
        me = s.getsockname()[1]
        s.sendto((f"OPTIONS sip:ping@127.0.0.1:{ports.sip_internal} SIP/2.0\r\n"
                  f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-realfs-1\r\n"
                  f"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:ping@127.0.0.1>\r\n"
                  f"Call-ID: realfs-options-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                  f"Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", ports.sip_internal))
        reply = s.recv(4096).decode(errors="replace")
    assert reply.startswith("SIP/2.0 "), reply


def test_media_timeouts_are_the_global_variables_not_deprecated_profile_params(stack):
    assert stack.fs.api("global_getvar media_timeout").strip() == "300000"
    assert "deprecated" not in stack.fs.startup_log


def test_vars_pult_does_not_include_itself():
    """The pre-processor runs ``<X-PRE-PROCESS`` even inside comments (it skips only ``<!--#``):
    the header comment must not carry the include line (the switch did not start)."""
    text = DEPLOY.joinpath("vars_pult.xml").read_text()
    assert "<X-PRE-PROCESS cmd=\"include\"" not in text
    assert set_vars(text, {"pult_node_name": "n1"}).count("pult_node_name=n1") == 1

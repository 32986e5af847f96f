"""A node's SIP settings from the operator console (esl_control/model/node_sip.py) on the real
switch: a profile takes a new port when it restarts, not before, and phones register there."""
from __future__ import annotations

import socket

from tests.realfs.harness import free_tcp_udp_port, wait_until


def udp_bound(port: int) -> bool:
    """Whether something (the switch's SIP profile) holds UDP 127.0.0.1:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def restart_profile(stack, profile: str) -> None:
    """``sofia profile <profile> restart``; mod_sofia refuses it while the profile is up for less
    than 10 s ("must be up for at least 10 seconds"): asked again until it takes it."""
    wait_until(lambda: "must be up" not in stack.fs.api(f"sofia profile {profile} restart"), 15, 1,
               f"the switch restarting profile {profile}")


def test_a_profile_restarted_after_a_console_change_listens_on_the_new_port(stack, phone, tmp_path):
    """The operator gives the phones' profile (``internal``) another port: the running profile
    stays where it is (a rescan too) until it restarts, then listens and registers phones there
    only, and the console no longer shows the change as waiting. The session's switch keeps the
    new port (``stack.fs.ports``) for the tests after this one: a second restart would cost the
    tier 10 s (mod_sofia's minimum uptime before a restart)."""
    operator = stack.operator()
    (ph,) = phone  # registered on the configured port
    old, new = stack.fs.ports.sip_internal, free_tcp_udp_port()
    url = f"/api/v1/operator/nodes/{stack.node}/sip"
    view = operator.ok("PUT", url, {"internal_port": new})
    moved = False
    try:
        assert view["effective"]["internal_port"] == new and "internal" in view["pending"], view
        # a rescan (what Pult's reconcile sends) does not move the running profile
        stack.fs.api("sofia profile internal rescan")
        assert udp_bound(old) and not udp_bound(new)
        assert "internal" in operator.ok("GET", url)["pending"]
        restart_profile(stack, "internal")
        wait_until(lambda: udp_bound(new) and not udp_bound(old), 30, 0.3, "the profile on the new port")
        moved = True
        wait_until(lambda: f":{new}" in stack.fs.api("sofia status profile internal"), 10, 0.3,
                   "the profile's URL with the new port")
        ph.register(tmp_path, new)  # REGISTER 200 where the console says
        view = operator.ok("GET", url)
        assert "internal" not in view["pending"], view  # the console shows the change as applied
        assert view["loaded"]["internal"]["sip-port"] in (new, str(new)), view["loaded"]
        stack.fs.ports.sip_internal = new
    except BaseException:
        operator.ok("PUT", url, {})  # back to FREESWITCH_ESL's port
        if moved:
            restart_profile(stack, "internal")
            wait_until(lambda: udp_bound(old), 30, 0.3, "the profile back on its port")
        raise

"""Dropping live SIP registrations on every node: what makes "switched off" take effect at once.

FreeSWITCH keeps a registration until it expires; the directory refusing the next REGISTER is not
enough for an account that was just disabled, deleted, or whose PBX was blocked. ``sofia profile
<p> flush_inbound_reg <user>@<domain>`` drops one account's registrations (``@<domain>``: a whole
domain's), and a phone whose registration is gone can no longer be called nor, having to
register again, call (the directory refuses it).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from pult.observability import get_logger

log = get_logger(__name__)

__all__ = ["flush_registrations", "PHONE_PROFILE"]

#: The profile tenants' phones register on (fs_config.sofia_template).
PHONE_PROFILE = "internal"
_ADDRESS = re.compile(r"^[A-Za-z0-9._+-]*@[A-Za-z0-9.-]{1,253}$")


async def flush_registrations(nodes, addresses: Iterable[str], profile: str = PHONE_PROFILE) -> int:
    """Drop the registrations of ``addresses`` (``login@domain`` or ``@domain``) on every node that
    is up; returns how many flush commands were answered. A node that is down is logged (its
    registrations die with it, or expire; the directory refuses them meanwhile)."""
    wanted = []
    for address in addresses:
        if not _ADDRESS.match(address or ""):
            raise ValueError(f"not a SIP address to flush: {address!r}")
        wanted.append(address.lower())
    if nodes is None or not wanted:
        return 0
    done = 0
    for node in nodes.snapshot():
        name = node["name"]
        for address in wanted:
            try:
                reply = await nodes.api(name, f"sofia profile {profile} flush_inbound_reg {address}")
            except Exception as exc:  # noqa: BLE001 - one node down must not stop the others
                log.warning("could not flush SIP registrations", node=name, address=address, error=str(exc))
                continue
            if reply.startswith("+OK"):
                done += 1
            else:
                log.warning("flush of SIP registrations refused", node=name, address=address, reply=reply[:200])
    return done

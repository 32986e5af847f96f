"""Settings of the FreeSWITCH nodes kept by the operator console (platform scope only).

The nodes themselves (name, ESL address and password) are the server configuration
(``FREESWITCH_ESL``); what the operator changes in the console is stored here per node name and
wins over the ``sip`` part of that configuration (see :mod:`esl_control.model.node_sip`).

Document (``node_settings``, ``_id`` = node name)::

    {_id, sip: {sip_ip, rtp_ip, ext_sip_ip, ext_rtp_ip, internal_port, external_port,
                rtp_start_port, rtp_end_port}   (only the values the operator set),
     updated_at}
"""
from __future__ import annotations

from pult import clock

from .base import Scope, ScopedRepo


class NodeSettings(ScopedRepo):
    collection = "node_settings"
    scopes = (None,)
    indexes = []


async def stored_node_sip(db, name: str) -> dict:
    """The SIP values the operator stored for node ``name`` (``{}`` when none)."""
    doc = await NodeSettings(db, Scope.platform()).find_one({"_id": name})
    return dict((doc or {}).get("sip") or {})


async def store_node_sip(db, name: str, values: dict) -> None:
    """Replace the stored SIP values of node ``name`` (``{}``: none, the configuration applies)."""
    repo = NodeSettings(db, Scope.platform())
    if values:
        await repo.update_one({"_id": name}, {"$set": {"sip": dict(values), "updated_at": clock.now()}},
                              upsert=True)
    else:
        await repo.delete_one({"_id": name})

"""Settings of the FreeSWITCH nodes kept by the operator console (platform scope only).

The nodes themselves (name, ESL address and password) are the server configuration
(``FREESWITCH_ESL``); what the operator changes in the console is stored here per node name and
wins over the ``sip`` part of that configuration (see :mod:`esl_control.model.node_sip`).

Document (``node_settings``, ``_id`` = node name)::

    {_id, sip: {sip_ip, rtp_ip, ext_sip_ip, ext_rtp_ip, internal_port, external_port,
                rtp_start_port, rtp_end_port}   (only the values the operator set),
     loaded: {<sofia profile name>: {sip-ip, rtp-ip, ext-sip-ip, ext-rtp-ip, sip-port, at},
              core: {rtp-start-port, rtp-end-port, at}}   (what the node last loaded),
     updated_at}

``loaded`` is written by the xml_curl answers: what Pult served when the node loaded a profile
(start, ``sofia profile <p> restart``) or the core settings (at the switch's start).
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
    await NodeSettings(db, Scope.platform()).update_one(
        {"_id": name}, {"$set": {"sip": dict(values), "updated_at": clock.now()}}, upsert=True)


async def loaded_node_settings(db, name: str) -> dict:
    """What node ``name`` last loaded, per sofia profile name and ``core`` (``{}`` when unknown)."""
    doc = await NodeSettings(db, Scope.platform()).find_one({"_id": name})
    return dict((doc or {}).get("loaded") or {})


async def record_loaded(db, name: str, loaded: dict) -> None:
    """Remember what node ``name`` loaded: ``{profile or "core": settings}`` (each replaced whole)."""
    loaded = {k: v for k, v in loaded.items() if k and "." not in k and not k.startswith("$")}
    if not loaded:
        return
    now = clock.now()
    await NodeSettings(db, Scope.platform()).update_one(
        {"_id": name}, {"$set": {f"loaded.{key}": {**value, "at": now} for key, value in loaded.items()}},
        upsert=True)

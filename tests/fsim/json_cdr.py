"""mod_json_cdr: the switch's own call-record delivery, as FreeSWITCH 1.10.12 does it.

When a channel ends, mod_json_cdr (``src/mod/event_handlers/mod_json_cdr/mod_json_cdr.c``)
builds the record with ``switch_ivr_generate_json_cdr()`` and POSTs it to its ``url`` with
``?uuid=<uuid>`` (``Content-Type: application/json``, ``User-Agent: freeswitch-json/1.0``, basic
auth from ``cred``), from its queue thread. Any answer 2xx is success; anything else (a refused
connection, 503, 401 …) is retried ``retries`` times, ``delay`` seconds apart, after which the
record would be written to ``err-log-dir`` (here: kept in :attr:`JsonCdrPoster.failed`).
Every leg is posted (``log-b-leg`` true, as the deploy kit configures it).

The simulator's delay is in real seconds (tests use small ones).
"""
from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from .channel import Channel

log = logging.getLogger(__name__)

__all__ = ["JsonCdrPoster", "json_cdr_document"]


def json_cdr_document(ch: "Channel", core_uuid: str, switchname: str) -> dict[str, Any]:
    """The document ``switch_ivr_generate_json_cdr()`` writes for a channel that ended (the
    fields Pult reads: ``core-uuid``, ``switchname``, ``channel_data``, ``variables``,
    ``app_log``, ``callflow`` with the caller profile and its times)."""
    p = ch.profile
    profile = {"username": p.username or "", "dialplan": p.dialplan, "caller_id_name": p.caller_id_name or "",
               "ani": p.ani or p.caller_id_number, "network_addr": p.network_addr or "",
               "caller_id_number": p.caller_id_number, "destination_number": p.destination_number,
               "uuid": ch.uuid, "source": p.source, "context": p.context, "chan_name": ch.name}
    times = {"created_time": str(ch.created_us), "profile_created_time": str(p.created_us or ch.created_us),
             "progress_time": str(ch.progress_us), "progress_media_time": str(ch.progress_media_us),
             "answered_time": str(ch.answered_us), "bridged_time": str(ch.bridged_us),
             "last_hold_time": "0", "hold_accum_time": "0", "hangup_time": str(ch.hangup_us),
             "resurrect_time": "0", "transfer_time": str(ch.transfer_us)}
    return {
        "core-uuid": core_uuid,
        "switchname": switchname,
        "channel_data": {"state": "CS_REPORTING", "direction": ch.direction, "state_number": "11",
                         "flags": "", "caps": ""},
        "variables": {k: str(v) for k, v in ch.vars.items() if v is not None},
        "app_log": {"applications": [{"app_name": ch.last_app or "", "app_data": ch.last_arg or ""}]},
        "callflow": [{"dialplan": p.dialplan, "profile_index": str(p.index), "caller_profile": profile,
                      "times": times}],
    }


@dataclass
class JsonCdrPoster:
    """Posts each ended channel's record to ``url`` with mod_json_cdr's retries."""

    url: str
    cred: tuple[str, str] | None = None
    retries: int = 120
    delay: float = 5.0
    timeout: float = 10.0
    #: every attempt: (uuid, HTTP status or 0 for no connection)
    attempts: list[tuple[str, int]] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)

    async def post(self, uuid: str, doc: dict[str, Any]) -> bool:
        body = json.dumps(doc).encode()
        for attempt in range(self.retries + 1):  # the module counts the first try among "retries"+1
            if attempt:
                await asyncio.sleep(self.delay)
            status = await self._post_once(uuid, body)
            self.attempts.append((uuid, status))
            if 200 <= status < 300:
                self.delivered.append(uuid)
                return True
        self.failed.append(doc)
        log.warning("fsim json_cdr: %s not delivered after %s tries", uuid, self.retries + 1)
        return False

    async def _post_once(self, uuid: str, body: bytes) -> int:
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = f"{parts.path or '/'}?{parts.query + '&' if parts.query else ''}uuid={uuid}"
        headers = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: */*",
                   "Content-Type: application/json", "User-Agent: freeswitch-json/1.0",
                   f"Content-Length: {len(body)}", "Connection: close"]
        if self.cred is not None:
            token = base64.b64encode(f"{self.cred[0]}:{self.cred[1]}".encode()).decode()
            headers.append(f"Authorization: Basic {token}")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout)
        except (OSError, asyncio.TimeoutError):
            return 0
        try:
            writer.write(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), self.timeout)
            fields = line.decode("latin-1").split()
            return int(fields[1]) if len(fields) >= 2 and fields[1].isdigit() else 0
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            return 0
        finally:
            writer.close()

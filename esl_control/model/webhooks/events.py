"""Webhook event types, the envelope every delivery carries, and its signature.

The scheme (docs/webhooks.md has the receiver's side)::

    POST <subscription URL>
    Content-Type: application/json
    Pult-Event-Type: call.ended
    Pult-Event-Id: call.ended:<call uuid>           the event (the same for every subscription)
    Pult-Delivery-Id: <id>                          this subscription's delivery of it; the same on
                                                    every retry and manual redelivery
    Pult-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

    {"id": "<event id>", "type": "call.ended", "created_at": "2026-12-07T05:00:00Z",
     "pbx_id": 101, "data": {...}}

The body is serialised once, when the event is emitted, and every attempt sends the same bytes;
the timestamp is that of the attempt. A receiver recomputes the HMAC over ``t + "." + raw body``,
compares it in constant time, refuses a ``t`` further than :data:`TOLERANCE` from its clock (a
captured request cannot be replayed later) and may remember ``Pult-Delivery-Id`` to drop a
delivery it already processed (deliveries are at least once).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timezone
from typing import Any

from pult.i18n import N_

#: type -> (what it means, emitted now). Types not emitted yet are declared so subscriptions can
#: name them today and receive them when their feature lands.
EVENTS: dict[str, tuple[str, bool]] = {
    "call.started": (N_("A call started (the call engine took it)"), True),
    "call.answered": (N_("A call was answered"), True),
    "call.ended": (N_("A call ended (its call record is stored)"), True),
    "call.missed": (N_("An inbound call ended unanswered"), True),
    "voicemail.received": (N_("A voice mail was received"), True),
    "fax.received": (N_("A fax was received"), True),
    "employee.changed": (N_("An employee was created, changed or deleted"), True),
    "recording.ready": (N_("A call recording is ready (declared; emitted when recording lands)"), False),
    "fax.delivered": (N_("An outgoing fax was delivered (declared; emitted when fax sending lands)"), False),
}
#: the event "Send a test event" delivers (never subscribed to)
TEST_EVENT = "webhook.test"

SIGNATURE_HEADER = "Pult-Signature"
EVENT_ID_HEADER = "Pult-Event-Id"
DELIVERY_ID_HEADER = "Pult-Delivery-Id"
EVENT_TYPE_HEADER = "Pult-Event-Type"
USER_AGENT = "Pult-Webhooks/1"
#: seconds a receiver accepts between the signature's timestamp and its own clock
TOLERANCE = 300


def envelope(event_id: str, event_type: str, pbx_id: int, data: dict[str, Any], at: datetime) -> str:
    """The JSON body of an event (compact, keys sorted, UTF-8 text kept as is)."""
    created = at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"id": event_id, "type": event_type, "created_at": created, "pbx_id": pbx_id,
                       "data": data}, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_json)


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), str(int(timestamp)).encode("ascii") + b"." + body,
                    hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Pult-Signature`` value: ``t=<unix>,v1=<hex>``."""
    return f"t={int(timestamp)},v1={signature(secret, timestamp, body)}"


def headers(secret: str, timestamp: int, body: bytes, *, event_id: str, delivery_id: str,
            event_type: str) -> dict[str, str]:
    """Every header of one attempt."""
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
            EVENT_TYPE_HEADER: event_type, EVENT_ID_HEADER: event_id, DELIVERY_ID_HEADER: delivery_id,
            SIGNATURE_HEADER: signature_header(secret, timestamp, body)}


def verify(secret: str, header: str | None, body: bytes, now: float, tolerance: int = TOLERANCE) -> bool:
    """What a receiver does (the reference for docs/webhooks.md): True when ``header`` signs
    ``body`` with ``secret`` and its timestamp is within ``tolerance`` seconds of ``now``."""
    try:
        parts = dict(item.split("=", 1) for item in (header or "").split(","))
        t = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now - t) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, t, body), parts.get("v1", ""))

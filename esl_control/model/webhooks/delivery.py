"""One HTTP attempt of a webhook delivery, through the SSRF guard of :mod:`pult.netguard`.

Used by the delivery job (``jobs/webhooks.py``) and by "Send a test event" (synchronously, in a
thread). The receiver's answer body is never kept or echoed (it could be anything an internal
service answered): only the status code and its reason phrase.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import httpx

from esl_control.model.webhooks import events
from pult import clock, netguard

ALLOW_SETTING = "PULT_WEBHOOK_ALLOW_PRIVATE"


class TargetRefused(netguard.AddressRefused):
    """The target's host resolves to an address the SSRF guard refuses."""


@dataclass
class Attempt:
    """What one attempt gave: ``ok`` for a 2xx answer; ``retry`` when worth trying again (any
    other answer, a timeout or a connection error); never for a refused address."""

    ok: bool
    status_code: int | None
    error: str | None
    response_ms: int
    retry: bool

    def as_dict(self) -> dict:
        return asdict(self)


def post(url: str, secret: str, body: str, *, event_id: str, delivery_id: str, event_type: str,
         allow_private: bool, timeout: float, transport: httpx.BaseTransport | None = None) -> Attempt:
    """POST ``body`` signed with ``secret`` now; never raises for a network or HTTP failure."""
    where = netguard.public_url(url)
    problem = netguard.url_problem(url, allow_private=allow_private, setting=ALLOW_SETTING)
    if problem:
        return Attempt(False, None, f"{where}: {problem}", 0, False)
    raw = body.encode("utf-8")
    hdrs = events.headers(secret, int(clock.timestamp()), raw, event_id=event_id, delivery_id=delivery_id,
                          event_type=event_type)
    started = time.perf_counter()
    try:
        transport = transport or netguard.guarded_transport(netguard.GuardedBackend(
            allow_private, setting=ALLOW_SETTING, what="webhook target", error=TargetRefused))
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
            response = client.post(url, content=raw, headers=hdrs)
    except TargetRefused as exc:
        return Attempt(False, None, str(exc), _ms(started), False)
    except httpx.TimeoutException:
        return Attempt(False, None, f"{where}: no answer within {timeout:g} s", _ms(started), True)
    except httpx.TransportError as exc:
        return Attempt(False, None, f"{where}: cannot connect ({type(exc).__name__}: {exc})"[:300],
                       _ms(started), True)
    ms = _ms(started)
    if 200 <= response.status_code < 300:
        return Attempt(True, response.status_code, None, ms, False)
    return Attempt(False, response.status_code,
                   f"{where} answered {response.status_code} {response.reason_phrase}".strip(), ms, True)


def _ms(started: float) -> int:
    return int(round((time.perf_counter() - started) * 1000))

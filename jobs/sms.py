"""SMS: the provider interface, the HTTP gateway provider and the ``jobs.sms.send`` job.

Pult sends SMS only to Russian mobile numbers ``+79xxxxxxxxx`` (PRODUCT.md §10); anything else is
refused with a clear :class:`InvalidPhone` before a job is queued.

A provider is anything with ``send(to, text, idempotency_key=None) -> provider message id``
(:class:`SmsProvider`). The one shipped is :class:`HttpGatewayProvider`: it POSTs JSON to
``settings.sms_gateway_url`` with ``Authorization: Bearer <settings.sms_gateway_token>``::

    POST <url>   {"to": "+79123456789", "text": "...", "idempotency_key": "..."}
    2xx          {"id": "<provider message id>"}     (also accepted: "message_id")

5xx answers, 429, timeouts and connection errors are :class:`SmsTemporaryFailure` (the job retries
with backoff); other 4xx are :class:`SmsRejected` and fail at once with the gateway's message
(only the ``error``/``message``/``detail`` text of a JSON answer, at most 200 characters: a body
that is not JSON is never echoed into job results and logs).

The gateway address is set in the operator console, so it is guarded against server-side request
forgery (:func:`gateway_address_problem`): only ``http``/``https``; link-local addresses (which
include the cloud metadata services, ``169.254.169.254`` and ``fd00:ec2::254``) are refused
always; private, loopback and other non-public addresses are refused unless the deployment sets
``PULT_SMS_ALLOW_PRIVATE=true`` (a gateway inside the operator's own network, and the tests'
local receivers). The console checks the URL as typed; every connection checks again the
addresses the host name resolves to *at connect time* and connects to the checked address
(:class:`GuardedBackend`), so a name that later resolves elsewhere (DNS rebinding) gains nothing.
"""
from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Callable

import httpx

from jobs import context
from jobs.app import TransientError, app
from jobs.idempotency import idempotent
from pult import netguard
from pult.settings import Settings

#: Longest text accepted (a concatenated SMS of ~15 Cyrillic parts).
MAX_TEXT = 1000
_PHONE = re.compile(r"^\+79\d{9}$")
_SEPARATORS = re.compile(r"[\s()\-.]")


class SmsError(Exception):
    """An SMS cannot be sent as asked (bad input, configuration or a permanent refusal)."""


class InvalidPhone(SmsError, ValueError):
    """The number is not a Russian mobile number in the form ``+79xxxxxxxxx``."""


class SmsNotConfigured(SmsError):
    """No SMS gateway is configured (``PULT_SMS_GATEWAY_URL``)."""


class SmsRejected(SmsError):
    """The gateway refused the message permanently (a 4xx answer)."""


class SmsTemporaryFailure(TransientError):
    """The gateway is down, overloaded or timed out; worth retrying."""


def normalize_phone(value: str) -> str:
    """``+7 (912) 345-67-89`` -> ``+79123456789``; :class:`InvalidPhone` for anything else.

    Spaces, brackets, dots and dashes are tolerated; the number itself must be ``+79`` and nine
    more digits (8-prefixed or foreign numbers are refused rather than guessed).
    """
    if not isinstance(value, str):
        raise InvalidPhone(f"phone number {value!r}: expected a string like +79123456789")
    compact = _SEPARATORS.sub("", value.strip())
    if not _PHONE.match(compact):
        raise InvalidPhone(f"SMS can only be sent to Russian mobile numbers in the form "
                           f"+79xxxxxxxxx; got {value!r}")
    return compact


def check_text(text: str) -> str:
    """The text to send, stripped; :class:`SmsError` if empty or too long."""
    if not isinstance(text, str) or not text.strip():
        raise SmsError("the SMS text is empty")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise SmsError(f"the SMS text is {len(text)} characters; at most {MAX_TEXT}")
    return text


class SmsProvider(ABC):
    """Sends one SMS and returns the provider's message id."""

    @abstractmethod
    def send(self, to: str, text: str, idempotency_key: str | None = None) -> str:
        """Send ``text`` to ``to`` (already normalised); raise :class:`SmsRejected` for a
        permanent refusal and :class:`SmsTemporaryFailure` when worth retrying."""


class HttpGatewayProvider(SmsProvider):
    """An HTTP JSON gateway (see the module docstring for the protocol)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None, *, allow_private: bool = False) -> None:
        problem = gateway_address_problem(url, allow_private=allow_private)
        if problem:
            raise SmsNotConfigured(f"SMS gateway URL {_public(url)!r}: {problem}")
        self.url = url
        self.where = _public(url)  # for messages: job results and logs must not carry secrets
        self.token = token
        self.timeout = timeout
        self.allow_private = allow_private
        self._transport = transport

    def send(self, to: str, text: str, idempotency_key: str | None = None) -> str:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        body: dict[str, Any] = {"to": to, "text": text}
        if idempotency_key:
            body["idempotency_key"] = idempotency_key
            headers["Idempotency-Key"] = idempotency_key
        try:
            # a fresh guarded transport per send re-checks the resolved address of the connection;
            # tests may pass their own transport (httpx.MockTransport), which makes no connection
            transport = self._transport or guarded_transport(self.allow_private)
            with httpx.Client(timeout=self.timeout, transport=transport) as client:
                response = client.post(self.url, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise SmsTemporaryFailure(f"SMS gateway {self.where} timed out: {exc}") from None
        except httpx.TransportError as exc:
            raise SmsTemporaryFailure(f"SMS gateway {self.where} unreachable: {exc}") from None
        detail = _detail(response)
        if response.status_code >= 500 or response.status_code == 429:
            raise SmsTemporaryFailure(f"SMS gateway {self.where} answered "
                                      f"{response.status_code}: {detail}")
        if response.status_code >= 400:
            raise SmsRejected(f"SMS gateway refused the message to {to}: "
                              f"{response.status_code} {detail}")
        try:
            data = response.json()
        except ValueError:
            raise SmsRejected(f"SMS gateway {self.where} answered {response.status_code} without "
                              f"JSON") from None
        message_id = (data.get("id") or data.get("message_id")) if isinstance(data, dict) else None
        if not message_id:
            raise SmsRejected(f"SMS gateway {self.where} answered without a message id: {detail}")
        return str(message_id)


_public = netguard.public_url


def _detail(response: httpx.Response) -> str:
    """What a failure message may say about the answer: the ``error``/``message``/``detail``
    text of a JSON object (≤ 200 characters), else only the status line. A body that is not
    JSON (an HTML error page, whatever an internal service answered) is never echoed."""
    try:
        data = response.json()
    except ValueError:
        return response.reason_phrase or "(no JSON answer)"
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:200]
    return response.reason_phrase or "(no error text)"


# --------------------------------------------------------------------------- SSRF guard
# the rules live in pult/netguard.py (shared with webhook targets); these names keep the SMS
# gateway's messages ("SMS gateway host …", PULT_SMS_ALLOW_PRIVATE)
ALLOW_SETTING = "PULT_SMS_ALLOW_PRIVATE"
ALWAYS_REFUSED = netguard.ALWAYS_REFUSED
PROBLEMS = {k: v.replace("{setting}", ALLOW_SETTING) for k, v in netguard.PROBLEMS.items()}
address_kind = netguard.address_kind
gateway_url_kind = netguard.url_kind


def address_problem(ip, *, allow_private: bool) -> str | None:
    """Why the gateway may not be at ``ip``, in words (None: it may). See the module docstring."""
    return netguard.address_problem(ip, allow_private=allow_private, setting=ALLOW_SETTING)


def gateway_address_problem(url: str, *, allow_private: bool) -> str | None:
    """:func:`gateway_url_kind` in words (None: acceptable as typed)."""
    return netguard.url_problem(url, allow_private=allow_private, setting=ALLOW_SETTING)


class GatewayAddressRefused(SmsNotConfigured):
    """The gateway's host resolves to an address the SSRF guard refuses (a permanent failure)."""


class GuardedBackend(netguard.GuardedBackend):
    """:class:`pult.netguard.GuardedBackend` for the SMS gateway."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__(allow_private, setting=ALLOW_SETTING, what="SMS gateway",
                         error=GatewayAddressRefused)


def guarded_transport(allow_private: bool) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through :class:`GuardedBackend` (and never
    through proxies from the environment)."""
    return netguard.guarded_transport(GuardedBackend(allow_private))


_factories: dict[str, Callable[[Settings], SmsProvider]] = {}


def register_provider(scheme: str, factory: Callable[[Settings], SmsProvider]) -> None:
    """Let a gateway URL scheme (e.g. ``"smpp"``) map to another provider implementation."""
    _factories[scheme] = factory


def provider_for(settings: Settings) -> SmsProvider:
    """The provider configured in ``settings``; :class:`SmsNotConfigured` when there is none."""
    url = settings.sms_gateway_url
    if not url:
        raise SmsNotConfigured("SMS is not configured: set PULT_SMS_GATEWAY_URL "
                               "(and PULT_SMS_GATEWAY_TOKEN)")
    scheme = url.split(":", 1)[0]
    if scheme in _factories:
        return _factories[scheme](settings)
    return HttpGatewayProvider(url, settings.sms_gateway_token,
                               allow_private=bool(getattr(settings, "sms_allow_private", False)))


@app.task(bind=True, name="jobs.sms.send")
@idempotent("sms")
def send(self, to: str, text: str) -> dict[str, Any]:
    """The SMS job: send once per idempotency key; returns ``{"to", "provider_id"}``."""
    to, text = normalize_phone(to), check_text(text)
    key = (self.request.kwargs or {}).get("idempotency_key") or self.request.id
    provider_id = provider_for(context.delivery_settings()).send(to, text, idempotency_key=key)
    return {"to": to, "provider_id": provider_id}


def send_sms(to: str, text: str, *, idempotency_key: str | None = None,
             countdown: float | None = None) -> str:
    """Validate and queue an SMS; returns the job id.

    Raises :class:`InvalidPhone`, :class:`SmsError`, :class:`SmsNotConfigured` or
    :class:`jobs.app.JobsUnavailable`.
    """
    from jobs.client import submit

    to, text = normalize_phone(to), check_text(text)
    provider_for(context.settings())  # refuse now if SMS is not configured at all
    return submit(send, kwargs={"to": to, "text": text, "idempotency_key": idempotency_key},
                  countdown=countdown, what="the SMS")


async def send_sms_async(to: str, text: str, *, idempotency_key: str | None = None,
                         countdown: float | None = None) -> str:
    """:func:`send_sms` for the Tornado loop (the Redis publish runs in a thread)."""
    from jobs.client import submit_async

    to, text = normalize_phone(to), check_text(text)
    provider_for(context.settings())
    return await submit_async(send, kwargs={"to": to, "text": text,
                                            "idempotency_key": idempotency_key},
                              countdown=countdown, what="the SMS")

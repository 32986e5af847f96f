"""Validation of a webhook subscription: ``{url, events, secret, active, description}``.

The URL passes the SSRF guard of :mod:`pult.netguard` as typed (http/https; never a link-local
or cloud-metadata address; private and loopback addresses only with PULT_WEBHOOK_ALLOW_PRIVATE);
the address a host name resolves to is checked again at every delivery.
"""
from __future__ import annotations

import re
import secrets as _secrets
from typing import Any, Mapping

from esl_control.model.common import clean_bool, clean_list, clean_mapping, clean_text
from esl_control.model.webhooks.events import EVENTS
from esl_control.routing.errors import RuleError, _register
from pult import netguard
from pult.i18n import N_

URL_MAX = 2000
SECRET_MIN, SECRET_MAX = 16, 200
_SECRET = re.compile(r"[\x21-\x7e]+")  # printable ASCII, no spaces

_register({
    'webhook.url_required': N_('Enter the address that receives the events (http:// or https://)'),
    'webhook.url_scheme': N_('The address must start with http:// or https:// and name a host'),
    'webhook.url_link_local': N_('The address {host} is a link-local (cloud metadata) address and is never allowed'),
    'webhook.url_private': N_('The address {host} is not public; private and loopback addresses are not allowed for webhooks'),
    'webhook.url_not_allowed': N_('This address is not allowed: {host}'),
    'webhook.events_empty': N_('Choose at least one event'),
    'webhook.event_unknown': N_("Unknown event type '{value}'; known: {allowed}"),
    'webhook.secret': N_('The signing secret must be {min} to {max} printable Latin characters without spaces'),
})

_URL_CODES = {"scheme": "webhook.url_scheme", "no_host": "webhook.url_scheme", "unparsable": "webhook.url_scheme",
              "link_local": "webhook.url_link_local", "not_public": "webhook.url_private"}


def clean_url(value: Any, *, allow_private: bool) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RuleError("webhook.url_required", field="url")
    url = value.strip()
    if len(url) > URL_MAX:
        raise RuleError("value.too_long", field="url", max=URL_MAX)
    kind = netguard.url_kind(url, allow_private=allow_private)
    if kind:
        try:
            from urllib.parse import urlsplit

            host = urlsplit(url).hostname or url
        except ValueError:
            host = url
        raise RuleError(_URL_CODES.get(kind, "webhook.url_not_allowed"), field="url", host=host)
    return url


def clean_events(value: Any) -> list[str]:
    items = [value] if isinstance(value, str) else clean_list(value, "events")
    chosen = set()
    for item in items:
        if item not in EVENTS:
            raise RuleError("webhook.event_unknown", field="events", value=str(item)[:60],
                            allowed=", ".join(EVENTS))
        chosen.add(item)
    if not chosen:
        raise RuleError("webhook.events_empty", field="events")
    return [e for e in EVENTS if e in chosen]  # catalogue order


def clean_secret(value: Any) -> str | None:
    """The typed secret, or None (keep the stored one / generate one)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or not (SECRET_MIN <= len(value.strip()) <= SECRET_MAX) \
            or not _SECRET.fullmatch(value.strip()):
        raise RuleError("webhook.secret", field="secret", min=SECRET_MIN, max=SECRET_MAX)
    return value.strip()


def new_secret() -> str:
    return "whsec_" + _secrets.token_urlsafe(32)


def clean_subscription(data: Mapping[str, Any], *, allow_private: bool) -> dict:
    """``{url, events, active, description}`` plus ``secret`` (None: not typed)."""
    data = clean_mapping(data, "body", optional=False)
    return {"url": clean_url(data.get("url"), allow_private=allow_private),
            "events": clean_events(data.get("events")),
            "active": clean_bool(data.get("active"), "active", default=True),
            "description": clean_text(data.get("description"), "description"),
            "secret": clean_secret(data.get("secret"))}

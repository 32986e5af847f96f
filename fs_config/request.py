"""What mod_xml_curl asks: one form-encoded POST, parsed into :class:`XmlCurlRequest`.

Every lookup carries ``hostname``, ``section``, ``tag_name``, ``key_name``, ``key_value``; the
rest depends on who asks (see ``shared/freeswitch/traces/xml_curl_requests.jsonl``):

- configuration: ``key_value`` is the .conf name (``sofia.conf``, ``acl.conf``,
  ``conference.conf``...); mod_conference adds ``conference_name``/``profile_name`` or
  ``Action=request-controls``/``Controls``; mod_sofia adds ``profile`` on a single-profile reload.
- dialplan: ``Event-Calling-Function=dialplan_xml_locate`` and ~100 channel fields
  (``Caller-Context``, ``Caller-Destination-Number``, ``Hunt-*``, ``variable_*``).
- directory: ``action`` (``sip_auth``, ``user_call``...), ``user``, ``domain``, ``sip_auth_*``.

Field names are case-sensitive as FreeSWITCH sends them. Unknown fields are kept and ignored;
a missing field reads as ``""``. Parsing never raises: bad bytes become U+FFFD.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import unquote

#: At most this many form fields are read (a dialplan lookup has ~100, with many variables a few hundred).
MAX_FIELDS = 4000


def _unquote(text: str) -> str:
    """Form-decode one name or value: ``+`` is a space, ``%XX`` are UTF-8 bytes (bad ones → U+FFFD)."""
    if "+" in text:
        text = text.replace("+", " ")
    if "%" in text:
        text = unquote(text, encoding="utf-8", errors="replace")
    return text


@dataclass(frozen=True)
class XmlCurlRequest:
    """One lookup from FreeSWITCH. ``fields`` holds every form field (first value wins)."""

    fields: Mapping[str, str] = field(default_factory=dict)
    #: The address the request came from (the FreeSWITCH node), as checked by the handler.
    remote_ip: str = ""

    def get(self, name: str, default: str = "") -> str:
        """A field's value, ``default`` when absent."""
        return self.fields.get(name, default)

    # The five fields every lookup carries.
    @property
    def section(self) -> str:
        return self.get("section")

    @property
    def hostname(self) -> str:
        """The FreeSWITCH node's host name (``hostname`` field)."""
        return self.get("hostname")

    @property
    def tag_name(self) -> str:
        return self.get("tag_name")

    @property
    def key_name(self) -> str:
        return self.get("key_name")

    @property
    def key_value(self) -> str:
        return self.get("key_value")

    # Dialplan lookups: Hunt-* is the current hunt (after a transfer), Caller-* the original.
    @property
    def context(self) -> str:
        """The dialplan context being searched."""
        return self.get("Hunt-Context") or self.get("Caller-Context")

    @property
    def destination_number(self) -> str:
        return self.get("Hunt-Destination-Number") or self.get("Caller-Destination-Number")

    @property
    def unique_id(self) -> str:
        """The channel's UUID (dialplan) or the call that caused the lookup (``Fetch-Call-UUID``)."""
        return self.get("Unique-ID") or self.get("Fetch-Call-UUID")

    # Directory lookups.
    @property
    def action(self) -> str:
        """``sip_auth``, ``user_call``, ``message-count``, ``reverse-auth-lookup``... (directory)."""
        return self.get("action")

    @property
    def user(self) -> str:
        return self.get("user")

    @property
    def domain(self) -> str:
        """The SIP domain asked for: ``domain``, else the directory ``key_value``."""
        return self.get("domain") or (self.key_value if self.tag_name == "domain" else "")

    @classmethod
    def parse(cls, body: bytes, remote_ip: str = "") -> "XmlCurlRequest":
        """Parse an ``application/x-www-form-urlencoded`` body (never raises).

        mod_xml_curl escapes with curl (``%20``), a browser-style ``+`` is read as a space too.
        Fields past :data:`MAX_FIELDS` are dropped.
        """
        text = body.decode("utf-8", "replace") if body else ""
        pairs: dict[str, str] = {}
        for part in text.split("&", MAX_FIELDS)[:MAX_FIELDS]:
            if not part:
                continue
            name, _, value = part.partition("=")
            name, value = _unquote(name), _unquote(value)
            if name not in pairs:
                pairs[name] = value
        return cls(fields=MappingProxyType(pairs), remote_ip=remote_ip)

    @classmethod
    def from_fields(cls, fields: Mapping[str, str], remote_ip: str = "") -> "XmlCurlRequest":
        """Build a request from already-decoded fields (tests, the FreeSWITCH simulator)."""
        return cls(fields=MappingProxyType(dict(fields)), remote_ip=remote_ip)

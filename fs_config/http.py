"""The HTTP endpoint mod_xml_curl POSTs to: ``/fs/xml-curl``.

FreeSWITCH's side (``xml_curl.conf.xml``)::

    <binding name="pult">
      <param name="gateway-url" value="http://pult:8080/fs/xml-curl" bindings="directory|dialplan|configuration"/>
      <param name="gateway-credentials" value="freeswitch:<PULT_XML_CURL_SECRET>"/>
      <param name="auth-scheme" value="basic"/>
    </binding>

Who may ask (checked before the body is read):

- the caller's address must be in ``settings.xml_curl_allow`` (CIDRs; empty = any address), else
  403. The address is the TCP peer, not ``X-Real-IP``/``X-Forwarded-For`` (even if the app runs
  with ``xheaders``), unless the peer is a *trusted proxy* (``trusted_proxies`` argument of
  :func:`routes`, or a ``xml_curl_trusted_proxies`` setting): then its ``X-Real-IP`` is the caller,
  and a trusted proxy that does not send one is refused.
- HTTP Basic credentials are always required, else 401: the password must equal
  ``settings.xml_curl_secret`` or, when that is not configured, the secret generated at first
  start into ``<data_dir>/xml_curl_secret`` (``pult freeswitch-vars`` prints it into the
  FreeSWITCH snippet). Any user name; a secret containing ``:`` is compared with the whole
  ``user:password``.
- with neither an address list nor a secret every request is refused: the directory holds
  password hashes, it is never open by accident.

What comes back: the provider's document for the section (``text/xml``), or FreeSWITCH's "not
found" document for everything else: unserved sections, unknown or missing ``section``, garbage,
oversized bodies, provider errors and time-outs. FreeSWITCH then falls back to its next binding or
its static XML. Nothing a caller sends produces a 500.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from tornado.web import RequestHandler, URLSpec, stream_request_body

from fs_config.providers import Providers
from fs_config.request import XmlCurlRequest
from fs_config.xml import NOT_FOUND_XML, SECTIONS
from pult.networks import Address, Network, address_in, parse_address, parse_networks
from pult.observability import XML_CURL_REQUESTS
from storage.priority import urgent

log = logging.getLogger(__name__)

#: Default mount point.
PATH = "/fs/xml-curl"
#: Bodies above this get "not found" (a dialplan lookup is ~3-30 KB).
MAX_BODY = 512 * 1024
#: Bodies above this are cut off by closing the connection (nothing is buffered past it).
HARD_MAX_BODY = 8 * 1024 * 1024
#: A provider slower than this is abandoned ("not found"): FreeSWITCH is waiting on the call path.
DEFAULT_TIMEOUT = 5.0


def _secret_of(settings) -> str | None:
    """The configured secret, or the one generated into the data directory at first start."""
    password = getattr(settings, "xml_curl_password", None)
    if callable(password):
        return password() or None
    return getattr(settings, "xml_curl_secret", None) or None


@dataclass(frozen=True)
class AccessPolicy:
    """Who may query: addresses (empty = any), secret (None = no Basic auth), trusted proxies."""

    allow: tuple[Network, ...]
    secret: str | None
    trusted_proxies: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings, trusted_proxies: str | Iterable[str] | None = None) -> "AccessPolicy":
        if trusted_proxies is None:
            trusted_proxies = getattr(settings, "xml_curl_trusted_proxies", "") or ""
        return cls(allow=parse_networks(settings.xml_curl_allow or "", "PULT_XML_CURL_ALLOW"),
                   secret=_secret_of(settings),
                   trusted_proxies=parse_networks(trusted_proxies, "PULT_XML_CURL_TRUSTED_PROXIES"))

    @property
    def open_to_nobody(self) -> bool:
        return not self.allow and not self.secret

    def client_ip(self, peer: str | None, headers) -> tuple[Address | None, str]:
        """The caller's address and a reason when it cannot be determined."""
        ip = parse_address(peer) if peer else None
        if ip is None:
            return None, f"peer address {peer!r} is not an IP address"
        if address_in(ip, self.trusted_proxies):
            real = headers.get("X-Real-IP")
            if not real:
                return None, f"trusted proxy {ip} sent no X-Real-IP"
            real_ip = parse_address(real)
            if real_ip is None:
                return None, f"trusted proxy {ip} sent a bad X-Real-IP {real[:60]!r}"
            return real_ip, ""
        return ip, ""

    def address_allowed(self, ip: Address) -> bool:
        return not self.allow or address_in(ip, self.allow)

    def credentials_ok(self, authorization: str | None) -> bool:
        """Check an ``Authorization: Basic ...`` header against the secret (constant time)."""
        if not self.secret:
            return True
        if not authorization or not authorization[:6].lower() == "basic ":
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        user, sep, password = decoded.partition(":")
        if not sep:
            return False
        offered = decoded if ":" in self.secret else password
        return hmac.compare_digest(offered.encode("utf-8"), self.secret.encode("utf-8"))


@stream_request_body
class XmlCurlHandler(RequestHandler):
    """Answers mod_xml_curl lookups (POST form, or GET with the same fields in the query string).

    The body is streamed so that the access check runs before it is read, and so that Tornado's
    own form parsing (which answers 400 on bodies it dislikes) never runs: malformed input gets
    FreeSWITCH's "not found" instead.
    """

    def initialize(self, providers: Providers, policy: AccessPolicy, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._started = time.monotonic()
        self.providers = providers
        self.policy = policy
        self.timeout = timeout
        self._chunks: list[bytes] = []
        self._size = 0
        self._oversized = False
        self._client_ip = ""

    def check_xsrf_cookie(self) -> None:
        """FreeSWITCH has no cookies; callers are checked by address and shared secret instead."""

    def compute_etag(self) -> None:
        return None

    def prepare(self) -> None:
        """Check the caller (address, then secret) before any of the body is read."""
        if self.request.connection is not None and hasattr(self.request.connection, "set_max_body_size"):
            self.request.connection.set_max_body_size(HARD_MAX_BODY)
        peer = getattr(getattr(self.request.connection, "context", None), "address", None)
        peer_host = peer[0] if isinstance(peer, tuple) and peer else None
        if self.policy.open_to_nobody:
            return self._deny(403, "no PULT_XML_CURL_ALLOW and no PULT_XML_CURL_SECRET configured", peer_host)
        ip, reason = self.policy.client_ip(peer_host, self.request.headers)
        if ip is None:
            return self._deny(403, reason, peer_host)
        self._client_ip = str(ip)
        if not self.policy.address_allowed(ip):
            return self._deny(403, f"address {ip} is not in PULT_XML_CURL_ALLOW", peer_host)
        if not self.policy.credentials_ok(self.request.headers.get("Authorization")):
            self.set_header("WWW-Authenticate", 'Basic realm="pult xml_curl"')
            return self._deny(401, "missing or wrong HTTP Basic credentials", peer_host)

    def _deny(self, status: int, reason: str, peer: str | None) -> None:
        log.warning("xml_curl request refused (%d): %s (peer %s, %s %s)",
                    status, reason, peer, self.request.method, self.request.path)
        XML_CURL_REQUESTS.labels(section="unknown", result="denied").inc()
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("unauthorized\n" if status == 401 else "forbidden\n")

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self._oversized:
            return
        self._size += len(chunk)
        if self._size > MAX_BODY:
            self._oversized = True
            self._chunks.clear()
        else:
            self._chunks.append(chunk)

    async def post(self) -> None:
        if self._oversized:
            log.warning("xml_curl request from %s: body over %d bytes, answering not found",
                        self._client_ip, MAX_BODY)
            return self._answer(None, "unknown", "invalid")
        await self._lookup(XmlCurlRequest.parse(b"".join(self._chunks), self._client_ip))

    async def get(self) -> None:
        query = self.request.query.encode("latin-1", "replace")
        await self._lookup(XmlCurlRequest.parse(query[:MAX_BODY], self._client_ip))

    async def _lookup(self, req: XmlCurlRequest) -> None:
        section = req.section
        provider = self.providers.for_section(section) if section else None
        if provider is None:
            log.info("xml_curl request from %s with %s section %r: not found", self._client_ip,
                     "an unknown" if section else "no", section[:40])
            return self._answer(None, "unknown", "invalid")
        try:
            # FreeSWITCH waits on this: ahead of the cabinet's queued store work. A timeout
            # scope, not wait_for: no task per lookup (a kept answer needs no await at all)
            with urgent():
                async with asyncio.timeout(self.timeout):
                    xml = await provider(req)
        except asyncio.TimeoutError:
            log.error("xml_curl %s lookup (%s=%r) took over %.1fs: answering not found",
                      section, req.key_name, req.key_value[:80], self.timeout)
            return self._answer(None, section, "error")
        except Exception:
            log.exception("xml_curl %s provider failed (%s=%r): answering not found",
                          section, req.key_name, req.key_value[:80])
            return self._answer(None, section, "error")
        if xml is not None and not isinstance(xml, str):
            log.error("xml_curl %s provider returned %s, not str: answering not found",
                      section, type(xml).__name__)
            return self._answer(None, section, "error")
        self._answer(xml, section, "found" if xml is not None else "not_found")

    def _answer(self, xml: str | None, section: str, result: str) -> None:
        label = section if section in SECTIONS else "unknown"
        XML_CURL_REQUESTS.labels(section=label, result=result).inc()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("xml_curl %s %s in %.1f ms", label, result, (time.monotonic() - self._started) * 1000)
        self.set_header("Content-Type", "text/xml; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(NOT_FOUND_XML if xml is None else xml)

    def write_error(self, status_code: int, **kwargs) -> None:
        """Last resort for an error raised outside the lookup (Tornado has logged it): FreeSWITCH
        still gets its not-found document, never a 500 page."""
        if status_code >= 500:
            XML_CURL_REQUESTS.labels(section="unknown", result="error").inc()
            self.set_status(200)
            self.set_header("Content-Type", "text/xml; charset=utf-8")
            self.finish(NOT_FOUND_XML)
        else:
            super().write_error(status_code, **kwargs)


#: Where mod_json_cdr posts call records (``json_cdr.conf.xml``).
CDR_PATH = "/fs/cdr"


class CdrHandler(XmlCurlHandler):
    """Takes mod_json_cdr's POSTs (one JSON call record each, ``?uuid=``), with the same caller
    checks as the lookups. The answer tells the switch whether to retry: 200 once the record is
    stored (or was already), 400 for a body that is not a JSON object (kept on its disk after the
    retries), 503 while it cannot be stored (the switch retries, then keeps it on disk)."""

    def initialize(self, accept, policy: AccessPolicy, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().initialize(Providers(), policy, timeout)
        self.accept = accept

    async def get(self) -> None:
        self.set_status(405)
        self.finish("POST a JSON call record\n")

    async def post(self) -> None:
        if self._oversized:
            return self._reply(400, f"body over {MAX_BODY} bytes")
        try:
            doc = json.loads(b"".join(self._chunks))
        except ValueError as exc:
            return self._reply(400, f"not JSON: {exc}")
        if not isinstance(doc, dict):
            return self._reply(400, "not a JSON object")
        try:
            stored = await asyncio.wait_for(self.accept(doc), self.timeout)
        except ValueError as exc:
            return self._reply(400, str(exc))
        except Exception as exc:  # the store is down or slow: the switch retries later
            log.error("call record from %s (uuid %s) not stored yet: %s", self._client_ip,
                      self.get_query_argument("uuid", "?")[:64], exc)
            return self._reply(503, "not stored, retry later")
        self._reply(200, "stored" if stored else "already stored")

    def _reply(self, status: int, text: str) -> None:
        if status == 400:
            log.error("call record from %s refused: %s", self._client_ip, text)
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(text + "\n")

    def write_error(self, status_code: int, **kwargs) -> None:
        RequestHandler.write_error(self, status_code, **kwargs)


def cdr_routes(settings, accept, *, path: str = CDR_PATH,
               trusted_proxies: str | Iterable[str] | None = None) -> list[URLSpec]:
    """``/fs/cdr``: ``accept(doc) -> awaitable bool`` stores one JSON CDR (True: stored now,
    False: already there; ValueError: not a call record)."""
    policy = AccessPolicy.from_settings(settings, trusted_proxies)
    return [URLSpec(path, CdrHandler, {"accept": accept, "policy": policy}, name="fs_cdr")]


def routes(settings, providers: Providers | None = None, *, path: str = PATH,
           trusted_proxies: str | Iterable[str] | None = None,
           timeout: float = DEFAULT_TIMEOUT, socket_address=None) -> list[URLSpec]:
    """The URL specs to add to the Tornado application.

    ``providers`` defaults to ``Providers.default(settings, socket_address=socket_address)``
    (only the dialplan is served: calls go to the outbound socket).
    ``trusted_proxies`` (CIDRs) defaults to a ``xml_curl_trusted_proxies`` setting when present.
    Raises ValueError for a bad CIDR in the settings, naming the setting.
    """
    policy = AccessPolicy.from_settings(settings, trusted_proxies)
    if policy.open_to_nobody:
        log.error("xml_curl: neither PULT_XML_CURL_ALLOW nor PULT_XML_CURL_SECRET is set; "
                  "every lookup will be refused")
    if providers is None:
        providers = Providers.default(settings, socket_address=socket_address)
    return [URLSpec(path, XmlCurlHandler,
                    {"providers": providers, "policy": policy, "timeout": timeout},
                    name="fs_xml_curl")]

"""The SSRF guard of every address a tenant or the operator types and Pult then connects to
(the SMS gateway, webhook targets): one set of rules, here, used by each of them.

- only ``http``/``https`` URLs with a host;
- link-local addresses (which include the cloud metadata services, ``169.254.169.254`` and
  ``fd00:ec2::254``) are refused always;
- multicast and unspecified addresses are refused;
- private, loopback and other non-public addresses are refused unless the deployment allows them
  for that use (``PULT_SMS_ALLOW_PRIVATE``, ``PULT_WEBHOOK_ALLOW_PRIVATE``: a service inside the
  operator's own network, the tests' local receivers).

A URL is checked as typed (:func:`url_kind`: IP literals and ``localhost``; no DNS), and every
connection checks again the addresses the host name resolves to *at connect time* and connects to
the checked address (:class:`GuardedBackend`, :func:`guarded_transport`), so a name that later
resolves elsewhere (DNS rebinding) gains nothing.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

#: refused whatever the allow-private setting says: link-local (cloud metadata lives there)
ALWAYS_REFUSED = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"),
                  ipaddress.ip_network("fd00:ec2::254/128"))

#: why an address is refused (a key of :func:`address_kind`) -> English text; ``{setting}`` names
#: the environment variable that allows private addresses for the use at hand
PROBLEMS = {
    "unparsable": "the URL cannot be parsed",
    "scheme": "expected http:// or https://",
    "no_host": "the URL names no host",
    "link_local": "{ip} is a link-local (cloud metadata) address, never allowed",
    "not_unicast": "{ip} is not a unicast address",
    "not_public": ("{ip} is not a public address; private and loopback addresses are allowed only "
                   "with {setting}=true"),
}

IP = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """A host resolves to an address the guard refuses (a permanent failure)."""


def address_kind(ip: IP, *, allow_private: bool) -> str | None:
    """Why Pult may not connect to ``ip``, as a :data:`PROBLEMS` key (None: it may)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:  # ::ffff:169.254.169.254 is 169.254.169.254
        ip = mapped
    if any(ip in net for net in ALWAYS_REFUSED):
        return "link_local"
    if ip.is_multicast or ip.is_unspecified:
        return "not_unicast"
    if ip.is_global:
        return None
    if allow_private and (ip.is_private or ip.is_loopback):
        return None
    return "not_public"


def address_problem(ip: IP, *, allow_private: bool, setting: str) -> str | None:
    """:func:`address_kind` in words (None: allowed)."""
    kind = address_kind(ip, allow_private=allow_private)
    return PROBLEMS[kind].format(ip=getattr(ip, "ipv4_mapped", None) or ip, setting=setting) if kind else None


def url_kind(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` may not be connected to, judged without DNS, as a :data:`PROBLEMS` key
    (None: acceptable as typed). http/https with a host; an IP literal is checked with
    :func:`address_kind`; the name ``localhost`` counts as loopback. Other names are checked
    when connecting (:class:`GuardedBackend`)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 — raises ValueError for a bad port
    except ValueError:
        return "unparsable"
    if parts.scheme not in ("http", "https"):
        return "scheme"
    if not host:
        return "no_host"
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    return address_kind(ip, allow_private=allow_private)


def url_problem(url: str, *, allow_private: bool, setting: str) -> str | None:
    """:func:`url_kind` in words (None: acceptable as typed)."""
    kind = url_kind(url, allow_private=allow_private)
    if kind is None:
        return None
    host = (urlsplit(url).hostname or "") if kind != "unparsable" else ""
    return PROBLEMS[kind].format(ip=host, setting=setting)


def public_url(url: str) -> str:
    """A URL as messages show it: no user name, password or query string (services commonly take
    their key there), which would end up in job results and logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<unparsable URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend that resolves the host itself, refuses the connection if any
    resolved address is not allowed (:func:`address_problem`), and connects to the checked
    address — TLS still verifies and sends the URL's host name. ``what`` names the service in
    the error (``"SMS gateway"``), ``error`` is the exception class raised."""

    def __init__(self, allow_private: bool, *, setting: str, what: str = "host",
                 error: type[Exception] = AddressRefused) -> None:
        self.allow_private = allow_private
        self.setting = setting
        self.what = what
        self.error = error

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None, socket_options=None) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for addr in addresses:
            problem = address_problem(ipaddress.ip_address(addr.split("%", 1)[0]),
                                      allow_private=self.allow_private, setting=self.setting)
            if problem:
                raise self.error(f"{self.what} host {host} refused: {problem}")
        last: Exception | None = None
        for addr in addresses:
            try:
                return super().connect_tcp(addr, port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except httpcore.ConnectError as exc:  # try the next address of the name
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")


def guarded_transport(backend: GuardedBackend) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through ``backend`` (and never through proxies
    from the environment)."""
    transport = httpx.HTTPTransport(trust_env=False)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx/httpcore changed: cannot install the address guard")
    pool._network_backend = backend
    return transport

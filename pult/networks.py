"""The operator's network allow-lists in the settings — who may query xml_curl
(``PULT_XML_CURL_ALLOW``), whose ``X-Real-IP`` is believed (``PULT_XML_CURL_TRUSTED_PROXIES``), who
may read ``/metrics`` (``PULT_METRICS_ALLOW``), which Pult servers the Event Socket admits
(``PULT_ESL_ACL``): one syntax and one check of a peer's address, here.

A list is comma-separated; an item is an IPv4 or IPv6 address (that one host) or a network in CIDR
form with no host bits set (``10.0.0.0/8``, not ``10.0.0.1/8``). The tenant's IP whitelist (SIP
accounts, API keys) is another syntax, the cabinet's: :mod:`esl_control.routing.acl`.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

__all__ = ["Network", "Address", "parse_networks", "parse_address", "address_in"]


def parse_networks(value: str | Iterable[str] | None, setting: str) -> tuple[Network, ...]:
    """The networks of a comma-separated list (or of its items); empty items are skipped.

    Raises ValueError naming ``setting`` and the bad item.
    """
    items = (value or "").split(",") if isinstance(value, str) or value is None else list(value)
    nets = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            nets.append(ipaddress.ip_network(item, strict=True))
        except ValueError as exc:
            raise ValueError(f"{setting}: {item!r} is not an address or CIDR ({exc})") from None
    return tuple(nets)


def parse_address(text: str) -> Address | None:
    """A peer's address as a socket or a proxy reports it, or None when it is not one: an IPv6
    zone (``%eth0``) is dropped, and an IPv4-mapped IPv6 address (a dual-stack socket reports IPv4
    peers as ``::ffff:a.b.c.d``) is its IPv4 address."""
    try:
        ip = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def address_in(ip: Address | None, networks: Iterable[Network]) -> bool:
    """Whether ``ip`` is in one of ``networks`` (None: not)."""
    return ip is not None and any(ip in net for net in networks if net.version == ip.version)

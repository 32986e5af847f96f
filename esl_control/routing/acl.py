"""The tenant SIP whitelist syntax, converted to the CIDRs FreeSWITCH ACLs take.

The cabinet's "restricted access" list (inventory D, §4.6.1.3) has IPv4 entries typed into four
octet boxes. Each entry is some fixed octets followed by at most one *open* octet:

- ``192.168.1.20``     one address                 → ``192.168.1.20/32``
- ``192.168.1.16-32``  a range within the last octet given → 192.168.1.16 … 192.168.1.32
- ``192.168.*``        the whole octet, and every octet after it → ``192.168.0.0/16``
- ``10.1-5``           a range, octets after it are any value → 10.1.0.0 … 10.5.255.255
- ``*``                any address → ``0.0.0.0/0``

After a ``*`` or a range nothing else may follow except more ``*`` (``192.168.*.*`` is the same
as ``192.168.*``). Plain CIDR (``10.0.0.0/8``) is accepted too. Anything else raises
:class:`WhitelistEntryError` with a message that shows the expected form.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

_EXPECTED = "expected e.g. 192.168.1.20, 192.168.1.16-32, 192.168.* or 10.0.0.0/8"


class WhitelistEntryError(ValueError):
    """A SIP whitelist entry is not in the accepted syntax; the message names the entry."""


def _octet(text: str, entry: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise WhitelistEntryError(f"{entry!r}: octet {text!r} is not a number ({_EXPECTED})")
    if len(text) > 1 and text[0] == "0":
        raise WhitelistEntryError(f"{entry!r}: octet {text!r} has a leading zero ({_EXPECTED})")
    value = int(text)
    if value > 255:
        raise WhitelistEntryError(f"{entry!r}: octet {value} is above 255 ({_EXPECTED})")
    return value


def whitelist_entry_to_cidrs(entry: str) -> list[str]:
    """Convert one whitelist entry to the smallest list of IPv4 CIDRs covering exactly it."""
    if not isinstance(entry, str):
        raise WhitelistEntryError(f"{entry!r}: expected text ({_EXPECTED})")
    text = entry.strip()
    if not text:
        raise WhitelistEntryError(f"empty entry ({_EXPECTED})")
    if "/" in text:
        try:
            net = ipaddress.IPv4Network(text, strict=True)
        except ValueError as exc:
            raise WhitelistEntryError(f"{entry!r}: {exc} ({_EXPECTED})") from None
        return [str(net)]
    parts = text.split(".")
    if len(parts) > 4:
        raise WhitelistEntryError(f"{entry!r}: more than 4 octets ({_EXPECTED})")
    low: list[int] = []
    high: list[int] = []
    open_at = None  # index of the octet holding "*" or "A-B"
    for i, part in enumerate(parts):
        if open_at is not None:
            if part != "*":
                raise WhitelistEntryError(
                    f"{entry!r}: nothing may follow a '*' or a range except '*' ({_EXPECTED})")
            continue
        if part == "*":
            low.append(0)
            high.append(255)
            open_at = i
        elif "-" in part:
            a, _, b = part.partition("-")
            lo, hi = _octet(a, entry), _octet(b, entry)
            if lo > hi:
                raise WhitelistEntryError(f"{entry!r}: range {lo}-{hi} goes backwards ({_EXPECTED})")
            low.append(lo)
            high.append(hi)
            open_at = i
        else:
            value = _octet(part, entry)
            low.append(value)
            high.append(value)
    if open_at is None and len(parts) < 4:
        raise WhitelistEntryError(
            f"{entry!r}: {len(parts)} octets; give all 4, or end with '*' or a range ({_EXPECTED})")
    while len(low) < 4:  # octets after an open one take every value
        low.append(0)
        high.append(255)
    first = ipaddress.IPv4Address(".".join(map(str, low)))
    last = ipaddress.IPv4Address(".".join(map(str, high)))
    return [str(net) for net in ipaddress.summarize_address_range(first, last)]


def whitelist_to_cidrs(entries: Iterable[str]) -> list[str]:
    """Convert a whole whitelist; overlapping and adjacent blocks are merged, order is by address.

    The first bad entry raises :class:`WhitelistEntryError` (nothing is half-converted).
    """
    nets = [ipaddress.IPv4Network(c) for entry in entries for c in whitelist_entry_to_cidrs(entry)]
    return [str(net) for net in ipaddress.collapse_addresses(nets)]

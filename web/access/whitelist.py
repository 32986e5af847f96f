"""IP whitelist entries (inventory D §4.6.1.3, shared by SIP accounts and API keys).

An entry is an IPv4 address whose octets are typed one by one; ONE octet may instead be a range
``A-B`` (inclusive) or ``*`` (any value), and nothing specific may follow it — every later octet
is "any" (trailing ``*`` octets may be written out)::

    192.168.1.5         one address
    192.168.1.16-32     192.168.1.16 … 192.168.1.32
    192.168.*           192.168.0.0 … 192.168.255.255   (same as 192.168.*.*)
    10.1-5              10.1.0.0 … 10.5.255.255
    *                   every IPv4 address

:func:`parse_entry` gives the inclusive integer range of an entry or raises
:class:`WhitelistError` with a message id saying what is wrong; :func:`allowed` checks an address.
IPv6 is not part of the syntax; an IPv4-mapped IPv6 address is checked as its IPv4 address.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Iterable

from pult.i18n import N_

MAX_ENTRIES = 100


class WhitelistError(ValueError):
    """A bad entry; ``message`` is an English message id, ``index`` its position in the list."""

    def __init__(self, message: str, index: int | None = None):
        self.message = message
        self.index = index
        super().__init__(message)


@dataclass(frozen=True)
class Entry:
    text: str          # as normalised ("192.168.*")
    low: int
    high: int

    def __contains__(self, ip: int) -> bool:
        return self.low <= ip <= self.high


def _octet(text: str) -> int:
    if not text.isdigit() or len(text) > 3:
        raise WhitelistError(N_("Each part must be a number from 0 to 255, a range like 16-32, or *."))
    value = int(text)
    if value > 255:
        raise WhitelistError(N_("Each part must be a number from 0 to 255, a range like 16-32, or *."))
    return value


def parse_entry(text: str) -> Entry:
    """The address range of one entry (see the module docstring)."""
    raw = (text or "").strip()
    if not raw:
        raise WhitelistError(N_("The entry is empty."))
    if ":" in raw:
        raise WhitelistError(N_("Only IPv4 addresses are supported."))
    parts = raw.split(".")
    if len(parts) > 4:
        raise WhitelistError(N_("An address has four parts separated by dots."))
    low, high, fixed, wild_at = [], [], [], None
    for i, part in enumerate(parts):
        part = part.strip()
        if wild_at is not None:
            if part != "*":
                raise WhitelistError(N_("Only one range or * is allowed, and only * may follow it."))
            low.append(0)
            high.append(255)
            continue
        if part == "*":
            wild_at = i
            low.append(0)
            high.append(255)
        elif "-" in part:
            a, _, b = part.partition("-")
            if "-" in b:
                raise WhitelistError(N_("Only one range or * is allowed, and only * may follow it."))
            lo, hi = _octet(a.strip()), _octet(b.strip())
            if lo > hi:
                raise WhitelistError(N_("A range goes from the smaller number to the larger, like 16-32."))
            wild_at = i
            low.append(lo)
            high.append(hi)
        elif "*" in part:
            raise WhitelistError(N_("Each part must be a number from 0 to 255, a range like 16-32, or *."))
        else:
            v = _octet(part)
            low.append(v)
            high.append(v)
        fixed.append(part)
    if len(parts) < 4:
        if wild_at is None:
            raise WhitelistError(N_("Enter all four parts of the address, or end it with * or a range."))
        low += [0] * (4 - len(parts))
        high += [255] * (4 - len(parts))
    norm = ".".join(fixed)
    lo_ip = int(ipaddress.IPv4Address(".".join(map(str, low))))
    hi_ip = int(ipaddress.IPv4Address(".".join(map(str, high))))
    return Entry(norm, lo_ip, hi_ip)


def parse_whitelist(entries: Iterable[str], *, required: bool = True) -> list[Entry]:
    """Parse a whole list; the error carries the position of the first bad entry.

    Duplicates (after normalisation) are dropped; ``required``: an empty list is an error.
    """
    out: list[Entry] = []
    seen = set()
    items = list(entries or [])
    if len(items) > MAX_ENTRIES:
        raise WhitelistError(N_("Too many entries: at most 100."))
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise WhitelistError(N_("The entry is empty."), i)
        try:
            entry = parse_entry(text)
        except WhitelistError as exc:
            exc.index = i
            raise
        if entry.text not in seen:
            seen.add(entry.text)
            out.append(entry)
    if required and not out:
        raise WhitelistError(N_("Add at least one address; * allows every address."))
    return out


def split_text(text: str) -> list[str]:
    """Entries typed in a text area: one per line, or separated by commas, semicolons or spaces."""
    for sep in ",;\t\r":
        text = (text or "").replace(sep, "\n")
    return [part for line in text.split("\n") for part in line.split(" ") if part.strip()]


def allowed(address: str, entries: Iterable[Entry]) -> bool:
    """Whether ``address`` (IPv4, or IPv4-mapped IPv6) falls in any entry."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    if ip.version == 6:
        mapped = ip.ipv4_mapped
        if mapped is None:
            return False
        ip = mapped
    value = int(ip)
    return any(value in e for e in entries)

"""The IP whitelist syntax — one parser for SIP accounts and API keys (PRODUCT.md §6, inventory D
§4.6.1.3) — and its conversion to the CIDRs FreeSWITCH ACLs take.

An entry is an IPv4 address whose octets are typed one by one; ONE octet may instead be a range
``A-B`` (inclusive) or ``*`` (any value), and nothing specific may follow it — every later octet
is "any" (trailing ``*`` octets may be written out)::

    192.168.1.20        one address                          → 192.168.1.20/32
    192.168.1.16-32     192.168.1.16 … 192.168.1.32
    192.168.*           192.168.0.0 … 192.168.255.255        → 192.168.0.0/16 (same as 192.168.*.*)
    10.1-5              10.1.0.0 … 10.5.255.255
    *                   every IPv4 address                   → 0.0.0.0/0
    10.0.0.0/8          a network in CIDR form (no host bits set)

An octet is written in plain ASCII digits without a leading zero (``010`` could be read as octal).
IPv6 is not part of the syntax; an IPv4-mapped IPv6 address is checked as its IPv4 address.

:func:`parse_entry` gives the inclusive integer range of an entry or raises :class:`WhitelistError`
(``message``: an English message id the cabinet translates; ``str()``: the entry, the reason and
the expected form, for logs); :func:`parse_whitelist` checks a whole list, :func:`allowed` checks an
address, :func:`whitelist_to_cidrs` gives what FreeSWITCH is told.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from pult.i18n import N_

MAX_ENTRIES = 100
_EXPECTED = "expected e.g. 192.168.1.20, 192.168.1.16-32, 192.168.* or 10.0.0.0/8"

_BAD_OCTET = N_("Each part must be a number from 0 to 255, a range like 16-32, or *.")
_LEADING_ZERO = N_("A part of the address may not start with 0 (write 10, not 010).")
_ONE_OPEN = N_("Only one range or * is allowed, and only * may follow it.")
_BAD_NETWORK = N_("A network is an address, / and a prefix from 0 to 32, with no host bits set, like 10.0.0.0/8.")


class WhitelistError(ValueError):
    """A bad entry: ``message`` is an English message id, ``index`` its position in the list,
    ``entry`` the text as typed."""

    def __init__(self, message: str, entry: object = None, index: int | None = None):
        self.message = message
        self.entry = entry
        self.index = index
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.entry!r}: {self.message} ({_EXPECTED})"


WhitelistEntryError = WhitelistError  # the name fs_config catches


@dataclass(frozen=True)
class Entry:
    text: str          # as normalised ("192.168.*", "10.0.0.0/8")
    low: int
    high: int

    def __contains__(self, ip: int) -> bool:
        return self.low <= ip <= self.high

    def cidrs(self) -> list[str]:
        """The smallest list of CIDRs covering exactly this entry."""
        first, last = ipaddress.IPv4Address(self.low), ipaddress.IPv4Address(self.high)
        return [str(net) for net in ipaddress.summarize_address_range(first, last)]


def _octet(text: str, entry: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 3 or int(text) > 255:
        raise WhitelistError(_BAD_OCTET, entry)
    if len(text) > 1 and text[0] == "0":
        raise WhitelistError(_LEADING_ZERO, entry)
    return int(text)


def _network(raw: str, entry: str) -> Entry:
    try:
        net = ipaddress.IPv4Network(raw, strict=True)
    except ValueError:
        raise WhitelistError(_BAD_NETWORK, entry) from None
    return Entry(str(net), int(net.network_address), int(net.broadcast_address))


def parse_entry(text: str) -> Entry:
    """The address range of one entry (see the module docstring)."""
    if not isinstance(text, str) and text is not None:
        raise WhitelistError(N_("The entry is empty."), text)
    raw = (text or "").strip()
    if not raw:
        raise WhitelistError(N_("The entry is empty."), text)
    if ":" in raw:
        raise WhitelistError(N_("Only IPv4 addresses are supported."), text)
    if "/" in raw:
        return _network(raw, text)
    parts = [part.strip() for part in raw.split(".")]
    if len(parts) > 4:
        raise WhitelistError(N_("An address has four parts separated by dots."), text)
    low: list[int] = []
    high: list[int] = []
    open_at = None  # index of the octet holding "*" or "A-B"
    for i, part in enumerate(parts):
        if open_at is not None:
            if part != "*":
                raise WhitelistError(_ONE_OPEN, text)
            continue
        if part == "*":
            lo, hi = 0, 255
            open_at = i
        elif "-" in part:
            a, _, b = part.partition("-")
            if "-" in b:
                raise WhitelistError(_ONE_OPEN, text)
            lo, hi = _octet(a.strip(), text), _octet(b.strip(), text)
            if lo > hi:
                raise WhitelistError(N_("A range goes from the smaller number to the larger, like 16-32."), text)
            open_at = i
        else:
            lo = hi = _octet(part, text)
        low.append(lo)
        high.append(hi)
    if open_at is None and len(parts) < 4:
        raise WhitelistError(N_("Enter all four parts of the address, or end it with * or a range."), text)
    norm = ".".join(parts[:open_at + 1] if open_at is not None else parts)
    low += [0] * (4 - len(low))       # octets after an open one take every value
    high += [255] * (4 - len(high))
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


def whitelist_entry_to_cidrs(entry: str) -> list[str]:
    """Convert one whitelist entry to the smallest list of IPv4 CIDRs covering exactly it."""
    return parse_entry(entry).cidrs()


def whitelist_to_cidrs(entries: Iterable[str]) -> list[str]:
    """Convert a whole whitelist; overlapping and adjacent blocks are merged, order is by address.

    The first bad entry raises :class:`WhitelistError` (nothing is half-converted).
    """
    nets = [ipaddress.IPv4Network(c) for entry in entries for c in whitelist_entry_to_cidrs(entry)]
    return [str(net) for net in ipaddress.collapse_addresses(nets)]

"""The IP whitelist syntax (inventory D §4.6.1.3, PRODUCT.md §6) converted to CIDRs, and the one parser
shared by SIP accounts and API keys."""
from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from esl_control.routing.acl import WhitelistEntryError, whitelist_entry_to_cidrs, whitelist_to_cidrs


@pytest.mark.parametrize("entry, cidrs", [
    ("192.168.1.20", ["192.168.1.20/32"]),
    (" 192.168.1.20 ", ["192.168.1.20/32"]),
    ("192.168.*", ["192.168.0.0/16"]),
    ("192.168.*.*", ["192.168.0.0/16"]),
    ("10.*", ["10.0.0.0/8"]),
    ("192.168.1.*", ["192.168.1.0/24"]),
    ("*", ["0.0.0.0/0"]),
    ("192.168.1.16-31", ["192.168.1.16/28"]),
    ("192.168.1.16-32", ["192.168.1.16/28", "192.168.1.32/32"]),  # the manual's example
    ("192.168.1.0-255", ["192.168.1.0/24"]),
    ("192.168.1.7-7", ["192.168.1.7/32"]),
    ("10.1-5", ["10.1.0.0/16", "10.2.0.0/15", "10.4.0.0/15"]),  # 10.1.0.0 … 10.5.255.255
    ("10.1-5.*", ["10.1.0.0/16", "10.2.0.0/15", "10.4.0.0/15"]),
    ("172.16.0-15.*", ["172.16.0.0/20"]),
    ("10.0.0.0/8", ["10.0.0.0/8"]),
    ("203.0.113.8/29", ["203.0.113.8/29"]),
])
def test_entries_convert_to_exact_cidrs(entry, cidrs):
    assert whitelist_entry_to_cidrs(entry) == cidrs


_NUMBER = "Each part must be a number from 0 to 255, a range like 16-32, or *."
_ONE_OPEN = "Only one range or * is allowed, and only * may follow it."
_NETWORK = "A network is an address, / and a prefix from 0 to 32, with no host bits set, like 10.0.0.0/8."


@pytest.mark.parametrize("entry, message", [
    ("", "The entry is empty."),
    ("   ", "The entry is empty."),
    ("192.168.1", "Enter all four parts of the address, or end it with * or a range."),
    ("1.2.3.4.5", "An address has four parts separated by dots."),
    ("192.168.1.256", _NUMBER),
    ("192.168.01.1", "A part of the address may not start with 0 (write 10, not 010)."),
    ("192.168.a.1", _NUMBER),
    ("192.168.1.-5", _NUMBER),
    ("192.168.1.32-16", "A range goes from the smaller number to the larger, like 16-32."),
    ("192.168.*.1", _ONE_OPEN),
    ("10.1-5.7.8", _ONE_OPEN),
    ("192.168.1-2-3.1", _ONE_OPEN),
    ("1.2.3.4/33", _NETWORK),
    ("10.0.0.1/8", _NETWORK),
    ("fe80::1", "Only IPv4 addresses are supported."),
    ("١٢٣.1.1.1", _NUMBER),  # Arabic-Indic digits are digits to str.isdigit, not to us
])
def test_bad_entries_are_refused_with_the_entry_and_the_expected_form(entry, message):
    with pytest.raises(WhitelistEntryError) as err:
        whitelist_entry_to_cidrs(entry)
    assert err.value.message == message            # the message id the cabinet translates
    text = str(err.value)                          # what a log line says
    assert repr(entry) in text and message in text
    assert "expected e.g. 192.168.1.20" in text


def test_whole_list_is_merged_and_sorted():
    cidrs = whitelist_to_cidrs(["192.168.1.128-255", "10.0.0.1", "192.168.1.0-127", "10.0.0.1"])
    assert cidrs == ["10.0.0.1/32", "192.168.1.0/24"]


def test_one_bad_entry_fails_the_whole_list():
    with pytest.raises(WhitelistEntryError, match="'300.1.1.1'"):
        whitelist_to_cidrs(["10.*", "300.1.1.1"])


def test_non_text_entry_is_refused():
    with pytest.raises(WhitelistEntryError):
        whitelist_entry_to_cidrs(None)  # type: ignore[arg-type]


octet = st.integers(0, 255)


@settings(max_examples=200, deadline=None)
@given(fixed=st.lists(octet, min_size=0, max_size=3), lo=octet, hi=octet)
def test_a_range_entry_covers_exactly_its_addresses(fixed, lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)
    entry = ".".join([*map(str, fixed), f"{lo}-{hi}"])
    nets = [ipaddress.IPv4Network(c) for c in whitelist_entry_to_cidrs(entry)]
    pad = 3 - len(fixed)
    first = ipaddress.IPv4Address(".".join(map(str, [*fixed, lo] + [0] * pad)))
    last = ipaddress.IPv4Address(".".join(map(str, [*fixed, hi] + [255] * pad)))
    assert nets[0].network_address == first and nets[-1].broadcast_address == last
    assert sum(n.num_addresses for n in nets) == int(last) - int(first) + 1  # no gaps, no overlap
    for a, b in zip(nets, nets[1:]):
        assert int(a.broadcast_address) + 1 == int(b.network_address)

"""The SIP whitelist syntax (inventory D §4.6.1.3) converted to CIDRs."""
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


@pytest.mark.parametrize("entry, message", [
    ("", "empty entry"),
    ("   ", "empty entry"),
    ("192.168.1", "3 octets; give all 4"),
    ("1.2.3.4.5", "more than 4 octets"),
    ("192.168.1.256", "above 255"),
    ("192.168.01.1", "leading zero"),
    ("192.168.a.1", "not a number"),
    ("192.168.1.-5", "not a number"),
    ("192.168.1.32-16", "goes backwards"),
    ("192.168.*.1", "nothing may follow"),
    ("10.1-5.7.8", "nothing may follow"),
    ("192.168.1-2-3.1", "not a number"),
    ("1.2.3.4/33", "1.2.3.4/33"),
    ("10.0.0.1/8", "host bits set"),
    ("fe80::1", "not a number"),
    ("١٢٣.1.1.1", "not a number"),  # Arabic-Indic digits are digits to str.isdigit, not to us
])
def test_bad_entries_are_refused_with_the_entry_and_the_expected_form(entry, message):
    with pytest.raises(WhitelistEntryError) as err:
        whitelist_entry_to_cidrs(entry)
    text = str(err.value)
    assert message in text
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

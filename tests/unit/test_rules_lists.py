"""Black/white lists and client-number rules: inventory A §4.4.4-4.4.5, seed 000 §4.3, PRODUCT.md §3.

Errata / open points decided:

- A §4.4.4 says ``7495200*`` matches "74952000000 – 74952009999" (11 digits); PRODUCT.md §3 makes
  ``*`` "any run incl. empty", so it also matches ``7495200`` and longer numbers.
- A §4.4.5 leaves open whether lists or client-number rules come first: PRODUCT.md §4.1 puts the
  list decision (step 3) before the rules (step 4); precedence among rules: the first active match.
- Seed 000 §4.3 "exact match" unticked = prefix; for ranges and masks it likewise lets the
  number continue after the entry.
"""
import pytest
from hypothesis import given, strategies as st

from esl_control.routing.errors import RuleError
from esl_control.routing.lists import (list_decision, match_client_rule, parse_entry,
                                       validate_client_rule, validate_list)
from esl_control.routing.numbers import CallerId


def test_range_example_valid_and_invalid():
    e = parse_entry("74952009000-74952009999")
    assert e.form == "range"
    assert e.matches("74952009000") and e.matches("74952009500") and e.matches("74952009999")
    assert not e.matches("74952008999") and not e.matches("74952010000")
    assert not e.matches("749520095001")
    with pytest.raises(RuleError) as err:
        parse_entry("749520-74952009999")
    assert err.value.code == "list_entry.range_length"
    assert err.value.params == {"start": "749520", "end": "74952009999", "start_length": 6, "end_length": 11}
    assert "same length" in str(err.value) and "одной длины" in err.value.message("ru")


def test_hash_is_one_digit():
    e = parse_entry("7495#555555")
    assert e.form == "mask"
    matched = [d for d in "0123456789" if e.matches(f"7495{d}555555")]
    assert matched == list("0123456789")
    assert e.matches("74951555555") and e.matches("74959555555")
    assert not e.matches("749512555555") and not e.matches("7495555555")


def test_star_is_any_run_including_empty():
    e = parse_entry("7495200*")
    assert e.matches("74952000000") and e.matches("74952009999")
    assert e.matches("7495200")                     # PRODUCT.md: empty run allowed
    assert e.matches("749520012345")
    assert not e.matches("74952010000")
    assert parse_entry("7**4").value == "7*4"


def test_seed000_exact_match_unticked_means_prefix():
    e = parse_entry("7343", exact=False)
    assert e.matches("73432628900") and e.matches("7343")
    assert not e.matches("74952009000")
    exact = parse_entry("73432628900")
    assert exact.matches("73432628900") and not exact.matches("734326289001")


def test_prefix_mode_for_ranges_and_masks():
    r = parse_entry("7343-7345", exact=False)
    assert r.matches("73441234567") and not r.matches("73461234567") and not r.matches("734")
    m = parse_entry("79#1", exact=False)
    assert m.matches("79512345678") and not m.matches("79221234567")


def test_sip_entries():
    for text in ["ivanov@mangosip.ru", "ivanov@mycompany.mangosip.ru", "ivanov@company.ru",
                 "ivanov@sales.mycompany.ru"]:
        e = parse_entry(text, kind="sip")
        assert e.kind == "sip" and e.matches(f"sip:{text}") and e.matches(text.upper())
        assert not e.matches("petrov@company.ru")
    any_user = parse_entry("*@company.ru")
    assert any_user.kind == "sip"
    assert any_user.matches("sip:petrov@company.ru") and not any_user.matches("petrov@other.ru")
    assert parse_entry("ivanov#@company.ru").matches("ivanov2@company.ru")
    # a phone entry does not match a SIP caller's address, but does match a numeric user part
    assert not parse_entry("ivanov@company.ru").matches("79121234567")
    assert parse_entry("79121234567").matches("sip:+79121234567@carrier.ru")


@pytest.mark.parametrize("value,kind,code", [
    ("", None, "list_entry.empty"),
    ("+79121234567", None, "list_entry.plus"),
    ("7(495)2009000", None, "list_entry.chars"),
    ("7 495 2009000", None, "list_entry.chars"),
    ("7495абв", None, "list_entry.cyrillic"),
    ("7495-200-9000", None, "list_entry.dash"),
    ("-7495", None, "list_entry.dash"),
    ("7495#-7496#", None, "list_entry.range_chars"),
    ("74952009999-74952009000", None, "list_entry.range_order"),
    ("1234567890123456", None, "list_entry.length"),
    ("ivanov", "sip", "list_entry.sip_format"),
    ("ivanov@company", "sip", "list_entry.sip_format"),
    ("iva nov@company.ru", "sip", "list_entry.sip_format"),
    ("100-200", "sip", "list_entry.range_sip"),
    ("7495", "fax", "list_entry.kind"),
    ("89121234567", None, "number.national_prefix"),
])
def test_entry_refusals(value, kind, code):
    with pytest.raises(RuleError) as e:
        parse_entry(value, kind=kind)
    assert e.value.code == code
    assert e.value.field in ("value", "kind")
    assert e.value.message("ru") and e.value.message("ru") != e.value.message("en")


# --- A §4.4.5 decision table --------------------------------------------------------------------

LIST = [parse_entry("79121234567"), parse_entry("7343", exact=False)]


@pytest.mark.parametrize("mode,caller,unknown_allowed,allowed,reason", [
    ("white", "79121234567", False, True, "in_white_list"),
    ("white", "+73432628900", False, True, "in_white_list"),
    ("white", "74951234567", True, False, "not_in_white_list"),
    ("black", "89121234567", True, False, "in_black_list"),
    ("black", "74951234567", False, True, "not_in_black_list"),
    ("black", "anonymous", True, True, "unknown_allowed"),
    ("white", "", True, True, "unknown_allowed"),
    ("black", None, False, False, "unknown_forbidden"),
    ("white", "anonymous", False, False, "unknown_forbidden"),
    (None, "79121234567", False, True, "no_list"),
    (None, "anonymous", False, True, "no_list"),
])
def test_decision_table(mode, caller, unknown_allowed, allowed, reason):
    d = list_decision(mode, LIST, caller, unknown_allowed=unknown_allowed)
    assert (d.allowed, d.reason) == (allowed, reason)
    if reason in ("in_white_list", "in_black_list"):
        assert d.entry in LIST


def test_decision_bad_mode():
    with pytest.raises(RuleError) as e:
        list_decision("grey", LIST, "79121234567", unknown_allowed=True)
    assert e.value.code == "list.mode"


def test_duplicates_refused():
    with pytest.raises(RuleError) as e:
        validate_list([parse_entry("7343", exact=False), parse_entry("7343", exact=False)])
    assert e.value.code == "list.duplicate"
    assert len(validate_list([parse_entry("7343", exact=False), parse_entry("7343")])) == 2


# --- client-number rules ------------------------------------------------------------------------

def test_first_active_match_wins():
    rules = [
        validate_client_rule("7343", exact=False, target_kind="group", target="g-sales", active=False),
        validate_client_rule("734326*", target_kind="employee", target="e-ivanov", contact_method="cm1"),
        validate_client_rule("7343", exact=False, target_kind="external", target="79111111111", ring_time=30),
    ]
    assert match_client_rule(rules, "73432628900").target == "e-ivanov"
    assert match_client_rule(rules, "73431111111").target == "79111111111"
    assert match_client_rule(rules, "74951234567") is None
    assert match_client_rule(rules, "anonymous") is None      # hidden number: the tool does not work


def test_client_rule_validation():
    r = validate_client_rule("ivanov@company.ru", kind="sip", target_kind="external",
                             target="sip:petrov@Company.ru", ring_time=0)
    assert r.target == "petrov@company.ru" and r.ring_time == 0
    with pytest.raises(RuleError) as e:
        validate_client_rule("7343", target_kind="queue", target="x")
    assert e.value.code == "rule.target"
    with pytest.raises(RuleError) as e:
        validate_client_rule("7343", target_kind="external", target="+79111111111")
    assert e.value.code == "number.plus" and e.value.field == "target"
    with pytest.raises(RuleError) as e:
        validate_client_rule("7343", target_kind="group", target="g", ring_time=3601)
    assert e.value.code == "rule.ring_time" and e.value.field == "ring_time"


# --- properties ---------------------------------------------------------------------------------

@given(st.integers(1, 12).flatmap(lambda w: st.tuples(
    st.just(w), st.integers(0, 10**w - 1), st.integers(0, 10**w - 1), st.integers(0, 10**w - 1))))
def test_range_matches_exactly_its_numbers(args):
    width, a, b, n = args
    lo, hi = sorted((a, b))
    e = parse_entry(f"{lo:0{width}d}-{hi:0{width}d}")
    assert e.matches(CallerId(f"{n:0{width}d}")) == (lo <= n <= hi)
    assert not e.matches(CallerId(f"{n:0{width}d}1"))


@given(st.text("0123456789#*", min_size=1, max_size=10), st.text("0123456789", max_size=14))
def test_mask_agrees_with_regex(mask, number):
    import re
    if not mask.replace("*", ""):
        mask = mask + "1"
    e = parse_entry(mask)
    rx = "".join("[0-9]" if c == "#" else ".*" if c == "*" else c for c in mask)
    assert e.matches(CallerId(number)) == bool(re.fullmatch(rx, number))
    p = parse_entry(mask, exact=False)
    assert p.matches(CallerId(number)) == bool(re.match(rx, number))


def test_many_stars_stay_fast():
    import time
    e = parse_entry("*1*1*1*1*1*1*1*2")
    t0 = time.perf_counter()
    assert not e.matches(CallerId("1" * 15))
    assert time.perf_counter() - t0 < 0.1

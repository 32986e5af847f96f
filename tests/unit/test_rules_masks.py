"""Trunk masks and transformations: every example of inventory D §5.3.3 and §5.6, plus the grammar.

Errata decided (PRODUCT.md §4.5 wins over inventory D):

- D §5.3.3 Example 5 / §5.6 Ex. 2 ``([100-500])``: not a regex class but the numeric range
  100..500 (PRODUCT.md: "the numeric range [100-500] meaning the numbers 100..500").
- D §5.3.3.1 example 3 ``([1-3][0-4][0-9]|350)`` "all numbers from 100 to 350": the description is
  wrong; single-digit brackets stay digit classes, so the mask matches 100-149, 200-249, 300-349
  and 350 (151 numbers) exactly as written. "100 to 350" is written ``([100-350])``.
- D §5.3.3.1 example 6 ``350|7(\\d{8})`` with ``$1``: the 350 branch leaves group 1 empty; PRODUCT.md:
  "an empty group at run time yields no digits", so 350 -> "" (the route choice then refuses the
  call, see test_rules_outbound).
- Anchoring: the whole dialled number must match (PRODUCT.md), as examples 1-2 imply.
"""
import re

import pytest
from hypothesis import given, settings, strategies as st

from esl_control.routing.errors import RuleError
from esl_control.routing.masks import (compile_mask, compile_transformation, rewrite,
                                       validate_mask_rule)


# --- D §5.3.3.1 examples -------------------------------------------------------------------------

def test_example1_prefix_outside_brackets_is_cut_off():
    assert rewrite(r"777(\d*)", "$1", "7771234567") == "1234567"
    assert rewrite(r"777(\d*)", "$1", "777") == ""          # \d* may be empty
    assert rewrite(r"777(\d*)", "$1", "7781234") is None


def test_example2_prefix_inside_brackets_is_kept():
    assert rewrite(r"(777\d*)", "$1", "7771234567") == "7771234567"
    assert rewrite(r"(777\d*)", "$1", "1777") is None       # whole number must match


def test_example3_matches_literally_not_as_described():
    m = compile_mask(r"([1-3][0-4][0-9]|350)")
    matched = [n for n in range(0, 1000) if m.matches(str(n))]
    assert len(matched) == 151
    assert m.matches("100") and m.matches("149") and m.matches("249") and m.matches("350")
    for n in ("150", "199", "250", "299", "351", "99", "1000"):
        assert not m.matches(n), n
    # what the manual meant:
    r = compile_mask("([100-350])")
    assert [n for n in range(0, 1000) if r.matches(str(n))] == list(range(100, 351))


@pytest.mark.parametrize("mask", [r"(2\d\d\d\d\d)", r"(2\d{5})"])
def test_example4_six_digit_numbers_starting_with_2(mask):
    assert rewrite(mask, "$1", "212345") == "212345"
    assert rewrite(mask, "$1", "2123456") is None
    assert rewrite(mask, "$1", "312345") is None
    assert rewrite(mask, "$1", "21234") is None


def test_example5_last_two_digits_dropped():
    assert rewrite(r"(\d*)\d{2}", "$1", "12345") == "123"
    assert rewrite(r"(\d*)\d{2}", "$1", "12") == ""
    assert rewrite(r"(\d*)\d{2}", "$1", "1") is None        # at least 2 digits


def test_example6_alternative_without_group_yields_empty():
    assert rewrite(r"350|7(\d{8})", "$1", "350") == ""
    assert rewrite(r"350|7(\d{8})", "$1", "712345678") == "12345678"
    assert rewrite(r"350|7(\d{8})", "$1", "71234567") is None
    assert rewrite(r"350|7(\d{8})", "$1", "3507") is None


def test_d5_3_3_example5_numeric_range():
    m = compile_mask("([100-500])")
    assert m.group_count == 1
    assert [n for n in range(0, 1000) if m.matches(str(n))] == list(range(100, 501))
    assert rewrite("([100-500])", "$1", "456") == "456"      # D §5.6 Ex. 2
    assert not m.matches("0100") and not m.matches("1") and not m.matches("501")


# --- D §5.3.3.2 transformations ------------------------------------------------------------------

def test_transformation_example1_only_first_group():
    assert rewrite(r"8(\d{3})(\d{7})", "$1", "84951234567") == "495"


def test_transformation_example2_backslash_separates_group_number():
    assert rewrite(r"(\d+)", r"+33$1\77", "123") == "+3312377"


def test_group_number_reads_all_following_digits():
    # $177 is group 177: refused at save because the mask has only one group
    with pytest.raises(RuleError) as e:
        validate_mask_rule(r"(\d+)", "+33$177")
    assert e.value.code == "transformation.group_missing"
    assert e.value.field == "transformation"
    assert e.value.params == {"group": 177, "groups": 1}
    assert "$177" in str(e.value) and "1 group" in str(e.value)


def test_multiple_groups_and_literals():
    assert rewrite(r"8(\d{3})(\d{7})", "7$1$2", "84951234567") == "74951234567"
    assert rewrite(r"8(\d{3})(\d{7})", r"$2\$1", "84951234567") == "1234567495"
    assert rewrite(r"((\d)\d)", "$2$1", "45") == "445"    # nested groups numbered by "("


def test_filled_mask_needs_a_transformation():
    with pytest.raises(RuleError) as e:
        validate_mask_rule(r"(\d+)", "  ")
    assert e.value.code == "transformation.required" and e.value.field == "transformation"
    assert "не может быть пустым" in e.value.message("ru")


@pytest.mark.parametrize("text,code,part", [
    ("$", "transformation.dollar_without_group", "$"),
    ("7$a", "transformation.dollar_without_group", "$a"),
    ("$0", "transformation.group_zero", "$0"),
    ("7+$1", "transformation.plus_position", "+"),
    (r"\77", "transformation.stray_backslash", "\\"),
    ("$1x", "transformation.unsupported", "x"),
    ("$1 2", "transformation.unsupported", " "),
])
def test_transformation_refusals_name_the_part(text, code, part):
    with pytest.raises(RuleError) as e:
        compile_transformation(text)
    assert e.value.code == code
    assert e.value.params["part"] == part
    assert e.value.message("ru") != e.value.message("en")


def test_transformation_parts():
    t = compile_transformation(r"+33$1\77")
    assert t.parts == ("+33", 1, "77")
    assert t.max_group == 1
    assert t.apply(("123",)) == "+3312377"
    assert t.apply((None,)) == "+3377"                   # unmatched group -> no digits


# --- grammar ------------------------------------------------------------------------------------

@pytest.mark.parametrize("mask,code,part,position", [
    ("7.", "mask.unsupported", ".", 2),
    (r"\w+", "mask.unsupported", r"\w", 1),
    ("5?", "mask.unsupported", "?", 2),
    ("^5", "mask.unsupported", "^", 1),
    ("5$", "mask.unsupported", "$", 2),
    ("(?:5)", "mask.unsupported", "(?", 1),
    ("[^5]", "mask.unsupported", "[^", 1),
    (r"\D", "mask.unsupported", r"\D", 1),
    ("a", "mask.unsupported", "a", 1),
    (r"\d**", "mask.unsupported", "*", 4),
    (r"\d{1,3}", "mask.bad_repeat", "{1,3}", 3),
    (r"\d{0}", "mask.repeat_range", "{0}", 3),
    (r"\d{99}", "mask.repeat_range", "{99}", 3),
    ("(5)*", "mask.quantifier_target", "(5)*", 4),
    ("[100-500]+", "mask.quantifier_target", "[100-500]+", 10),
    ("*5", "mask.quantifier_without_target", "*", 1),
    ("5|", "mask.empty_alternative", "|", 2),
    ("(|5)", "mask.empty_alternative", "(|", 1),
    ("((5)", "mask.unbalanced_open", "(", 1),
    ("5)", "mask.unbalanced_close", ")", 2),
    ("[5", "mask.unbalanced_bracket", "[", 1),
    ("5]", "mask.unbalanced_bracket", "]", 2),
    ("()", "mask.empty_group", "()", 1),
    ("[]", "mask.bad_class", "[]", 1),
    ("[a-z]", "mask.bad_class", "[a-z]", 1),
    ("[9-1]", "mask.range_reversed", "9-1", 1),
    ("[500-100]", "mask.range_reversed", "[500-100]", 1),
    ("[01-500]", "mask.range_leading_zero", "[01-500]", 1),
])
def test_refused_syntax_names_offending_part(mask, code, part, position):
    with pytest.raises(RuleError) as e:
        compile_mask(mask)
    assert e.value.code == code
    assert e.value.params["part"] == part
    assert e.value.params["position"] == position
    assert part in str(e.value)


def test_refusal_message_lists_what_is_allowed():
    with pytest.raises(RuleError) as e:
        compile_mask("7.")
    assert str(e.value) == ("Mask: '.' at position 2 is not supported. "
                            r"Allowed: digits, \d, \d*, \d+, \d{n}, [0-9], [100-500], ( ), |")
    assert e.value.message("ru").startswith("Маска: «.» в позиции 2 не поддерживается")


def test_empty_and_too_long_masks():
    with pytest.raises(RuleError, match="empty"):
        compile_mask("   ")
    with pytest.raises(RuleError) as e:
        validate_mask_rule("", "$1")
    assert e.value.code == "mask.empty" and e.value.field == "mask"
    with pytest.raises(RuleError) as e:
        compile_mask("1" * 201)
    assert e.value.code == "mask.too_long"


def test_classes_and_quantifiers_on_classes():
    m = compile_mask("[0-35-9][135]{2}[0-9]+")
    assert m.matches("0131") and m.matches("9550000")
    assert not m.matches("4131") and not m.matches("0121") and not m.matches("013")


def test_zero_padded_and_cross_length_ranges():
    m = compile_mask("[001-050]")
    assert [n for n in range(0, 100) if m.matches(f"{n:03d}")] == list(range(1, 51))
    assert not m.matches("1") and not m.matches("01")
    m = compile_mask("[7-1200]")
    assert [n for n in range(0, 2000) if m.matches(str(n))] == list(range(7, 1201))
    assert not m.matches("07")


def test_non_digits_never_match():
    m = compile_mask(r"\d+")
    for number in ("12a", "+7912", "12 3", "١٢٣", ""):
        assert m.match(number) is None, number


def test_pathological_mask_stays_fast():
    """Nested alternations and many unbounded runs: a backtracking engine needs ~C(60,12) steps."""
    import time
    mask = r"\d*" * 12 + "5"
    m = compile_mask(mask)
    t0 = time.perf_counter()
    assert m.match("1" * 48) is None
    assert m.match("1" * 47 + "5") == ()
    assert time.perf_counter() - t0 < 0.5
    alt = compile_mask("(" + "(1|1|\\d)" * 20 + ")" + "2")
    t0 = time.perf_counter()
    assert alt.match("1" * 21) is None
    assert time.perf_counter() - t0 < 0.5


# --- property tests -----------------------------------------------------------------------------

_atoms = st.one_of(
    st.sampled_from(list("0123456789")),
    st.just(r"\d"),
    st.sampled_from(["[0-9]", "[1-3]", "[135]", "[0-35-9]"]),
)
_quants = st.sampled_from(["", "", "*", "+", "{2}", "{1}"])


@st.composite
def _masks(draw, depth=0):
    branches = []
    for _ in range(draw(st.integers(1, 2 if depth else 3))):
        items = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.integers(0, 9))
            if kind < 6 or depth >= 2:
                items.append(draw(_atoms) + draw(_quants))
            elif kind < 8:
                items.append("(" + draw(_masks(depth=depth + 1)) + ")")
            else:
                lo = draw(st.integers(0, 999))
                hi = draw(st.integers(lo, 2000))
                items.append(f"[{lo}-{hi}]" if (lo > 9 or hi > 9) else f"[{lo}-{hi}]")
        branches.append("".join(items))
    return "|".join(branches)


@settings(max_examples=300, deadline=None)
@given(_masks(), st.lists(st.text("0123456789", max_size=8), min_size=1, max_size=6))
def test_vm_agrees_with_python_re(mask, numbers):
    """The linear-time matcher gives the same answer and the same groups as re.fullmatch."""
    m = compile_mask(mask)
    rx = re.compile(m.regex, re.ASCII)
    assert rx.groups == m.group_count
    for number in numbers:
        expected = rx.fullmatch(number)
        got = m.match(number)
        assert (got is None) == (expected is None), (mask, number)
        if expected:
            assert got == expected.groups(), (mask, number)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=list("0123456789\\d()[]|*+{}?.^$-,wDsS:a "), min_size=1, max_size=12))
def test_accepted_masks_translate_into_the_grammar_only(text):
    """Whatever is typed, an accepted mask's regex uses only digits, classes, groups, | and quantifiers."""
    try:
        m = compile_mask(text)
    except RuleError as e:
        assert e.code.startswith("mask.")
        assert e.message("en") and e.message("ru")
        return
    assert re.fullmatch(r"[0-9\[\]\-()|*+{}?:]*", m.regex), m.regex
    assert "(?" not in m.regex.replace("(?:", "")
    re.compile(m.regex)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**6), st.integers(0, 10**6), st.integers(0, 2 * 10**6))
def test_numeric_range_property(a, b, n):
    lo, hi = min(a, b), max(a, b)
    if hi < 10:
        hi += 10   # single-digit bounds on both sides are a digit class, not a range
    m = compile_mask(f"[{lo}-{hi}]")
    assert m.matches(str(n)) == (lo <= n <= hi)

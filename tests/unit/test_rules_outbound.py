"""Outbound route choice and trunk caller ids: PRODUCT.md §4.5, inventory D §5.3.3-5.3.4 and §5.6.

Errata / open points decided (inventory D appendix items 1-2):

- Routing precedence: extension, then the longest trunk prefix, then the first active mask of the
  PBX's ONE ordered list (global across trunks, not per trunk), then the outgoing-number trunk,
  then the platform (PRODUCT.md §4.5).
- Overlapping prefixes 8 and 88: the longest wins.
- D §5.6 Ex. 2 / §5.3.3 Ex. 5: the кАТС range 100-500 overlaps the ВАТС employees 500-550 at 500;
  extensions come first, so 500 stays internal when it is an extension.
- ``350|7(\\d{8})`` with ``$1`` dialled as 350 gives an empty number: refused with
  ``empty_transformation`` (not silently rerouted).
- Allowed directions and "no outgoing number" restrict the platform route only (D §5.3.4 step 5).
"""
import pytest

from esl_control.routing.directions import RUSSIA_ONLY, Direction
from esl_control.routing.errors import RuleError
from esl_control.routing.outbound import (Trunk, TrunkMask, TrunkNumber, check_prefix_unique,
                                          choose_route, trunk_caller_id, validate_mask_list,
                                          validate_trunk_lines, validate_trunk_number,
                                          validate_trunk_prefix)

EXTENSIONS = frozenset({"123", "500", "501", "550", "6"})
KATS = Trunk("t1", "кАТС офис", prefix="88", numbers=(TrunkNumber("73432000001", receive=True, call=True),
                                                      TrunkNumber("73432000002", receive=True, call=False)))
BRANCH = Trunk("t2", "Филиал", prefix="45")
EIGHT = Trunk("t3", "Восьмёрка", prefix="8")
OFF = Trunk("t4", "Отключён", prefix="9", active=False)
MASKS = [TrunkMask("([100-500])", "$1", "t1"),
         TrunkMask(r"350|7(\d{8})", "$1", "t2"),
         TrunkMask(r"(2\d{5})", "$1", "t4"),                  # trunk inactive: skipped
         TrunkMask(r"777(\d*)", "$1", "t2", active=False),    # mask inactive: skipped
         TrunkMask(r"(\d+)", r"+33$1\77", "t2")]


def route(dialled, **kw):
    kw.setdefault("extensions", EXTENSIONS)
    kw.setdefault("trunks", [KATS, BRANCH, EIGHT, OFF])
    kw.setdefault("masks", [])
    kw.setdefault("outgoing_number", "74950000001")
    kw.setdefault("employee_extension", "501")
    return choose_route(dialled, **kw)


def test_extension_is_internal_even_with_trunk_outgoing_number():
    """D §5.3.4 Ex. 3 and §5.6 Ex. 6: 123 is an extension -> internal, no trunk used."""
    d = route("123", outgoing_number="73432000001", masks=MASKS)
    assert (d.kind, d.number, d.reason, d.trunk_id) == ("internal", "123", "extension", None)
    assert d.allowed


def test_prefix_example4():
    """D §5.3.3 Ex. 4: 88123456 -> 123456 into the trunk with prefix 88 (longest over 8)."""
    d = route("88123456")
    assert (d.kind, d.trunk_id, d.number, d.reason) == ("trunk", "t1", "123456", "trunk_prefix")
    d = route("8123456")
    assert (d.trunk_id, d.number) == ("t3", "123456")


def test_prefix_example_d534_ex1():
    """D §5.3.4 Ex. 1: 456 is not an extension and a trunk has prefix 45 -> that trunk (gets 6)."""
    d = route("456", outgoing_number="73432000001")
    assert (d.kind, d.trunk_id, d.number) == ("trunk", "t2", "6")


def test_prefix_alone_is_not_stripped_to_nothing():
    d = route("88", trunks=[KATS, BRANCH], masks=[TrunkMask(r"(\d+)", "$1", "t2")])
    assert (d.trunk_id, d.reason, d.number) == ("t2", "trunk_mask", "88")


def test_inactive_trunk_prefix_ignored():
    d = route("9111", trunks=[OFF], outgoing_number=None)
    assert d.kind == "refused" and d.reason == "no_outgoing_number"


def test_mask_example5_range_goes_to_kats_but_own_extension_500_stays():
    """D §5.3.3 Ex. 5 / §5.6 Ex. 2: mask ([100-500]) $1 -> кАТС; 500 is a ВАТС extension."""
    d = route("456", trunks=[KATS], masks=MASKS)
    assert (d.kind, d.trunk_id, d.number, d.reason, d.mask_index) == ("trunk", "t1", "456", "trunk_mask", 0)
    assert route("500", trunks=[KATS], masks=MASKS).kind == "internal"
    assert route("499", trunks=[KATS], masks=MASKS).trunk_id == "t1"


def test_masks_top_down_first_active_match():
    trunks = [KATS, BRANCH, OFF]
    assert route("712345678", trunks=trunks, masks=MASKS).number == "12345678"
    d = route("212345", trunks=trunks, masks=MASKS)       # the t4 mask is skipped (trunk inactive)
    assert (d.trunk_id, d.number, d.mask_index) == ("t2", "+3321234577", 4)
    d = route("7771", trunks=trunks, masks=MASKS)         # inactive mask skipped
    assert (d.trunk_id, d.number) == ("t2", "+33777177")


def test_empty_transformation_is_refused_with_reason():
    d = route("350", trunks=[BRANCH], masks=[TrunkMask(r"350|7(\d{8})", "$1", "t2")])
    assert (d.kind, d.reason, d.trunk_id, d.mask_index) == ("refused", "empty_transformation", "t2", 0)
    assert not d.allowed


def test_outgoing_number_trunk_examples():
    """D §5.3.4 Ex. 2: 789, no prefix 78 -> the trunk of the employee's outgoing number."""
    d = route("789", trunks=[KATS, BRANCH], outgoing_number="73432000001")
    assert (d.kind, d.trunk_id, d.number, d.caller_id, d.reason) == (
        "trunk", "t1", "789", "73432000001", "outgoing_number_trunk")
    # D §5.6 Ex. 5: only numbers flagged "call" select the trunk
    d = route("79111111111", trunks=[KATS], outgoing_number="73432000002")
    assert d.kind == "platform" and d.caller_id == "73432000002"


def test_platform_route_with_outgoing_number_as_caller_id():
    d = route("89111111111", trunks=[], outgoing_number="74950000001")
    assert (d.kind, d.number, d.caller_id, d.direction, d.reason) == (
        "platform", "79111111111", "74950000001", Direction.MOBILE, "platform")


def test_platform_route_refusals():
    d = route("79111111111", trunks=[], outgoing_number=None)
    assert (d.kind, d.reason) == ("refused", "no_outgoing_number")
    d = route("861012345678", trunks=[], allowed_directions=RUSSIA_ONLY)
    assert (d.kind, d.reason, d.direction) == ("refused", "direction_barred", Direction.INTERNATIONAL)
    assert route("abc", trunks=[]).reason == "invalid_number"
    assert route("  ", trunks=[]).reason == "empty_number"


def test_emergency_always_passes():
    d = route("112", trunks=[], outgoing_number=None, allowed_directions=[])
    assert (d.kind, d.number, d.reason, d.caller_id) == ("platform", "112", "emergency", None)
    d = route("112", trunks=[], pbx_blocked=True)
    assert d.kind == "platform" and d.reason == "emergency"


def test_blocked_pbx_only_internal_and_emergency():
    assert route("123", pbx_blocked=True).kind == "internal"
    d = route("79111111111", pbx_blocked=True)
    assert (d.kind, d.reason) == ("refused", "pbx_blocked")


def test_caller_id_into_trunk_by_prefix_or_mask():
    d = route("88123", outgoing_number="73432000001")      # employee's number belongs to the trunk
    assert d.caller_id == "73432000001"
    d = route("88123", outgoing_number="74950000001")      # otherwise the extension
    assert d.caller_id == "501"


@pytest.mark.parametrize("allow,sent,expected", [
    (False, "79876543210", "71234567890"),   # Ex. 1 (allow change off: default always)
    (True, "70123456789", "71234567890"),    # Ex. 2 (sent number is not the tenant's)
    (True, "79876543210", "79876543210"),    # Ex. 3 (sent number is a platform number of the tenant)
    (True, "+79876543210", "79876543210"),
    (True, None, "71234567890"),
])
def test_trunk_caller_id_examples(allow, sent, expected):
    t = Trunk("t1", default_caller_id="71234567890", allow_caller_id_change=allow)
    assert trunk_caller_id(t, sent, ["79876543210", "74950000001"]) == expected


def test_trunk_caller_id_none_means_not_placed():
    t = Trunk("t1", default_caller_id=None, allow_caller_id_change=True)
    assert trunk_caller_id(t, "70123456789", ["79876543210"]) is None
    assert trunk_caller_id(t, "79876543210", ["79876543210"]) == "79876543210"


def test_trunk_settings_validation():
    assert validate_trunk_prefix("88") == "88"
    assert validate_trunk_prefix(9999) == "9999"
    assert validate_trunk_prefix("") is None and validate_trunk_prefix(None) is None
    for bad in ("0", "08", "10000", "8a", "-1"):
        with pytest.raises(RuleError) as e:
            validate_trunk_prefix(bad)
        assert e.value.code == "trunk.prefix" and e.value.field == "prefix"
    with pytest.raises(RuleError) as e:
        check_prefix_unique("88", [KATS, BRANCH], self_id="t9")
    assert e.value.code == "trunk.prefix_taken" and "кАТС офис" in str(e.value)
    check_prefix_unique("88", [KATS, BRANCH], self_id="t1")
    assert validate_trunk_lines("5") == 5 and validate_trunk_lines(100) == 100
    for bad in (4, 101, "x"):
        with pytest.raises(RuleError) as e:
            validate_trunk_lines(bad)
        assert e.value.code == "trunk.lines" and "от 5 до 100" in e.value.message("ru")
    assert validate_trunk_number("74993088080", "Офис").number == "74993088080"
    with pytest.raises(RuleError) as e:
        validate_trunk_number("+7499308808")
    assert e.value.code == "number.plus" and e.value.field == "number"
    with pytest.raises(RuleError) as e:
        validate_trunk_number("74993088080", "x" * 51)
    assert e.value.code == "comment.too_long"


def test_mask_list_validation_names_the_row():
    with pytest.raises(RuleError) as e:
        validate_mask_list([TrunkMask("([100-500])", "$1", "t1"), TrunkMask(r"7(\d+)", "$2", "t1")], ["t1"])
    assert e.value.code == "transformation.group_missing" and e.value.params["row"] == 2
    with pytest.raises(RuleError) as e:
        validate_mask_list([TrunkMask("([100-500])", "$1", "t9")], ["t1"])
    assert e.value.code == "trunk.unknown"
    assert len(validate_mask_list(MASKS, ["t1", "t2", "t4"])) == len(MASKS)

"""Directions of dialled numbers and the allowed-directions check: PRODUCT.md §4.5, inventory D
§4.6.3.1 b, seed 000 §3.3 number examples.

Open points decided:

- D §4.6.3.1 b: the direction list was a screenshot; PRODUCT.md §4.5 names local, mobile, long
  distance, international, service; emergency is a sixth class that is never barred.
- "All unticked = Russia only": :data:`RUSSIA_ONLY` (every direction but international).
- "Local" needs the PBX's home area (a PBX setting); seed 000's operator is in Ekaterinburg (343).
"""
import pytest
from hypothesis import given, strategies as st

from esl_control.routing.directions import (ALL_DIRECTIONS, RUSSIA_ONLY, Direction,
                                            check_extension_not_emergency, check_outbound, classify,
                                            effective_directions, is_emergency, parse_directions,
                                            to_international, validate_area_codes)
from esl_control.routing.errors import RuleError

EKB = ("343",)


@pytest.mark.parametrize("dialled,direction,number", [
    # seed 000 §3.3 examples, from a PBX in Ekaterinburg
    ("73433848484", Direction.LOCAL, "73433848484"),
    ("3848484", Direction.LOCAL, "73433848484"),          # local subscriber number
    ("83433848484", Direction.LOCAL, "73433848484"),
    ("79111111111", Direction.MOBILE, "79111111111"),
    ("89111111111", Direction.MOBILE, "79111111111"),
    ("9111111111", Direction.MOBILE, "79111111111"),
    ("+79111111111", Direction.MOBILE, "79111111111"),
    ("73952123456", Direction.LONG_DISTANCE, "73952123456"),   # Irkutsk
    ("84951234567", Direction.LONG_DISTANCE, "74951234567"),
    ("861012345678", Direction.INTERNATIONAL, "861012345678"),  # Beijing, stored form
    ("810861012345678", Direction.INTERNATIONAL, "861012345678"),
    ("00861012345678", Direction.INTERNATIONAL, "861012345678"),
    ("+861012345678", Direction.INTERNATIONAL, "861012345678"),
    ("77012345678", Direction.INTERNATIONAL, "77012345678"),    # Kazakhstan shares +7
    ("88001234567", Direction.SERVICE, "78001234567"),          # 8-800 freephone
    ("78091234567", Direction.SERVICE, "78091234567"),          # premium rate
    ("100", Direction.SERVICE, "100"),
    ("0611", Direction.SERVICE, "0611"),
    ("112", Direction.EMERGENCY, "112"),
    ("101", Direction.EMERGENCY, "101"),
    ("104", Direction.EMERGENCY, "104"),
    ("03", Direction.EMERGENCY, "03"),
    ("030", Direction.EMERGENCY, "030"),
    ("911", Direction.EMERGENCY, "911"),
])
def test_classify(dialled, direction, number):
    c = classify(dialled, home_area_codes=EKB)
    assert (c.direction, c.number) == (direction, number)


def test_default_home_is_moscow():
    assert classify("4951234567").direction is Direction.LOCAL
    assert classify("84991234567").direction is Direction.LOCAL
    assert classify("3234567").direction is Direction.LOCAL
    assert classify("3234567").number == "74953234567"
    assert classify("73433848484").direction is Direction.LONG_DISTANCE


@pytest.mark.parametrize("dialled", ["abc", "71234567", "712345678901", "+7912", "1234567890123456", "", "*21#"])
def test_not_a_number(dialled):
    with pytest.raises(RuleError) as e:
        classify(dialled)
    assert e.value.code == "dial.invalid"


def test_emergency_always_passes():
    for n in ("112", "101", "102", "103", "104"):
        c = check_outbound(n, allowed=[], has_outgoing_number=False)
        assert c.allowed and c.reason == "emergency"
        assert is_emergency(n)


def test_no_outgoing_number_no_external_calls():
    c = check_outbound("79111111111", allowed=None, has_outgoing_number=False)
    assert (c.allowed, c.reason) == (False, "no_outgoing_number")


def test_directions_barred_and_allowed():
    c = check_outbound("861012345678", allowed=RUSSIA_ONLY, has_outgoing_number=True)
    assert (c.allowed, c.reason, c.direction) == (False, "direction_barred", Direction.INTERNATIONAL)
    c = check_outbound("79111111111", allowed=RUSSIA_ONLY, has_outgoing_number=True)
    assert (c.allowed, c.reason) == (True, "allowed")
    c = check_outbound("79111111111", allowed=["local"], has_outgoing_number=True)
    assert not c.allowed
    assert check_outbound("3848484", allowed=["local"], has_outgoing_number=True,
                          home_area_codes=EKB).allowed
    assert check_outbound("861012345678", allowed=None, has_outgoing_number=True).allowed  # default all


def test_employee_override():
    assert effective_directions(["local", "mobile"], None) == {Direction.LOCAL, Direction.MOBILE}
    assert effective_directions(["local"], ["international"]) == {Direction.INTERNATIONAL}
    assert effective_directions(["local"], []) == frozenset()      # employee barred from everything
    assert effective_directions(None, None) == ALL_DIRECTIONS
    assert Direction.INTERNATIONAL not in RUSSIA_ONLY and len(RUSSIA_ONLY) == 4


def test_bad_direction_names():
    with pytest.raises(RuleError) as e:
        parse_directions(["local", "moon"])
    assert e.value.code == "direction.unknown" and "long_distance" in str(e.value)
    with pytest.raises(RuleError):
        parse_directions(["emergency"])   # not a checkbox: it always passes


def test_area_codes_and_extension_rules():
    assert validate_area_codes("343, 3952") == ("343", "3952")
    for bad in ("34", "034", "343x", "123456"):
        with pytest.raises(RuleError) as e:
            validate_area_codes([bad])
        assert e.value.code == "direction.area_code"
    with pytest.raises(RuleError) as e:
        check_extension_not_emergency("112")
    assert e.value.code == "direction.emergency_extension" and e.value.field == "extension"
    check_extension_not_emergency("100")


@given(st.from_regex(r"(\+?7|8)9[0-9]{9}", fullmatch=True))
def test_every_russian_mobile_form_is_mobile(dialled):
    c = classify(dialled)
    assert c.direction is Direction.MOBILE
    assert c.number == "7" + dialled[-10:]
    assert to_international(c.number) == c.number     # the result is a fixed point

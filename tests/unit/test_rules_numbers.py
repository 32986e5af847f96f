"""Number formats: PRODUCT.md §4.6 and every example of seed 000 §3.3 «Внешние номера».

Errata / open points decided:

- Seed 000 §3.3 writes the extension example "eleven digits + internal number ()" as
  ``73432628900(252)``: stored exactly like that (PRODUCT.md §4.6).
- PRODUCT.md §4.6 refuses spaces and dashes on the server while "the UI may strip" them: the
  stripping is :func:`strip_separators`, which the cabinet applies before sending; the wizard
  example ``7 925 123-45-67`` (inventory B §1.3) becomes ``79251234567``.
- An ``8…`` number that is only valid as a Russian national number is refused with the ``7…``
  suggestion; seed 000 always writes numbers with country code 7.
"""
import pytest
from hypothesis import given, strategies as st

from esl_control.routing.errors import RuleError
from esl_control.routing.numbers import (CallerId, PhoneNumber, is_short_number, normalize_caller_id,
                                         normalize_phone, number_info, parse_destination, parse_phone,
                                         parse_sip_uri, strip_separators, validate_short_pattern)


@pytest.mark.parametrize("value", [
    "73433848484",      # Ekaterinburg, eleven digits
    "79111111111",      # mobile
    "73952123456",      # long distance: 7 + 3952 (Irkutsk) + number
    "861012345678",     # international: 86 China + 10 Beijing + number
])
def test_seed000_examples_are_valid(value):
    assert normalize_phone(value) == value


def test_extension_suffix():
    p = parse_phone("73432628900(252)")
    assert p == PhoneNumber("73432628900", "252")
    assert str(p) == "73432628900(252)"
    with pytest.raises(RuleError) as e:
        parse_phone("73432628900(252)", allow_extension=False)
    assert e.value.code == "number.extension_not_allowed"
    with pytest.raises(RuleError) as e:
        parse_phone("73432628900()")
    assert e.value.code == "number.extension"


def test_short_sip_numbers_by_pattern():
    assert is_short_number("50000", "500XX")
    assert is_short_number("50099", "500XX")
    assert not is_short_number("50100", "500XX")
    assert not is_short_number("5000", "500XX")
    assert not is_short_number("50000", None)
    assert is_short_number("7001", "7XXX")
    d = parse_destination("50000", short_pattern="500XX")
    assert (d.kind, d.value) == ("short", "50000")
    # without the platform pattern a 5-digit value is just too short for a phone number
    with pytest.raises(RuleError) as e:
        parse_destination("50000", short_pattern=None)
    assert e.value.code == "number.length"


@pytest.mark.parametrize("pattern", ["", "50 0XX", "500ХХ", "5" * 16, "500X?"])
def test_bad_short_patterns(pattern):
    with pytest.raises(RuleError) as e:
        validate_short_pattern(pattern)
    assert e.value.code == "number.short_pattern"


@pytest.mark.parametrize("value,code", [
    ("", "number.empty"),
    ("7912абв4567", "number.cyrillic"),
    ("+79121234567", "number.plus"),
    ("7 912 123 45 67", "number.space"),
    ("7-912-123-45-67", "number.dash"),
    ("7(912)1234567", "number.brackets"),
    ("(7912)1234567", "number.brackets"),
    ("79121234567(25)2", "number.brackets"),
    ("79121234567#", "number.chars"),
    ("7912.123.4567", "number.chars"),
    ("123456", "number.length"),
    ("1234567890123456", "number.length"),
    ("7912123456", "number.ru_length"),
    ("791212345678", "number.ru_length"),
    ("89121234567", "number.national_prefix"),
])
def test_refusals_show_expected_form(value, code):
    with pytest.raises(RuleError) as e:
        parse_phone(value)
    assert e.value.code == code
    en, ru = e.value.message("en"), e.value.message("ru")
    assert "79121234567" in en or "73433848484" in en
    assert "79121234567" in ru or "73433848484" in ru


def test_national_prefix_suggestion():
    with pytest.raises(RuleError) as e:
        parse_phone("89121234567")
    assert e.value.params["suggestion"] == "79121234567"
    assert "79121234567" in e.value.message("ru")
    # 8 + 10 digits that is a real foreign number stays (84951234567 is valid in Vietnam)
    assert normalize_phone("84951234567") == "84951234567"


def test_ui_may_strip_spaces_and_dashes():
    assert strip_separators("7 925 123-45-67") == "79251234567"
    assert strip_separators("7\u00a0925\u2013123 45 67") == "79251234567"
    assert normalize_phone(strip_separators("7 925 123-45-67")) == "79251234567"
    # a + or brackets survive stripping and are refused with the expected form
    with pytest.raises(RuleError, match="without"):
        parse_phone(strip_separators("+7 925 123-45-67"))


def test_sip_uris():
    for text, expected in [("ivanov@mangosip.ru", "ivanov@mangosip.ru"),
                           ("sip:Ivanov@Sales.MyCompany.RU", "Ivanov@sales.mycompany.ru"),
                           ("my_sip@sipnet.ru", "my_sip@sipnet.ru"),
                           ("100@10.0.0.1:5070", "100@10.0.0.1:5070")]:
        assert str(parse_sip_uri(text)) == expected
        d = parse_destination(text)
        assert d.kind == "sip" and d.value == expected
    for bad, code in [("ivanov", "sip.invalid"), ("a@b@c.ru", "sip.invalid"), ("иван@company.ru", "sip.user"),
                      ("ivanov@company", "sip.domain"), ("ivanov@-bad.ru", "sip.domain"),
                      ("ivanov@company.ru:99999", "sip.port"), ("@company.ru", "sip.user"),
                      ("ivanov@300.1.1.1", "sip.domain")]:
        with pytest.raises(RuleError) as e:
            parse_sip_uri(bad)
        assert e.value.code == code, bad


def test_destination_phone_with_extension():
    d = parse_destination("73432628900(252)")
    assert d.kind == "phone" and d.phone.extension == "252" and d.value == "73432628900(252)"


@pytest.mark.parametrize("raw,expected", [
    ("+79121234567", CallerId("79121234567")),
    ("79121234567", CallerId("79121234567")),
    ("89121234567", CallerId("79121234567")),
    ("9121234567", CallerId("79121234567")),
    ("4951234567", CallerId("74951234567")),
    ("50000", CallerId("50000")),
    ("sip:ivanov@Company.ru", CallerId(None, "ivanov@company.ru")),
    ("<sip:+79121234567@carrier.ru;user=phone>", CallerId("79121234567", "+79121234567@carrier.ru")),
    ("anonymous", CallerId()),
    ("Anonymous@anonymous.invalid", CallerId()),
    ("", CallerId()),
    (None, CallerId()),
    ("0000000000", CallerId()),
    ("unknown", CallerId()),
])
def test_caller_id_normalisation(raw, expected):
    got = normalize_caller_id(raw)
    assert got == expected
    assert got.unknown == (expected.number is None and expected.sip is None)


def test_number_info_uses_phonenumbers():
    assert number_info("79121234567").type == "mobile"
    assert number_info("73433848484").type == "fixed"
    assert number_info("77012345678").region == "KZ"
    assert number_info("79121234567").region == "RU"
    assert PhoneNumber("77012345678").is_russian is False
    assert PhoneNumber("79121234567").is_russian is True


@given(st.from_regex(r"[1-69][0-9]{6,14}(\([0-9]{1,10}\))?", fullmatch=True))
def test_normalisation_idempotent(value):
    try:
        once = normalize_phone(value)
    except RuleError:
        return
    assert normalize_phone(once) == once


@given(st.text(max_size=20))
def test_parse_phone_only_raises_rule_errors(value):
    try:
        p = parse_phone(value)
    except RuleError as e:
        assert e.code.startswith("number.")
        return
    assert p.digits.isdigit() and 7 <= len(p.digits) <= 15

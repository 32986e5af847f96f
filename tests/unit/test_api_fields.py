"""The OpenAPI document's field patterns (web/api_fields.py and the request models) never promise
what the rules refuse: every value a pattern allows — drawn by Hypothesis from the pattern itself,
as the property-based API run draws them — passes the rule that checks that field. Fast and
exhaustive where the full API run is bounded."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from esl_control.model.common import clean_emails, clean_extension
from esl_control.model.numbers.schemas import clean_host, clean_number
from esl_control.model.sip.schemas import clean_domain_label, clean_login, clean_sip_password
from esl_control.routing.acl import parse_entry as parse_acl_entry
from esl_control.routing.directions import EMERGENCY_NUMBERS, validate_area_codes
from esl_control.routing.errors import RuleError
from esl_control.routing.masks import compile_mask
from esl_control.routing.numbers import parse_destination, parse_sip_uri
from pult.passwords import PASSWORD_PATTERN, password_problems
from web import api_fields as f
from web.auth.recovery import parse_identifier
from web.telephony.trunks.http import MASK_PATTERN

FAST = settings(max_examples=40, derandomize=True, deadline=None,
                suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


def draws(pattern: str):
    return st.from_regex(re.compile(pattern), fullmatch=True)


def schema_pattern(annotated) -> str:
    return next(m.pattern for m in annotated.__metadata__ if getattr(m, "pattern", None))


@FAST
@given(draws(f.EXTENSION_PATTERN))
def test_an_extension_the_document_allows_is_one(value):
    assert clean_extension(value) == value.strip()


def test_the_extension_pattern_leaves_out_every_emergency_number():
    pat = re.compile(f.EXTENSION_PATTERN)
    assert not any(pat.search(n) for n in EMERGENCY_NUMBERS)
    assert pat.search("100") and pat.search("99999") and not pat.search("123456")


@FAST
@given(draws(f.PHONE_PATTERN))
def test_a_phone_number_the_document_allows_is_one(value):
    assert clean_number(value) == value
    assert parse_destination(value).value == value


@FAST
@given(draws(f.SIP_URI_PATTERN))
def test_a_sip_address_the_document_allows_is_one(value):
    parse_sip_uri(value)


@FAST
@given(draws(f.EMAILS_PATTERN).filter(lambda v: len(v) <= 254))
def test_e_mails_the_document_allows_are_taken(value):
    clean_emails(value, "email")


@FAST
@given(draws(f.HOST_PATTERN))
def test_a_host_the_document_allows_is_one(value):
    clean_host(value, "host")


@FAST
@given(draws(f.WHITELIST_ENTRY_PATTERN))
def test_an_allow_list_entry_the_document_allows_is_one(value):
    parse_acl_entry(value)


@FAST
@given(draws(f"^{f.AREA_CODE_PATTERN}$"))
def test_an_area_code_the_document_allows_is_one(value):
    assert validate_area_codes([value]) == (value,)


@FAST
@given(draws(MASK_PATTERN))
def test_a_routing_mask_the_document_allows_compiles(value):
    compile_mask(value)


@FAST
@given(draws(PASSWORD_PATTERN))
def test_a_password_the_document_allows_meets_the_policy(value):
    assert password_problems(value) == []


@FAST
@given(draws(f.IDENTIFIER_PATTERN))
def test_a_recovery_identifier_the_document_allows_is_taken(value):
    assert parse_identifier(value)[0] in ("email", "phone")


@pytest.mark.parametrize("pattern_of, rule", [
    ("DomainIn.name", clean_domain_label),
    ("AccountIn.login", clean_login),
    ("PasswordIn.password", clean_sip_password),
])
def test_the_sip_patterns_follow_the_sip_rules(pattern_of, rule):
    import web.telephony.sip.http as sip

    model, field = pattern_of.split(".")
    pattern = getattr(sip, model).model_json_schema()["properties"][field]["pattern"]

    @FAST
    @given(draws(pattern))
    def check(value):
        try:
            rule(value)
        except RuleError as exc:  # pragma: no cover - the failure names the value
            raise AssertionError(f"{pattern_of}: the document allows {value!r}, the rule refuses it: {exc.code}")

    check()


@FAST
@given(draws(f"^({f.RECOVERY_PHONE_PATTERN})$"))
def test_a_typed_phone_the_document_allows_is_taken(value):
    from storage.repos.users import normalize_phone

    assert normalize_phone(value)

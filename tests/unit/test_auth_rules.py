"""Pure rules of accounts, PBXs and logins: login kinds, phone normalisation, the PBX state and
its banner, demo dates and the conversion window, quotas and feature flags, platform-settings
precedence, DID ranges and the operator models' field messages."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pult.errors import AppError
from pult.settings import load_settings
from storage.repos.tenants import (DEFAULT_EDITIONS, can_convert_demo, demo_dates, effective_platform_settings,
                                   has_feature, pbx_state, quota_problem, settings_with_overrides)
from storage.repos.users import LoginName, normalize_phone, parse_login
from web.operator.models import AccountIn, BlockIn, EditionIn, PbxIn, SettingsIn, validate
from web.operator.services import expand_numbers

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text,kind,login,pbx", [
    ("101/anna", "tenant", "anna", 101),
    ("100001", "account", "100001", None),
    ("+7 916 123-45-67", "phone", "+79161234567", None),
    ("8 (916) 123-45-67", "phone", "+79161234567", None),
    ("9161234567", "phone", "+79161234567", None),
    ("Anna@Example.RU", "email", "anna@example.ru", None),
    ("201@vpbx101.pult.local", "email", "201@vpbx101.pult.local", None),   # SIP decided on lookup
    ("root", "operator", "root", None),
])
def test_login_kinds(text, kind, login, pbx):
    assert parse_login(text) == LoginName(kind, login, pbx)


def test_rate_limit_keys_differ_by_kind():
    assert parse_login("100001").norm == "account:100001"
    assert parse_login("8 916 123 45 67").norm == parse_login("+79161234567").norm == "phone:+79161234567"
    assert parse_login("101/Anna").norm == "101/anna"


@pytest.mark.parametrize("raw,out", [("+44 20 7946 0958", "+442079460958"), ("12345", None), ("abc", None),
                                     ("7-916-123-45-67", "+79161234567")])
def test_normalize_phone(raw, out):
    assert normalize_phone(raw) == out


def test_demo_state_days_left_then_blocked_then_deleted():
    pbx = {"status": "demo", "created_at": T0, "demo": {"started_at": T0, "ends_at": T0 + timedelta(days=14)}}
    blocked, reasons, banner = pbx_state(pbx, {"balance": 0}, T0 + timedelta(days=3, hours=1))
    assert not blocked and reasons == () and banner.level == "info" and banner.values["days"] == 11
    # the last second of the demo still counts as a day left
    assert pbx_state(pbx, None, T0 + timedelta(days=14) - timedelta(seconds=1)).banner.values["days"] == 1
    st = pbx_state(pbx, None, T0 + timedelta(days=14))
    assert st.blocked and st.reasons == ("demo_expired",) and st.banner.values["days"] == 14
    assert st.banner.values["convertible"] is True
    st = pbx_state(pbx, None, T0 + timedelta(days=27))
    assert st.banner.values["days"] == 1 and st.banner.values["convertible"] is True
    st = pbx_state(pbx, None, T0 + timedelta(days=28, seconds=1))
    assert st.banner.values["convertible"] is False
    assert can_convert_demo(pbx, T0 + timedelta(days=27, hours=23)) and not can_convert_demo(pbx, T0 + timedelta(days=28))
    d = demo_dates(pbx)
    assert d["delete_at"] == T0 + timedelta(days=28) and d["convert_until"] == T0 + timedelta(days=28)


def test_operator_block_ends_by_itself_and_balance_blocks_too():
    until = T0 + timedelta(hours=5)
    pbx = {"status": "active", "operator_block": {"until": until, "reason": "spam"}}
    st = pbx_state(pbx, {"balance": 100}, T0)
    assert st.blocked and st.reasons == ("operator",) and st.banner.values == {"reason": "spam", "until": until}
    assert not pbx_state(pbx, {"balance": 100}, until).blocked
    st = pbx_state({"status": "active", "operator_block": {"until": None, "reason": ""}}, {"balance": -1}, T0)
    assert st.reasons == ("operator", "balance") and st.banner.message == "The PBX is blocked by the operator."
    st = pbx_state({"status": "active"}, {"balance": -1}, T0)
    assert st.reasons == ("balance",) and "topped up" in st.banner.message
    assert pbx_state({"status": "active"}, {"balance": 0}, T0) == (False, (), None)
    assert pbx_state({"status": "archived"}, None, T0).reasons == ("archived",)


def test_quota_problem_and_features():
    basic = DEFAULT_EDITIONS[0]
    assert quota_problem(basic, "employees", 9) is None
    p = quota_problem(basic, "employees", 10)
    assert (p.edition, p.kind, p.limit, p.current) == ("Базовая", "employees", 10, 10)
    assert quota_problem(basic, "numbers", 0, adding=3).limit == 2
    assert quota_problem(basic, "ivr_levels", 2, adding=0).limit == 1
    assert quota_problem(DEFAULT_EDITIONS[2], "employees", 10 ** 6) is None   # unlimited
    assert quota_problem(None, "employees", 10 ** 6) is None
    with pytest.raises(ValueError):
        quota_problem(basic, "elephants", 1)
    assert has_feature(basic, "call_recording") and not has_feature(basic, "fax")
    with pytest.raises(ValueError):
        has_feature(basic, "teleport")


def test_platform_settings_precedence(tmp_path):
    env = load_settings(data_dir=tmp_path, sip_base_domain="env.example", smtp_host="smtp.env", vat_rate=20)
    stored = {"sip_base_domain": "db.example", "smtp_host": "", "vat_rate": None, "smtp_port": 2525}
    eff = effective_platform_settings(stored, env)
    assert eff["sip_base_domain"] == "db.example"       # the operator's value wins
    assert eff["smtp_host"] == "smtp.env"               # empty: the environment applies
    assert eff["vat_rate"] == 20
    jobs_settings = settings_with_overrides(stored, env)
    assert jobs_settings.smtp_port == 2525 and jobs_settings.smtp_host == "smtp.env"


def test_did_ranges():
    assert expand_numbers("74951230000-74951230002, 74957770000") == ["74951230000", "74951230001", "74951230002",
                                                                      "74957770000"]
    assert expand_numbers("+74951230009-+74951230010") == ["+74951230009", "+74951230010"]
    for bad in ("74951230009-74951230000", "7495-74951230000", ""):
        with pytest.raises(AppError) as exc:
            expand_numbers(bad)
        assert "numbers" in exc.value.fields
    with pytest.raises(AppError):
        expand_numbers("70000000000-70000005000")


def _fields(model, data) -> dict:
    with pytest.raises(AppError) as exc:
        validate(model, data)
    return exc.value.fields


def test_operator_models_give_a_message_per_field():
    assert _fields(AccountIn, {"name": "x", "email": "x@y.ru", "requisites": {"kpp": "1", "ogrn": "2"},
                               "contacts": {"emails": ["bad"]}, "extra": 1}) == {
        "requisites.kpp": "The KPP has 9 digits.",
        "requisites.ogrn": "The OGRN has 13 digits (15 for a sole trader).",
        "contacts.emails": "Enter an e-mail address like name@example.com.",
        "extra": "Unknown field."}
    assert _fields(PbxIn, {"account_id": 0, "name": "x", "edition": ""}) == {
        "account_id": "The value is too small.", "edition": "Choose an edition."}
    assert _fields(EditionIn, {"code": "Bad Code", "name": "x"}) == {
        "code": "The code is 2-32 Latin letters, digits or _, starting with a letter."}
    assert _fields(BlockIn, {"reason": ""}) == {"reason": "This field is too short."}
    f = _fields(SettingsIn, {"sip_base_domain": "not a domain", "vat_rate": 120, "captcha_mode": "sometimes",
                             "mail_from": "nobody"})
    assert f == {"sip_base_domain": "Enter a domain name like pbx.example.ru.", "vat_rate": "The value is too large.",
                 "captcha_mode": "This value is not supported.",
                 "mail_from": "Enter the sender like Pult <noreply@example.ru>."}
    ok = validate(AccountIn, {"name": " ООО  ", "email": "a@b.ru", "contacts": {"phones": ["8 916 000 00 01", ""]}})
    assert ok.name == "ООО" and ok.contacts.phones == ["+79160000001"]

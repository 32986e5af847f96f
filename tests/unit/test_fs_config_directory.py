"""Directory answers: tenant domain, SIP users with a1-hash, user variables."""
from __future__ import annotations

import hashlib

import pytest

from fs_config.directory import (DEFAULT_DIAL_STRING, DirectoryDomain, DirectoryUser, a1_hash,
                                 build_directory)
from fs_config.xml import XmlBuildError
from tests.unit.test_fs_config_xml import fs_parse

#: User and domain <param> names FreeSWITCH 1.10 reads (sofia_reg_parse_auth, the user/ endpoint).
FS_DIRECTORY_PARAMS = {"a1-hash", "password", "auth-acl", "max-registrations-per-extension",
                       "sip-forbid-register", "user-agent-filter", "mwi-account", "dial-string",
                       "allow-empty-password", "vm-password", "vm-a1-hash"}


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_a1_hash_matches_rfc2617_example():
    # RFC 2617 §3.5: Mufasa / "Circle Of Life" in realm testrealm@host.com
    assert a1_hash("Mufasa", "testrealm@host.com", "Circle Of Life") == "939e7578ed9e3c518a452acee763bce9"


def test_a1_hash_reproduces_the_digest_a_phone_sends():
    """RFC 2617's full example: FreeSWITCH computes the response from HA1 exactly like this."""
    ha1 = a1_hash("Mufasa", "testrealm@host.com", "Circle Of Life")
    ha2 = md5("GET:/dir/index.html")
    response = md5(f"{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}")
    assert response == "6629fae49393a05397450978507c4ef1"


def test_a1_hash_of_non_ascii_password_is_utf8():
    assert a1_hash("ivanov", "vpbx1.pult.local", "Пароль1") == md5("ivanov:vpbx1.pult.local:Пароль1")


@pytest.mark.parametrize("user, realm, password", [("", "d", "p"), ("u", "", "p"), ("u", "d", "")])
def test_a1_hash_refuses_empty_parts(user, realm, password):
    with pytest.raises(XmlBuildError):
        a1_hash(user, realm, password)


def build_sample():
    domain = DirectoryDomain("vpbx7.pult.local", pbx_id=7)
    users = [
        DirectoryUser("ivanov", password="Qwerty123", extension="101", employee_id="e-101",
                      user_context="vpbx7", caller_id_name="Иванов & <Сыновья> \"ООО\"",
                      caller_id_number="101", auth_acl="pbx7_sip", max_registrations=3),
        DirectoryUser("0001234", a1_hash="ABCDEF0123456789ABCDEF0123456789", user_context="vpbx7",
                      variables={"pult_sip_account_id": "sa-9"}),
    ]
    return domain, users, build_directory(domain, users)


def test_directory_document_structure_and_values():
    domain, users, text = build_sample()
    section = fs_parse(text, "directory")
    dom = section.find("domain")
    assert dom.get("name") == "vpbx7.pult.local"
    assert dom.find("params/param[@name='dial-string']").get("value") == DEFAULT_DIAL_STRING
    assert {v.get("name"): v.get("value") for v in dom.findall("variables/variable")} == {"pult_pbx_id": "7"}
    ivanov = dom.find("users/user[@id='ivanov']")
    assert ivanov.get("number-alias") == "101"
    params = {p.get("name"): p.get("value") for p in ivanov.findall("params/param")}
    assert params == {"a1-hash": md5("ivanov:vpbx7.pult.local:Qwerty123"), "auth-acl": "pbx7_sip",
                      "max-registrations-per-extension": "3"}
    variables = {v.get("name"): v.get("value") for v in ivanov.findall("variables/variable")}
    assert variables == {
        "user_context": "vpbx7",
        "effective_caller_id_name": "Иванов & <Сыновья> \"ООО\"",
        "effective_caller_id_number": "101",
        "pult_extension": "101",
        "pult_employee_id": "e-101",
    }
    other = dom.find("users/user[@id='0001234']")
    assert other.find("params/param[@name='a1-hash']").get("value") == "abcdef0123456789abcdef0123456789"
    assert other.find("variables/variable[@name='pult_sip_account_id']").get("value") == "sa-9"


def test_every_emitted_param_is_one_freeswitch_knows():
    _, _, text = build_sample()
    section = fs_parse(text, "directory")
    names = {p.get("name") for p in section.iter("param")}
    assert names <= FS_DIRECTORY_PARAMS, names - FS_DIRECTORY_PARAMS


def test_clear_password_never_appears():
    _, _, text = build_sample()
    assert "Qwerty123" not in text
    assert 'name="password"' not in text
    assert "Qwerty123" not in repr(DirectoryUser("x", password="Qwerty123"))


def test_user_data_is_escaped():
    _, _, text = build_sample()
    assert "&lt;Сыновья&gt;" in text and "&amp;" in text and "&quot;ООО&quot;" in text


def test_user_without_any_credential_is_refused():
    """FreeSWITCH would let anyone register as a user with no password and no a1-hash."""
    with pytest.raises(XmlBuildError, match="no password or a1_hash"):
        build_directory(DirectoryDomain("d.example"), [DirectoryUser("ghost")])


@pytest.mark.parametrize("user, message", [
    (DirectoryUser("u", password="p", a1_hash="0" * 32), "not both"),
    (DirectoryUser("u", a1_hash="xyz"), "32 hex digits"),
    (DirectoryUser("", password="p"), "empty id"),
    (DirectoryUser("u", password="p", caller_id_name="bad\x1b[31m"), "control character"),
])
def test_bad_users_are_refused_with_a_clear_message(user, message):
    with pytest.raises(XmlBuildError, match=message):
        build_directory(DirectoryDomain("d.example"), [user])


def test_duplicate_user_and_empty_domain_are_refused():
    with pytest.raises(XmlBuildError, match="listed twice"):
        build_directory(DirectoryDomain("d.example"),
                        [DirectoryUser("u", password="p"), DirectoryUser("u", password="q")])
    with pytest.raises(XmlBuildError, match="domain.name"):
        build_directory(DirectoryDomain(""), [])


def test_domain_without_users_and_without_dial_string():
    section = fs_parse(build_directory(DirectoryDomain("d.example", dial_string=None), []), "directory")
    assert section.find("domain/params").findall("param") == []
    assert section.find("domain/users").findall("user") == []


def test_thousand_users_build_one_valid_document():
    users = [DirectoryUser(f"user{i:04d}", password=f"Pass{i}word", extension=str(1000 + i)) for i in range(1000)]
    section = fs_parse(build_directory(DirectoryDomain("big.example", pbx_id=1), users), "directory")
    assert len(section.findall("domain/users/user")) == 1000

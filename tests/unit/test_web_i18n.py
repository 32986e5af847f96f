"""Every visible string has a Russian translation; language negotiation; the menu registry."""
from __future__ import annotations

import re
from pathlib import Path

from pult import i18n
from web.sections import Section, all_sections, menu_for, register_section


#: packages whose marked messages (``N_("...")``) the web layer shows translated, e.g. the billing
#: requisites checks of jobs/billing raised through the operator's forms
OTHER_PACKAGES = ("jobs", "storage", "esl_control")


def test_every_marked_message_has_a_russian_translation():
    root = Path(i18n.__file__).resolve().parent.parent
    messages = i18n.extract_messages()
    for package in OTHER_PACKAGES:
        messages |= i18n.extract_messages(root / package)
    assert len(messages) > 80  # the extractor really finds the templates' and code's strings
    assert {"Sign in", "Call history", "FreeSWITCH nodes", "Wrong login or password."} <= messages
    ru = i18n.catalog("ru")
    missing = sorted(m for m in messages if m not in ru)
    assert not missing, f"messages without a Russian translation: {missing}"
    unused = sorted(set(ru) - messages)
    assert not unused, f"catalog entries no code uses: {unused}"


def test_translations_keep_their_placeholders_and_are_russian():
    for msgid, text in i18n.catalog("ru").items():
        assert re.findall(r"%\(\w+\)s", msgid) == re.findall(r"%\(\w+\)s", text), msgid
        assert text.strip(), msgid
    assert i18n.translate("ru", "Calls of PBX %(id)s", id=101) == "Звонки ВАТС 101"
    assert i18n.translate("en", "Calls of PBX %(id)s", id=101) == "Calls of PBX 101"


def test_accept_language_negotiation():
    assert i18n.parse_accept_language("en-US,en;q=0.9,ru;q=0.8") == "en"
    assert i18n.parse_accept_language("de-DE,ru;q=0.5,en;q=0.7") == "en"
    assert i18n.parse_accept_language("ru-RU") == "ru"
    assert i18n.parse_accept_language("de, fr") is None
    assert i18n.parse_accept_language("en;q=0, ru;q=0.1") == "ru"
    assert i18n.parse_accept_language(None) is None


def test_menu_is_filtered_by_user_kind_and_rights():
    register_section(Section("test-billing", "Billing", "/billing", order=50, audience="tenant",
                             right="billing.view"))
    try:
        tenant = {"kind": "tenant", "pbx_id": 101}
        operator = {"kind": "operator"}
        keys = lambda sections: [s.key for s in sections]  # noqa: E731
        assert keys(menu_for(None)) == []
        assert "nodes" in keys(menu_for(operator)) and "test-billing" not in keys(menu_for(operator))
        assert "nodes" not in keys(menu_for(tenant)) and "test-billing" in keys(menu_for(tenant))
        no_billing = menu_for(tenant, has_right=lambda user, right: right != "billing.view")
        assert "test-billing" not in keys(no_billing) and "calls" in keys(no_billing)
        assert keys(all_sections())[0] == "dashboard"
    finally:
        from web import sections

        sections._SECTIONS.pop("test-billing", None)

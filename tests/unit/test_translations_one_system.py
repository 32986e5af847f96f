"""Messages that used to carry their Russian beside the English in code (object type names, the
password policy, document refusals, paid service titles) come from the one catalogue
(pult/locale/ru_RU.csv) like every other message."""
from __future__ import annotations

from datetime import date

import pytest

from esl_control.model.common import InUse, Reference
from esl_control.model.messages import TYPE_NAMES, type_name
from jobs.billing.rating import SERVICES, service_title
from pult import i18n
from pult.passwords import MESSAGES as PASSWORD_MESSAGES, describe_problems, password_problems
from reports.common import DocumentError, check_period


def test_every_such_message_is_an_english_id_with_a_catalogue_entry():
    ru = i18n.catalog("ru")
    ids = [*TYPE_NAMES.values(), *PASSWORD_MESSAGES.values(), *(s.title for s in SERVICES.values())]
    assert all(isinstance(m, str) for m in ids)
    assert [m for m in ids if m not in ru] == []


def test_type_names_in_both_languages():
    assert type_name("schedule", "ru") == "временной график" and type_name("schedule") == "schedule"
    assert type_name("no_such_type", "ru") == "no_such_type"
    refused = InUse("Main", [Reference("scheme", "s1", "Night")])
    assert "схема «Night»" in refused.message("ru") and "scheme 'Night'" in refused.message("en")


def test_password_policy_in_both_languages():
    problems = password_problems("короткий")
    assert describe_problems(problems, "ru").startswith("Пароль должен быть не короче 10 символов.")
    assert describe_problems(problems, "en").startswith("The password must be at least 10 characters long.")
    assert "кириллических" in describe_problems(problems, "ru")


def test_document_refusals_in_both_languages():
    with pytest.raises(DocumentError) as refused:
        check_period(date(2026, 3, 10), date(2026, 3, 1))
    assert refused.value.text("en") == "The period end 01.03.2026 is before its start 10.03.2026."
    assert refused.value.message_ru == "Конец периода 01.03.2026 раньше его начала 10.03.2026."
    listed = DocumentError(i18n.N_("The document cannot be issued: the supplier's requisites are not filled in (missing: %(missing)s). The platform operator enters them in the operator console: «Platform settings» → «The operator's requisites» (/operator/settings#supplier)."),  # noqa: E501
                           terms={"missing": ["INN", "legal address"]})
    assert "(нет: ИНН, юридический адрес)" in listed.message_ru
    assert "(missing: INN, legal address)" in str(listed)


def test_paid_service_titles_in_both_languages():
    assert service_title("recording", "en") == "Call recording (unlimited)"
    assert service_title("recording") == "Запись разговоров (безлимитная)"  # documents and the ledger
    assert SERVICES["edition"].vat is False and SERVICES["number"].vat is True

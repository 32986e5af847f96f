"""RuleError and the bilingual message table: every code the rules raise has a natural English and
Russian text with the same placeholders, so the cabinet and the API can always show it."""
import pickle
import re
import string
from pathlib import Path

import pytest

from esl_control.routing import MESSAGES, RuleError
from pult import i18n

ROUTING = Path(__file__).resolve().parents[2] / "esl_control" / "routing"


def _fields(template):
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_raised_code_has_messages():
    raised = set()
    for path in ROUTING.glob("*.py"):
        raised |= set(re.findall(r'RuleError\(\s*"([a-z_]+\.[a-z_]+)"', path.read_text()))
    assert len(raised) > 60
    missing = raised - MESSAGES.keys()
    assert not missing, missing


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_message_pairs_are_consistent(code):
    # one translation system: the English template is the id, the Russian comes from the catalogue
    english = MESSAGES[code]
    assert english in i18n.catalog("ru"), f"{code}: no Russian translation in pult/locale/ru_RU.csv"
    texts = {"en": english, "ru": i18n.catalog("ru")[english]}
    assert _fields(texts["en"]) == _fields(texts["ru"]), code
    assert re.search("[а-яА-Я]", texts["ru"]), f"{code}: Russian text is not Russian"
    assert not re.search("[а-яА-Я]", texts["en"]), f"{code}: English text has Cyrillic"
    params = {name: "X" for name in _fields(texts["en"])}
    e = RuleError(code, **params)
    assert str(e) == texts["en"].format(**params)          # placeholders and {{ }} escapes are right
    assert e.message("ru") == texts["ru"].format(**params)


def test_error_shape_for_api():
    e = RuleError("list_entry.range_length", field="value", start="749520", end="74952009999",
                  start_length=6, end_length=11)
    assert isinstance(e, ValueError)
    assert str(e) == "Range ends must have the same length: 749520 has 6 digits, 74952009999 has 11"
    assert e.to_dict("ru") == {
        "field": "value", "code": "list_entry.range_length",
        "params": {"start": "749520", "end": "74952009999", "start_length": 6, "end_length": 11},
        "message": "Границы диапазона должны быть одной длины: в 749520 6 цифр, в 74952009999 11"}
    assert e.message("de") == str(e)          # unknown language falls back to English
    clone = pickle.loads(pickle.dumps(e))
    assert (clone.code, clone.field, clone.params) == (e.code, e.field, e.params)


def test_for_field_keeps_an_explicit_field():
    e = RuleError("number.plus")
    assert e.for_field("target").field == "target"
    assert RuleError("number.plus", field="number").for_field("target").field == "number"


def test_unknown_code_still_renders():
    e = RuleError("no.such_code", value=1)
    assert "no.such_code" in str(e)

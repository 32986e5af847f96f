"""Translation for every area: the ``N_`` marker and tornado.locale CSV catalogs in pult/locale/.

Message ids are the English texts (English is the source language, so it needs no catalog);
``pult/locale/ru_RU.csv`` maps each to Russian. A missing Russian entry is caught by the test
that compares the catalog with every marked message of the project (``_(`` or ``N_(`` followed by a
string literal, in code and templates).

Language choice, first match wins: the signed-in user's language → the ``pult_lang`` cookie
(set by the switch on the login page) → the browser's Accept-Language → the default language
setting.
"""
from __future__ import annotations

import csv
import re
from pathlib import Path

import tornado.locale

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"ru": "ru_RU", "en": "en_US"}
LANG_COOKIE = "pult_lang"

#: the project's packages whose code and templates hold marked messages
PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pult", "web", "esl_control", "fs_config", "jobs", "reports", "storage")

_loaded = False


def N_(message: str) -> str:
    """Mark a string for translation without translating it now (translated when shown)."""
    return message


def load() -> None:
    """Load the catalogs once per process."""
    global _loaded
    if not _loaded:
        tornado.locale.load_translations(str(LOCALE_DIR), encoding="utf-8")
        _loaded = True


def get_locale(language: str) -> tornado.locale.Locale:
    """The Tornado locale of a language code ('ru' or 'en')."""
    load()
    return tornado.locale.get(LANGUAGES.get(language, "en_US"))


def translate(language: str, message: str, **values) -> str:
    """Translate an English message id into ``language`` and fill ``%(name)s`` placeholders
    (a :class:`Localized` value in ``language``)."""
    text = get_locale(language).translate(message)
    return text % in_language(values, language) if values else text


class Localized(str):
    """A value of a message given in two languages (an edition's or a tariff's name): as a plain
    string it is the Russian ``<field>``, :func:`translate` and the handlers' ``_`` put it in the
    reader's language (:func:`localized`). Lets a layer below the web name operator data in a
    message without knowing who will read it."""

    by_language: dict[str, str]

    def __new__(cls, doc: dict, field: str, fallback: str = "") -> "Localized":
        value = super().__new__(cls, localized(doc, field, "ru") or fallback)
        value.by_language = {lang: localized(doc, field, lang) or fallback for lang in LANGUAGES}
        return value

    def in_language(self, language: str) -> str:
        return self.by_language.get(language) or str(self)


def in_language(values: dict, language: str) -> dict:
    """``values`` of a message with each :class:`Localized` one in ``language``."""
    if not any(isinstance(v, Localized) for v in values.values()):
        return values
    return {k: v.in_language(language) if isinstance(v, Localized) else v for k, v in values.items()}


class TranslatedError(ValueError):
    """A refusal whose ``message`` is an English message id (the Russian in
    ``pult/locale/ru_RU.csv``) filled from ``values``: :meth:`text` gives it in a language,
    ``message_en`` / ``message_ru`` the two the cabinet has; ``str()`` is the English."""

    def __init__(self, message: str, **values):
        self.message_id = message
        self.values = values
        super().__init__(self.text("en"))

    def fill(self, language: str) -> dict:
        """The placeholder values in ``language`` (subclasses translate some of them)."""
        return self.values

    def text(self, language: str = "en") -> str:
        return translate(language, self.message_id, **self.fill(language))

    @property
    def message_en(self) -> str:
        return self.text("en")

    @property
    def message_ru(self) -> str:
        return self.text("ru")


def localized(doc: dict, field: str, language: str) -> str:
    """Operator data given in two languages (a tariff's or an edition's name and description):
    ``<field>_en`` in the English cabinet when the operator gave it, else ``<field>`` (Russian)."""
    if language != "ru" and doc.get(f"{field}_{language}"):
        return str(doc[f"{field}_{language}"])
    return str(doc.get(field) or "")


def language_of(locale: tornado.locale.Locale) -> str:
    return locale.code.split("_")[0]


def parse_accept_language(header: str | None) -> str | None:
    """The first supported language in an Accept-Language header, honouring q-values."""
    if not header:
        return None
    choices = []
    for i, part in enumerate(header.split(",")):
        bits = part.strip().split(";")
        tag = bits[0].strip().lower()
        q = 1.0
        for b in bits[1:]:
            b = b.strip()
            if b.startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        lang = tag.split("-")[0]
        if lang in LANGUAGES and q > 0:
            choices.append((-q, i, lang))
    return min(choices)[2] if choices else None


def catalog(language: str) -> dict[str, str]:
    """The raw catalog of one language (message id → translation), for tests and tools."""
    if language == "en":
        return {}
    path = LOCALE_DIR / f"{LANGUAGES[language]}.csv"
    with open(path, encoding="utf-8", newline="") as f:
        return {row[0]: row[1] for row in csv.reader(f) if row and not row[0].startswith("#")}


_MSG_RE = re.compile(r"""(?<![A-Za-z0-9])N?_\(\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')\s*[,)%]""")


def extract_messages(root: Path | None = None) -> set[str]:
    """Every message id marked with ``_("...")`` or ``N_("...")`` under ``root`` (templates and
    code); by default in every package of the project."""
    roots = [root] if root else [PROJECT_ROOT / p for p in PACKAGES]
    found = set()
    for path in [p for r in roots for p in list(r.rglob("*.py")) + list(r.rglob("*.html"))]:
        if "locale" in path.parts:
            continue
        for m in _MSG_RE.finditer(path.read_text(encoding="utf-8")):
            msg = m.group(1) if m.group(1) is not None else m.group(2)
            if msg == "...":  # the placeholder in docstrings
                continue
            found.add(msg.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
                      if "\\" in msg else msg)
    return found

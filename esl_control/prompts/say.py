"""The files FreeSWITCH's ``say`` modules play, and which of them a ``say`` call needs.

``mod_say_ru`` and ``mod_say_en`` (FreeSWITCH 1.10, ``src/mod/say/``) speak numbers, durations,
dates and money by playing short files relative to the channel's ``sound_prefix``:
``digits/25.wav`` does not exist, 25 is ``digits/20`` + ``digits/5``; the Russian module picks
gendered and ordinal forms (``digits/1f`` «одна», ``digits/h-5m`` «пятый», ``digits/thousands-i``
«тысячи»). :data:`SAY_TEXTS` is every file of the ``digits``, ``time`` and ``currency``
categories of the standard sound packages with its text — taken from FreeSWITCH's
``docs/phrase/phrase_{en,ru}.xml`` (two typos fixed, and the English ordinals h-40 … h-90
that mod_say_en asks for added) — and the generated prompt set speaks them all.

:func:`number_files` and :func:`duration_files` say which files a ``say`` call plays; they
follow the modules' ``play_group``/``*_say_count``/``*_say_time`` line by line, so a test can
prove the set covers what the switch will ask for. Durations should be given as ``H:M:S``:
mod_say_ru does not take the minutes out of a plain number of seconds (``90`` is said as one
minute ninety seconds).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

#: lang → {"digits/1f": "одна", "time/hours-a": "часа", …} (paths without ``.wav``)
SAY_TEXTS: dict[str, dict[str, str]] = json.loads(
    (Path(__file__).with_name("say_texts.json")).read_text(encoding="utf-8"))


class _Forms(NamedTuple):
    num: tuple[str, ...]       # 0..5, then prefix and suffix for the rest
    thousand: tuple[str, ...]  # (word before, word) for 0..5, the plural word, prefix, suffix
    million: tuple[str, ...]


_THOUSAND = ("", "", "1f", "thousand", "2f", "thousands-i", "3", "thousands-i", "4", "thousands-i", "5",
             "thousands", "", "")
_MILLION = ("", "", "1", "million", "2", "million-a", "3", "million-a", "4", "million-a", "5", "millions", "", "")
_MILLION_NO_ONE = ("", "", "", *_MILLION[3:])

#: mod_say_ru.h, the nominative rows of ``matrix`` (m_00, m_01, m_02, m_04, m_06) by the channel
#: variable ``gender``; the other cases are mostly empty in the module itself
RU_FORMS: dict[str, _Forms] = {
    "male": _Forms(("0", "1", "2", "3", "4", "5", "", ""), _THOUSAND, _MILLION),
    "it": _Forms(("0", "1n", "2", "3", "4", "5", "", ""), _THOUSAND, _MILLION_NO_ONE),
    "female": _Forms(("0", "1f", "2f", "3", "4", "5", "", ""), _THOUSAND, _MILLION),
    "male_h": _Forms(("h-0m", "h-1m", "h-2m", "h-3m", "h-4m", "h-5m", "h-", "m"), _THOUSAND, _MILLION_NO_ONE),
    "female_h": _Forms(("h-0f", "h-1f", "h-2f", "h-3f", "h-4f", "h-5f", "h-", "f"), _THOUSAND, _MILLION),
}


def _ru_group(f: _Forms, a: int, b: int, c: int, what: str) -> list[str]:
    row = {"million": f.million, "thousand": f.thousand}.get(what)
    out: list[str] = []

    def word(n: str) -> None:  # "<prefix><n><suffix>" (+ the thousand/million word)
        if row is not None:
            out.extend((f"{row[12]}{n}{row[13]}", row[11]))
        else:
            out.append(f"{f.num[6]}{n}{f.num[7]}")

    if a:
        if b == 0 and c == 0:
            word(f"{a}00")
        else:
            out.append(f"{a}00")
    if b:
        if b > 1:
            if c == 0:
                word(f"{b}0")
            else:
                out.append(f"{b}0")
        else:
            word(f"{b}{c}")
            c = 0
    if c or what == "zero":
        if c <= 5:
            if row is not None:
                if row[c * 2]:
                    out.append(row[c * 2])
                out.append(row[c * 2 + 1])
            else:
                out.append(f.num[c])
        else:
            word(str(c))
    return ["digits/" + x for x in out]


def _places(n: int) -> list[int]:
    return [(n // 10 ** i) % 10 for i in range(9)]


def _ru_count(n: int, gender: str) -> list[str]:
    f, p, out = RU_FORMS[gender], _places(n), []
    if n == 0:
        return _ru_group(f, 0, 0, 0, "zero")
    if p[8] or p[7] or p[6]:
        out += _ru_group(RU_FORMS["male"] if n % 1_000_000 else f, p[8], p[7], p[6], "million")
    if p[5] or p[4] or p[3]:
        out += _ru_group(RU_FORMS["male"] if n % 1000 else f, p[5], p[4], p[3], "thousand")
    return out + _ru_group(f, p[2], p[1], p[0], "")


def _en_group(a: int, b: int, c: int, what: str | None, counted: bool) -> list[str]:
    out = []
    if a:
        out += [f"{a}", "hundred"]
    if b:
        if b > 1:
            out.append(f"h-{b}0" if c == 0 and counted else f"{b}0")
        else:
            out.append(f"{b}{c}")
            c = 0
    if c:
        out.append(f"h-{c}" if counted else f"{c}")
    if what and (a or b or c):
        out.append(what)
    return ["digits/" + x for x in out]


def _en_count(n: int, counted: bool = False) -> list[str]:
    if n == 0:
        return ["digits/0"]
    p = _places(n)
    return (_en_group(p[8], p[7], p[6], "million", False) + _en_group(p[5], p[4], p[3], "thousand", False)
            + _en_group(p[2], p[1], p[0], None, counted))


def number_files(lang: str, n: int, *, method: str = "pronounced", gender: str = "male") -> list[str]:
    """Files ``say <lang> number <method> <n>`` plays (``gender``: the mod_say_ru channel variable;
    for English ``counted`` is the ordinal). 0 <= n < 10⁹ (the modules' own limit)."""
    if not 0 <= n < 10 ** 9:
        raise ValueError(f"say cannot speak {n}: 0 … 999999999")
    if method == "iterated":
        return [f"digits/{ch}" for ch in str(n)]
    if lang == "ru":
        return _ru_count(n, gender)
    if lang == "en":
        return _en_count(n, counted=method == "counted")
    raise ValueError(f"no say module for language {lang!r}")


def _ru_unit(n: int, one: str, few: str, many: str) -> str:
    if n % 10 == 1 and n != 11:
        return one
    if 1 < n % 10 < 5 and (n < 12 or n > 14):
        return few
    return many


def duration_files(lang: str, hours: int, minutes: int, seconds: int) -> list[str]:
    """Files ``say <lang> time_measurement pronounced H:M:S`` plays."""
    if lang == "ru":
        out = _ru_count(hours, "male") + [_ru_unit(hours, "time/hour", "time/hours-a", "time/hours")]
        out += _ru_count(minutes, "female") + [_ru_unit(minutes, "time/minute", "time/minutes-i", "time/minutes")]
        if seconds:
            out += _ru_count(seconds, "female") + [_ru_unit(seconds, "time/second", "time/seconds-i",
                                                            "time/seconds")]
        return out
    if lang == "en":
        out = []
        for value, one, many in ((hours, "time/hour", "time/hours"), (minutes, "time/minute", "time/minutes"),
                                 (seconds, "time/second", "time/seconds")):
            out += (_en_count(value) if value else ["digits/0"]) + [one if value == 1 else many]
        return out
    raise ValueError(f"no say module for language {lang!r}")

"""One error type for every rule violation, with its message in English and Russian.

Why: the same validation runs in the cabinet (which shows the message in the user's language,
next to the field), the REST API (which returns ``{"field", "code", "message"}``) and the call
flow (which logs it). So an error is data -- a stable ``code`` plus named ``params`` -- and the
text comes from :data:`MESSAGES`, never from the raising site: the English template, translated
by the one catalogue of :mod:`pult.i18n` (``pult/locale/ru_RU.csv``), then filled with the params.

    >>> e = RuleError("mask.empty_group", field="mask", position=4)
    >>> str(e)
    "Mask: empty brackets '()' at position 4"
    >>> e.message("ru")
    'Маска: пустые скобки «()» в позиции 4'
"""
from __future__ import annotations

from typing import Any

from pult import i18n
from pult.i18n import N_

LANGUAGES = ("en", "ru")

#: code -> the English message (the id of its translation in pult/locale/ru_RU.csv); ``{name}``
#: placeholders are filled from the error's params after translation
MESSAGES: dict[str, str] = {
    'mask.empty': N_('Mask is empty'),
    'mask.too_long': N_('Mask is longer than {max} characters'),
    'mask.unsupported': N_("Mask: '{part}' at position {position} is not supported. Allowed: digits, \\d, \\d*, \\d+, \\d{{n}}, [0-9], [100-500], ( ), |"),
    'mask.quantifier_without_target': N_("Mask: '{part}' at position {position} must follow a digit, \\d or [ ]"),
    'mask.quantifier_target': N_("Mask: '{part}' at position {position}: *, + and {{n}} may follow only a digit, \\d or a [0-9] class"),
    'mask.bad_repeat': N_("Mask: '{part}' at position {position}: write exactly n digits as \\d{{n}}, e.g. \\d{{5}}"),
    'mask.repeat_range': N_("Mask: '{part}' at position {position}: n in {{n}} must be from 1 to {max}"),
    'mask.bad_class': N_("Mask: '{part}' at position {position}: brackets hold digits and digit ranges like [0-9], [135] or a number range like [100-500]"),
    'mask.range_reversed': N_("Mask: '{part}' at position {position}: the range start is greater than its end"),
    'mask.range_leading_zero': N_("Mask: '{part}' at position {position}: range bounds with leading zeros must have the same length"),
    'mask.range_too_long': N_("Mask: '{part}' at position {position}: range bounds may have at most {max} digits"),
    'mask.empty_group': N_("Mask: empty brackets '()' at position {position}"),
    'mask.empty_alternative': N_("Mask: empty alternative at '{part}' (position {position}); write something on both sides of |"),
    'mask.unbalanced_open': N_("Mask: the bracket '(' at position {position} is not closed"),
    'mask.unbalanced_close': N_("Mask: the bracket ')' at position {position} has no matching '('"),
    'mask.unbalanced_bracket': N_("Mask: '{part}' at position {position}: square brackets are not paired"),
    'transformation.required': N_('Number transformation is required when a mask is set'),
    'transformation.empty': N_('Number transformation is empty'),
    'transformation.too_long': N_('Number transformation is longer than {max} characters'),
    'transformation.dollar_without_group': N_("Transformation: '{part}' at position {position}: $ must be followed by a group number, e.g. $1"),
    'transformation.group_zero': N_("Transformation: '{part}' at position {position}: groups are numbered from $1"),
    'transformation.plus_position': N_("Transformation: '+' at position {position}: a + may only start the number"),
    'transformation.stray_backslash': N_("Transformation: '\\' at position {position} may only end a group number, as in $1\\77"),
    'transformation.unsupported': N_("Transformation: '{part}' at position {position} is not allowed. Allowed: $n, \\, + and digits"),
    'transformation.group_missing': N_('Transformation uses ${group} but the mask has {groups} group(s) in brackets'),
    'number.empty': N_('Number is empty. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)'),
    'number.cyrillic': N_("Number contains Cyrillic letters ('{part}'). Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)"),
    'number.plus': N_("Number must be written without '+'. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)"),
    'number.space': N_('Number must be written without spaces. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)'),
    'number.dash': N_('Number must be written without dashes. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)'),
    'number.brackets': N_('Brackets are only allowed around an extension at the end, e.g. 73432628900(252). Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)'),
    'number.chars': N_("Number contains '{part}', which is not allowed. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)"),
    'number.length': N_('Number has {length} digits; an international number has 7 to 15. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)'),
    'number.ru_length': N_('A number starting with 7 (Russia) has 11 digits, this one has {length}. Example: 73433848484'),
    'number.national_prefix': N_('Write the number with country code 7 instead of 8: {suggestion}'),
    'number.extension': N_('Extension in brackets must be 1 to {max} digits, e.g. 73432628900(252)'),
    'number.extension_not_allowed': N_('An extension in brackets is not allowed here. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)'),
    'number.short_pattern': N_("Short SIP number pattern '{pattern}' is invalid: use digits and X for any digit, e.g. 500XX"),
    'sip.invalid': N_("SIP address '{value}' is invalid. Expected: user@domain, e.g. ivanov@company.ru"),
    'sip.user': N_("SIP user name '{part}' may contain Latin letters, digits and . _ - + ! ~ * ' only"),
    'sip.domain': N_("SIP domain '{part}' is invalid. Example: company.ru or sales.mycompany.ru"),
    'sip.port': N_("SIP port '{part}' must be a number from 1 to 65535"),
    'destination.invalid': N_("'{value}' is neither a phone number nor a SIP address. Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252), or user@domain"),
    'list_entry.empty': N_('Entry is empty. Expected: a number in international form without +, a range 74952009000-74952009999, a mask with # and *, or a SIP address user@domain'),
    'list_entry.kind': N_("Entry type must be 'phone' or 'sip', not '{kind}'"),
    'list_entry.chars': N_("Entry contains '{part}', which is not allowed. Expected: a number in international form without +, a range 74952009000-74952009999, a mask with # and *, or a SIP address user@domain"),
    'list_entry.plus': N_("Write numbers without '+'. Expected: a number in international form without +, a range 74952009000-74952009999, a mask with # and *, or a SIP address user@domain"),
    'list_entry.cyrillic': N_("Entry contains Cyrillic letters ('{part}'). Expected: a number in international form without +, a range 74952009000-74952009999, a mask with # and *, or a SIP address user@domain"),
    'list_entry.length': N_('A number in a list may have at most 15 digits'),
    'list_entry.dash': N_('A dash is allowed only between the two ends of a range, e.g. 74952009000-74952009999'),
    'list_entry.range_length': N_('Range ends must have the same length: {start} has {start_length} digits, {end} has {end_length}'),
    'list_entry.range_order': N_('Range start {start} is greater than its end {end}'),
    'list_entry.range_chars': N_('Range ends must be plain numbers without # or *: {value}'),
    'list_entry.range_sip': N_('Ranges are allowed only for phone numbers'),
    'list_entry.sip_format': N_("SIP entry '{value}' must be user@domain (masks with # and * allowed), e.g. ivanov@company.ru"),
    'list_entry.too_long': N_('Entry is longer than {max} characters'),
    'list.mode': N_("List mode must be 'black', 'white' or none, not '{mode}'"),
    'list.duplicate': N_("The entry '{value}' is already in the list"),
    'rule.ring_time': N_('Ring time must be from 0 to {max} seconds'),
    'rule.target': N_('Choose where the call is forwarded: a group, an employee or an external number'),
    'comment.too_long': N_('Comment is longer than {max} characters'),
    'daygroup.name': N_('Day group needs a name'),
    'daygroup.weekday': N_("Weekday '{value}' is invalid; use 1 (Monday) to 7 (Sunday)"),
    'daygroup.empty': N_("Day group '{name}' has no weekdays and no working dates, so it never applies"),
    'daygroup.date': N_("Date '{value}' is invalid; expected dd.mm.yyyy or yyyy-mm-dd"),
    'daygroup.holiday_name': N_('Holiday on {date} needs a name'),
    'daygroup.duplicate_date': N_("Date {date} is listed twice in day group '{name}'"),
    'daygroup.special_kind': N_("Special date kind must be 'holiday' or 'workday', not '{kind}'"),
    'daygroup.in_use': N_("Day group '{name}' is used by schedule(s): {schedules}. It cannot be deleted"),
    'schedule.name': N_('Schedule needs a name'),
    'schedule.no_intervals': N_("Schedule '{name}' needs at least one interval (day group, from, to)"),
    'schedule.time': N_("Time '{value}' is invalid; expected HH:MM from 00:00 to 23:59"),
    'schedule.empty_interval': N_("Interval {start}–{end} is empty: 'to' must be later than 'from' (all day is 00:00–23:59)"),
    'schedule.crosses_midnight': N_('Interval {start}–{end} crosses midnight; split it into {start}–23:59 and 00:00–{end}'),
    'schedule.unknown_day_group': N_("Interval refers to day group '{day_group}', which does not exist"),
    'schedule.timezone': N_("Time zone '{value}' is unknown; expected a name like Europe/Moscow"),
    'schedule.blocks': N_("A scheme needs at least its final 'any other time' block"),
    'dial.invalid': N_("'{value}' is not a number that can be dialled"),
    'direction.unknown': N_("Direction '{value}' is unknown; expected one of {allowed}"),
    'direction.area_code': N_("Home area code '{value}' must be 3 to 5 digits without the country code, e.g. 495 or 343"),
    'direction.emergency_extension': N_('{value} is an emergency number and cannot be used as an extension'),
    'trunk.prefix': N_('Trunk prefix must be a whole number from 1 to 9999 without leading zeros'),
    'trunk.lines': N_('Number of lines must be from {min} to {max}'),
    'trunk.unknown': N_('Routing rule {row} refers to a trunk that does not exist'),
    'trunk.prefix_taken': N_("Prefix {prefix} is already used by trunk '{trunk}'"),
}

# Later modules register their messages through _register() so each table lives next to the rules
# that use it; MESSAGES is the one merged table the cabinet and the API read.


def _register(table: dict[str, str]) -> None:
    for code, text in table.items():
        if not isinstance(text, str):
            raise TypeError(f"message code {code!r}: register the English template (N_(...)); its Russian "
                            "goes into pult/locale/ru_RU.csv")
        if code in MESSAGES and MESSAGES[code] != text:
            raise ValueError(f"message code {code!r} registered twice with different texts")
        MESSAGES[code] = text


class RuleError(ValueError):
    """A rule was broken: ``code`` names which (a key of :data:`MESSAGES`), ``params`` fill its text.

    ``field`` (keyword-only) names the form field for API field errors; :meth:`for_field` sets it
    on an error raised by lower-level code. ``str(error)`` is the English message; use
    :meth:`message` for another language. A subclass of ``ValueError`` so generic handlers that
    treat bad input as ``ValueError`` keep working.
    """

    def __init__(self, code: str, *, field: str | None = None, **params: Any):
        self.code = code
        self.field = field
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str = "en") -> str:
        """The message in ``lang`` ("en" or "ru"; anything else falls back to English)."""
        english = MESSAGES.get(self.code)
        if english is None:
            return f"{self.code}: {self.params}"
        template = i18n.translate(lang, english) if lang in LANGUAGES else english
        try:
            return template.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return f"{template} {self.params}"

    def for_field(self, field: str) -> "RuleError":
        """Return the same error attributed to ``field`` (keeps an explicit field already set)."""
        if self.field is None:
            self.field = field
        return self

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        """The API's field-error shape: field, code, params and the message in ``lang``."""
        return {"field": self.field, "code": self.code, "params": dict(self.params),
                "message": self.message(lang)}

    def __reduce__(self):  # keep pickling (Celery results, multiprocessing) working with kwargs
        return (_rebuild, (self.code, self.field, self.params))

    def __repr__(self) -> str:
        return f"RuleError({self.code!r}, field={self.field!r}, **{self.params!r})"


def _rebuild(code: str, field: str | None, params: dict[str, Any]) -> RuleError:
    return RuleError(code, field=field, **params)

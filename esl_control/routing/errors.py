"""One error type for every rule violation, with its message in English and Russian.

Why: the same validation runs in the cabinet (which shows the message in the user's language,
next to the field), the REST API (which returns ``{"field", "code", "message"}``) and the call
flow (which logs it). So an error is data -- a stable ``code`` plus named ``params`` -- and the
text comes from :data:`MESSAGES`, never from the raising site.

    >>> e = RuleError("mask.empty_group", field="mask", position=4)
    >>> str(e)
    "Mask: empty brackets '()' at position 4"
    >>> e.message("ru")
    'Маска: пустые скобки «()» в позиции 4'
"""
from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "ru")

_MASK_ALLOWED_EN = r"Allowed: digits, \d, \d*, \d+, \d{{n}}, [0-9], [100-500], ( ), |"
_MASK_ALLOWED_RU = r"Допустимы: цифры, \d, \d*, \d+, \d{{n}}, [0-9], [100-500], ( ), |"
_NUMBER_FORM_EN = "Expected: digits in international form without +, e.g. 79121234567 or 73432628900(252)"
_NUMBER_FORM_RU = "Ожидается: цифры в международном формате без +, например 79121234567 или 73432628900(252)"
_ENTRY_FORM_EN = ("Expected: a number in international form without +, a range 74952009000-74952009999, "
                  "a mask with # and *, or a SIP address user@domain")
_ENTRY_FORM_RU = ("Ожидается: номер в международном формате без +, диапазон 74952009000-74952009999, "
                  "маска с # и * или SIP-адрес имя@домен")

MESSAGES: dict[str, dict[str, str]] = {
    # --- masks (masks.py; PRODUCT.md §4.5, inventory D §5.3.3.1)
    "mask.empty": {"en": "Mask is empty", "ru": "Маска не заполнена"},
    "mask.too_long": {"en": "Mask is longer than {max} characters",
                      "ru": "Маска длиннее {max} символов"},
    "mask.unsupported": {"en": "Mask: '{part}' at position {position} is not supported. " + _MASK_ALLOWED_EN,
                         "ru": "Маска: «{part}» в позиции {position} не поддерживается. " + _MASK_ALLOWED_RU},
    "mask.quantifier_without_target": {
        "en": "Mask: '{part}' at position {position} must follow a digit, \\d or [ ]",
        "ru": "Маска: «{part}» в позиции {position} должен стоять после цифры, \\d или [ ]"},
    "mask.quantifier_target": {
        "en": "Mask: '{part}' at position {position}: *, + and {{n}} may follow only a digit, \\d or a [0-9] class",
        "ru": "Маска: «{part}» в позиции {position}: *, + и {{n}} ставятся только после цифры, \\d или класса [0-9]"},
    "mask.bad_repeat": {"en": "Mask: '{part}' at position {position}: write exactly n digits as \\d{{n}}, e.g. \\d{{5}}",
                        "ru": "Маска: «{part}» в позиции {position}: ровно n цифр записываются как \\d{{n}}, например \\d{{5}}"},
    "mask.repeat_range": {"en": "Mask: '{part}' at position {position}: n in {{n}} must be from 1 to {max}",
                          "ru": "Маска: «{part}» в позиции {position}: n в {{n}} должно быть от 1 до {max}"},
    "mask.bad_class": {"en": "Mask: '{part}' at position {position}: brackets hold digits and digit ranges like [0-9], [135] or a number range like [100-500]",
                       "ru": "Маска: «{part}» в позиции {position}: в квадратных скобках указываются цифры и диапазоны цифр, например [0-9], [135], или диапазон чисел, например [100-500]"},
    "mask.range_reversed": {"en": "Mask: '{part}' at position {position}: the range start is greater than its end",
                            "ru": "Маска: «{part}» в позиции {position}: начало диапазона больше конца"},
    "mask.range_leading_zero": {"en": "Mask: '{part}' at position {position}: range bounds with leading zeros must have the same length",
                                "ru": "Маска: «{part}» в позиции {position}: границы диапазона с ведущими нулями должны быть одной длины"},
    "mask.range_too_long": {"en": "Mask: '{part}' at position {position}: range bounds may have at most {max} digits",
                            "ru": "Маска: «{part}» в позиции {position}: границы диапазона — не более {max} цифр"},
    "mask.empty_group": {"en": "Mask: empty brackets '()' at position {position}",
                         "ru": "Маска: пустые скобки «()» в позиции {position}"},
    "mask.empty_alternative": {"en": "Mask: empty alternative at '{part}' (position {position}); write something on both sides of |",
                               "ru": "Маска: пустой вариант у «{part}» (позиция {position}); с обеих сторон от | должно быть выражение"},
    "mask.unbalanced_open": {"en": "Mask: the bracket '(' at position {position} is not closed",
                             "ru": "Маска: скобка «(» в позиции {position} не закрыта"},
    "mask.unbalanced_close": {"en": "Mask: the bracket ')' at position {position} has no matching '('",
                              "ru": "Маска: у скобки «)» в позиции {position} нет открывающей «(»"},
    "mask.unbalanced_bracket": {"en": "Mask: '{part}' at position {position}: square brackets are not paired",
                                "ru": "Маска: «{part}» в позиции {position}: квадратные скобки не парные"},
    # --- transformations (masks.py; D §5.3.3.2)
    "transformation.required": {"en": "Number transformation is required when a mask is set",
                                "ru": "Если маска заполнена, преобразование номера не может быть пустым"},
    "transformation.empty": {"en": "Number transformation is empty", "ru": "Преобразование номера не заполнено"},
    "transformation.too_long": {"en": "Number transformation is longer than {max} characters",
                                "ru": "Преобразование номера длиннее {max} символов"},
    "transformation.dollar_without_group": {
        "en": "Transformation: '{part}' at position {position}: $ must be followed by a group number, e.g. $1",
        "ru": "Преобразование: «{part}» в позиции {position}: после $ нужен номер группы, например $1"},
    "transformation.group_zero": {"en": "Transformation: '{part}' at position {position}: groups are numbered from $1",
                                  "ru": "Преобразование: «{part}» в позиции {position}: группы нумеруются с $1"},
    "transformation.plus_position": {"en": "Transformation: '+' at position {position}: a + may only start the number",
                                     "ru": "Преобразование: «+» в позиции {position}: знак + допустим только в начале номера"},
    "transformation.stray_backslash": {
        "en": "Transformation: '\\' at position {position} may only end a group number, as in $1\\77",
        "ru": "Преобразование: «\\» в позиции {position} допустим только сразу после номера группы, как в $1\\77"},
    "transformation.unsupported": {"en": "Transformation: '{part}' at position {position} is not allowed. Allowed: $n, \\, + and digits",
                                   "ru": "Преобразование: «{part}» в позиции {position} недопустим. Допустимы: $n, \\, + и цифры"},
    "transformation.group_missing": {
        "en": "Transformation uses ${group} but the mask has {groups} group(s) in brackets",
        "ru": "В преобразовании указана группа ${group}, а в маске групп в скобках: {groups}"},
}

# Later modules register their messages through _register() so each table lives next to the rules
# that use it; MESSAGES is the one merged table the cabinet and the API read.


def _register(table: dict[str, dict[str, str]]) -> None:
    for code, texts in table.items():
        if code in MESSAGES and MESSAGES[code] != texts:
            raise ValueError(f"message code {code!r} registered twice with different texts")
        missing = set(LANGUAGES) - texts.keys()
        if missing:
            raise ValueError(f"message code {code!r} lacks {sorted(missing)}")
        MESSAGES[code] = texts


_register({
    # --- number formats (numbers.py; PRODUCT.md §4.6, seed 000 §3.3)
    "number.empty": {"en": "Number is empty. " + _NUMBER_FORM_EN, "ru": "Номер не указан. " + _NUMBER_FORM_RU},
    "number.cyrillic": {"en": "Number contains Cyrillic letters ('{part}'). " + _NUMBER_FORM_EN,
                        "ru": "Номер содержит кириллицу («{part}»). " + _NUMBER_FORM_RU},
    "number.plus": {"en": "Number must be written without '+'. " + _NUMBER_FORM_EN,
                    "ru": "Номер указывается без «+». " + _NUMBER_FORM_RU},
    "number.space": {"en": "Number must be written without spaces. " + _NUMBER_FORM_EN,
                     "ru": "Номер указывается без пробелов. " + _NUMBER_FORM_RU},
    "number.dash": {"en": "Number must be written without dashes. " + _NUMBER_FORM_EN,
                    "ru": "Номер указывается без дефисов. " + _NUMBER_FORM_RU},
    "number.brackets": {"en": "Brackets are only allowed around an extension at the end, e.g. 73432628900(252). " + _NUMBER_FORM_EN,
                        "ru": "Скобки допустимы только вокруг добавочного номера в конце, например 73432628900(252). " + _NUMBER_FORM_RU},
    "number.chars": {"en": "Number contains '{part}', which is not allowed. " + _NUMBER_FORM_EN,
                     "ru": "Номер содержит недопустимый символ «{part}». " + _NUMBER_FORM_RU},
    "number.length": {"en": "Number has {length} digits; an international number has 7 to 15. " + _NUMBER_FORM_EN,
                      "ru": "В номере {length} цифр; в международном номере от 7 до 15 цифр. " + _NUMBER_FORM_RU},
    "number.ru_length": {"en": "A number starting with 7 (Russia) has 11 digits, this one has {length}. Example: 73433848484",
                         "ru": "Номер, начинающийся с 7 (Россия), состоит из 11 цифр, а в этом {length}. Пример: 73433848484"},
    "number.national_prefix": {"en": "Write the number with country code 7 instead of 8: {suggestion}",
                               "ru": "Укажите номер с кодом страны 7 вместо 8: {suggestion}"},
    "number.extension": {"en": "Extension in brackets must be 1 to {max} digits, e.g. 73432628900(252)",
                         "ru": "Добавочный номер в скобках — от 1 до {max} цифр, например 73432628900(252)"},
    "number.extension_not_allowed": {"en": "An extension in brackets is not allowed here. " + _NUMBER_FORM_EN,
                                     "ru": "Добавочный номер в скобках здесь не допускается. " + _NUMBER_FORM_RU},
    "number.short_pattern": {"en": "Short SIP number pattern '{pattern}' is invalid: use digits and X for any digit, e.g. 500XX",
                             "ru": "Шаблон коротких SIP-номеров «{pattern}» неверен: используйте цифры и X для любой цифры, например 500XX"},
    "sip.invalid": {"en": "SIP address '{value}' is invalid. Expected: user@domain, e.g. ivanov@company.ru",
                    "ru": "SIP-адрес «{value}» указан неверно. Ожидается: имя@домен, например ivanov@company.ru"},
    "sip.user": {"en": "SIP user name '{part}' may contain Latin letters, digits and . _ - + ! ~ * ' only",
                 "ru": "Имя пользователя SIP «{part}» может содержать только латинские буквы, цифры и . _ - + ! ~ * '"},
    "sip.domain": {"en": "SIP domain '{part}' is invalid. Example: company.ru or sales.mycompany.ru",
                   "ru": "SIP-домен «{part}» указан неверно. Пример: company.ru или sales.mycompany.ru"},
    "sip.port": {"en": "SIP port '{part}' must be a number from 1 to 65535",
                 "ru": "Порт SIP «{part}» должен быть числом от 1 до 65535"},
    "destination.invalid": {"en": "'{value}' is neither a phone number nor a SIP address. " + _NUMBER_FORM_EN + ", or user@domain",
                            "ru": "«{value}» — не номер телефона и не SIP-адрес. " + _NUMBER_FORM_RU + ", или имя@домен"},
    # --- black/white lists and client-number rules (lists.py; A §4.4.4-4.4.5)
    "list_entry.empty": {"en": "Entry is empty. " + _ENTRY_FORM_EN, "ru": "Запись не заполнена. " + _ENTRY_FORM_RU},
    "list_entry.kind": {"en": "Entry type must be 'phone' or 'sip', not '{kind}'",
                        "ru": "Тип записи должен быть «телефон» или «SIP», а не «{kind}»"},
    "list_entry.chars": {"en": "Entry contains '{part}', which is not allowed. " + _ENTRY_FORM_EN,
                         "ru": "Запись содержит недопустимый символ «{part}». " + _ENTRY_FORM_RU},
    "list_entry.plus": {"en": "Write numbers without '+'. " + _ENTRY_FORM_EN,
                        "ru": "Номера указываются без «+». " + _ENTRY_FORM_RU},
    "list_entry.cyrillic": {"en": "Entry contains Cyrillic letters ('{part}'). " + _ENTRY_FORM_EN,
                            "ru": "Запись содержит кириллицу («{part}»). " + _ENTRY_FORM_RU},
    "list_entry.length": {"en": "A number in a list may have at most 15 digits",
                          "ru": "Номер в списке может содержать не более 15 цифр"},
    "list_entry.dash": {"en": "A dash is allowed only between the two ends of a range, e.g. 74952009000-74952009999",
                        "ru": "Дефис допускается только между границами диапазона, например 74952009000-74952009999"},
    "list_entry.range_length": {"en": "Range ends must have the same length: {start} has {start_length} digits, {end} has {end_length}",
                                "ru": "Границы диапазона должны быть одной длины: в {start} {start_length} цифр, в {end} {end_length}"},
    "list_entry.range_order": {"en": "Range start {start} is greater than its end {end}",
                               "ru": "Начало диапазона {start} больше его конца {end}"},
    "list_entry.range_chars": {"en": "Range ends must be plain numbers without # or *: {value}",
                               "ru": "Границы диапазона — только цифры, без # и *: {value}"},
    "list_entry.range_sip": {"en": "Ranges are allowed only for phone numbers", "ru": "Диапазоны допускаются только для телефонных номеров"},
    "list_entry.sip_format": {"en": "SIP entry '{value}' must be user@domain (masks with # and * allowed), e.g. ivanov@company.ru",
                              "ru": "SIP-запись «{value}» должна иметь вид имя@домен (можно маски с # и *), например ivanov@company.ru"},
    "list_entry.too_long": {"en": "Entry is longer than {max} characters", "ru": "Запись длиннее {max} символов"},
    "list.mode": {"en": "List mode must be 'black', 'white' or none, not '{mode}'",
                  "ru": "Режим списка должен быть «черный», «белый» или не задан, а не «{mode}»"},
    "list.duplicate": {"en": "The entry '{value}' is already in the list", "ru": "Запись «{value}» уже есть в списке"},
    "rule.ring_time": {"en": "Ring time must be from 0 to {max} seconds", "ru": "Время ожидания ответа — от 0 до {max} секунд"},
    "rule.target": {"en": "Choose where the call is forwarded: a group, an employee or an external number",
                    "ru": "Укажите, куда переадресовать звонок: группа, сотрудник или внешний номер"},
    "comment.too_long": {"en": "Comment is longer than {max} characters", "ru": "Комментарий длиннее {max} символов"},
    # --- day groups and schedules (schedules.py; seed 000 §3.1-3.2, PRODUCT.md §3)
    "daygroup.name": {"en": "Day group needs a name", "ru": "Укажите название группы дней"},
    "daygroup.weekday": {"en": "Weekday '{value}' is invalid; use 1 (Monday) to 7 (Sunday)",
                         "ru": "День недели «{value}» указан неверно; используйте 1 (понедельник) … 7 (воскресенье)"},
    "daygroup.empty": {"en": "Day group '{name}' has no weekdays and no working dates, so it never applies",
                       "ru": "В группе дней «{name}» не выбраны дни недели и нет рабочих дат, она никогда не действует"},
    "daygroup.date": {"en": "Date '{value}' is invalid; expected dd.mm.yyyy or yyyy-mm-dd",
                      "ru": "Дата «{value}» указана неверно; ожидается дд.мм.гггг"},
    "daygroup.holiday_name": {"en": "Holiday on {date} needs a name", "ru": "Укажите название праздника {date}"},
    "daygroup.duplicate_date": {"en": "Date {date} is listed twice in day group '{name}'",
                                "ru": "Дата {date} указана в группе дней «{name}» дважды"},
    "daygroup.special_kind": {"en": "Special date kind must be 'holiday' or 'workday', not '{kind}'",
                              "ru": "Тип особой даты — «праздник» или «рабочий день», а не «{kind}»"},
    "daygroup.in_use": {"en": "Day group '{name}' is used by schedule(s): {schedules}. It cannot be deleted",
                        "ru": "Группа дней «{name}» используется во временных графиках: {schedules}. Удалить её нельзя"},
    "schedule.name": {"en": "Schedule needs a name", "ru": "Укажите название временного графика"},
    "schedule.no_intervals": {"en": "Schedule '{name}' needs at least one interval (day group, from, to)",
                              "ru": "Во временном графике «{name}» должен быть хотя бы один интервал (группа дней, с, по)"},
    "schedule.time": {"en": "Time '{value}' is invalid; expected HH:MM from 00:00 to 23:59",
                      "ru": "Время «{value}» указано неверно; ожидается ЧЧ:ММ от 00:00 до 23:59"},
    "schedule.empty_interval": {"en": "Interval {start}–{end} is empty: 'to' must be later than 'from' (all day is 00:00–23:59)",
                                "ru": "Интервал {start}–{end} пуст: время «по» должно быть позже «с» (круглосуточно — 00:00–23:59)"},
    "schedule.crosses_midnight": {"en": "Interval {start}–{end} crosses midnight; split it into {start}–23:59 and 00:00–{end}",
                                  "ru": "Интервал {start}–{end} переходит через полночь; разбейте его на {start}–23:59 и 00:00–{end}"},
    "schedule.unknown_day_group": {"en": "Interval refers to day group '{day_group}', which does not exist",
                                   "ru": "Интервал ссылается на несуществующую группу дней «{day_group}»"},
    "schedule.timezone": {"en": "Time zone '{value}' is unknown; expected a name like Europe/Moscow",
                          "ru": "Часовой пояс «{value}» неизвестен; ожидается название вида Europe/Moscow"},
    "schedule.blocks": {"en": "A scheme needs at least its final 'any other time' block",
                        "ru": "В схеме должен быть хотя бы последний блок «в любое другое время»"},
    # --- directions (directions.py; PRODUCT.md §4.5, D §4.6.3.1 b)
    "dial.invalid": {"en": "'{value}' is not a number that can be dialled",
                     "ru": "«{value}» — не номер, на который можно позвонить"},
    "direction.unknown": {"en": "Direction '{value}' is unknown; expected one of {allowed}",
                          "ru": "Направление «{value}» неизвестно; допустимы: {allowed}"},
    "direction.area_code": {"en": "Home area code '{value}' must be 3 to 5 digits without the country code, e.g. 495 or 343",
                            "ru": "Код города «{value}» — от 3 до 5 цифр без кода страны, например 495 или 343"},
    "direction.emergency_extension": {"en": "{value} is an emergency number and cannot be used as an extension",
                                      "ru": "{value} — номер экстренной службы, его нельзя использовать как внутренний номер"},
    # --- trunks (outbound.py; D §5.3.3)
    "trunk.prefix": {"en": "Trunk prefix must be a whole number from 1 to 9999 without leading zeros",
                     "ru": "Префикс транка — целое число от 1 до 9999 без ведущих нулей"},
    "trunk.lines": {"en": "Number of lines must be from {min} to {max}",
                    "ru": "Количество линий — от {min} до {max}"},
    "trunk.unknown": {"en": "Routing rule {row} refers to a trunk that does not exist",
                      "ru": "Правило маршрутизации {row} ссылается на несуществующий транк"},
    "trunk.prefix_taken": {"en": "Prefix {prefix} is already used by trunk '{trunk}'",
                           "ru": "Префикс {prefix} уже используется транком «{trunk}»"},
})


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
        texts = MESSAGES.get(self.code)
        if texts is None:
            return f"{self.code}: {self.params}"
        template = texts.get(lang) or texts["en"]
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

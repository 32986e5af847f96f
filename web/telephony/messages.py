"""Message codes of the telephony configuration services, in English and Russian.

Same shape as :data:`esl_control.routing.errors.MESSAGES` (``code -> {"en": ..., "ru": ...}``)
and merged into it at import through the rules package's ``_register`` hook, so a
:class:`~esl_control.routing.errors.RuleError` raised here renders in both languages exactly like
one raised by a rule, and ``RuleError.to_dict(lang)`` gives the API's field error.
"""
from __future__ import annotations

from esl_control.routing.errors import _register

TYPE_NAMES: dict[str, dict[str, str]] = {
    "day_group": {"en": "day group", "ru": "группа дней"},
    "schedule": {"en": "schedule", "ru": "временной график"},
    "employee": {"en": "employee", "ru": "сотрудник"},
    "group": {"en": "group", "ru": "группа"},
    "room": {"en": "conference room", "ru": "комната конференции"},
    "sip_domain": {"en": "SIP domain", "ru": "SIP-домен"},
    "sip_account": {"en": "SIP account", "ru": "SIP-учётная запись"},
    "number": {"en": "number", "ru": "номер"},
    "scheme": {"en": "scheme", "ru": "схема"},
    "sound": {"en": "sound file", "ru": "звуковой файл"},
    "trunk": {"en": "SIP trunk", "ru": "SIP-транк"},
    "client_rule": {"en": "client-number rule", "ru": "правило переадресации по номеру клиента"},
    "list_entry": {"en": "list entry", "ru": "запись списка"},
    "settings": {"en": "PBX settings", "ru": "настройки АТС"},
    "trunk_mask": {"en": "routing rule", "ru": "правило маршрутизации"},
}

_IP_FORM_EN = "expected e.g. 192.168.1.20, 192.168.1.16-32 or 192.168.*"
_IP_FORM_RU = "ожидается, например, 192.168.1.20, 192.168.1.16-32 или 192.168.*"

MESSAGES: dict[str, dict[str, str]] = {
    # --- generic field checks
    "value.required": {"en": "This field is required", "ru": "Заполните это поле"},
    "value.bool": {"en": "Expected yes or no", "ru": "Ожидается «да» или «нет»"},
    "value.range": {"en": "Must be a whole number from {min} to {max}",
                    "ru": "Должно быть целым числом от {min} до {max}"},
    "value.choice": {"en": "'{value}' is not allowed; choose one of: {allowed}",
                     "ru": "Значение «{value}» недопустимо; выберите одно из: {allowed}"},
    "value.too_long": {"en": "Text is longer than {max} characters", "ru": "Текст длиннее {max} символов"},
    "value.list": {"en": "Expected a list", "ru": "Ожидается список"},
    "value.object": {"en": "Expected an object with fields", "ru": "Ожидается объект с полями"},
    "value.email": {"en": "E-mail '{value}' is invalid", "ru": "Адрес e-mail «{value}» указан неверно"},
    "name.required": {"en": "Enter a name", "ru": "Укажите название"},
    "name.taken": {"en": "The name '{name}' is already used", "ru": "Название «{name}» уже используется"},
    "ref.unknown": {"en": "The selected object does not exist in this PBX or was deleted ({id})",
                    "ru": "Выбранный объект не существует в этой АТС или удалён ({id})"},
    "ref.in_use": {"en": "'{name}' is used by: {references}. It cannot be deleted",
                   "ru": "«{name}» используется: {references}. Удалить нельзя"},
    "not_found": {"en": "Not found", "ru": "Не найдено"},
    "confirm.required": {"en": "Deleting '{name}' also deletes its {count} SIP account(s); confirm to continue",
                         "ru": "Удаление «{name}» удалит и его SIP-учётные записи ({count}); подтвердите удаление"},
    # --- extensions (one namespace per PBX)
    "extension.format": {"en": "Extension must be 1 to 5 digits", "ru": "Внутренний номер — от 1 до 5 цифр"},
    "extension.taken": {"en": "Extension {extension} is already used by '{owner}'",
                        "ru": "Внутренний номер {extension} уже занят: «{owner}»"},
    "extension.none_free": {"en": "There is no free extension from {start}",
                            "ru": "Нет свободного внутреннего номера начиная с {start}"},
    # --- employees, contact methods, groups
    "contact.duplicate": {"en": "This contact method is already in the list: {value}",
                          "ru": "Этот способ приёма звонков уже есть в списке: {value}"},
    "outgoing.unknown": {"en": "Number {number} is not a line of this PBX that can be used for outgoing calls",
                         "ru": "Номер {number} не является линией этой АТС для исходящих звонков"},
    "contact.unknown": {"en": "The employee has no contact method {id}", "ru": "У сотрудника нет способа приёма звонков {id}"},
    "group.member_duplicate": {"en": "{value} is already a member of the group", "ru": "{value} уже есть в группе"},
    "dtmf.code": {"en": "DTMF code '{value}' must be 1 to 4 characters of 0-9, * and #",
                  "ru": "DTMF-код «{value}» — от 1 до 4 символов из 0-9, * и #"},
    "dtmf.duplicate": {"en": "DTMF code '{value}' is assigned to two features",
                       "ru": "DTMF-код «{value}» назначен двум функциям"},
    # --- SIP domains, accounts, whitelist
    "sip_domain.name": {"en": "SIP domain name must start with a Latin letter, have at least 4 characters and contain only Latin letters, digits and '-'",
                        "ru": "Имя SIP-домена начинается с латинской буквы, не короче 4 символов, содержит только латинские буквы, цифры и «-»"},
    "sip_domain.taken": {"en": "SIP domain {name} is already taken", "ru": "SIP-домен {name} уже занят"},
    "sip_domain.limit": {"en": "A PBX can have at most {max} SIP domains; delete one first",
                         "ru": "У АТС может быть не более {max} SIP-доменов; сначала удалите один из них"},
    "sip_domain.default": {"en": "The default SIP domain {name} cannot be deleted",
                           "ru": "SIP-домен по умолчанию {name} удалить нельзя"},
    "sip_account.login": {"en": "SIP login must start with a Latin letter and have 4 to 64 characters (Latin letters, digits, '.', '_', '-'), or be digits starting with 000",
                          "ru": "SIP-логин начинается с латинской буквы, длина от 4 до 64 символов (латинские буквы, цифры, «.», «_», «-»), либо состоит из цифр и начинается с 000"},
    "sip_account.taken": {"en": "SIP login {login}@{domain} is already taken", "ru": "SIP-логин {login}@{domain} уже занят"},
    "sip_account.password": {"en": "SIP password must have at least 8 characters with digits, lower-case and upper-case Latin letters",
                             "ru": "SIP-пароль — не короче 8 символов, с цифрами, строчными и заглавными латинскими буквами"},
    "sip_account.password_chars": {"en": "SIP password may contain only Latin letters, digits and the symbols {symbols}",
                                   "ru": "SIP-пароль может содержать только латинские буквы, цифры и символы {symbols}"},
    "sip_account.forward_self": {"en": "A SIP account cannot forward calls to itself",
                                 "ru": "SIP-учётная запись не может переадресовывать звонки сама на себя"},
    "sip_account.employee_locked": {"en": "This SIP account is a contact method of '{employee}'; remove it there first",
                                    "ru": "Эта SIP-учётная запись — способ приёма звонков сотрудника «{employee}»; сначала удалите её там"},
    "whitelist.entry": {"en": "IP address entry '{value}' is invalid: " + _IP_FORM_EN,
                        "ru": "IP-адрес «{value}» указан неверно: " + _IP_FORM_RU},
    "whitelist.empty": {"en": "Restricted access needs at least one IP address",
                        "ru": "Для ограниченного доступа укажите хотя бы один IP-адрес"},
    # --- numbers
    "number.taken": {"en": "Number {number} is already connected", "ru": "Номер {number} уже подключён"},
    "number.not_in_pool": {"en": "Number {number} is not a free number of the platform pool",
                           "ru": "Номер {number} не является свободным номером платформы"},
    "number.transfer_account": {"en": "Numbers can be moved only between PBXs of the same account",
                                "ru": "Номера можно переносить только между АТС одного лицевого счёта"},
    "number.transfer_same": {"en": "The number is already in this PBX", "ru": "Номер уже в этой АТС"},
    "number.transfer_target": {"en": "The target PBX is not in work", "ru": "АТС назначения не в работе"},
    "number.kind_change": {"en": "The connection type of a number cannot be changed; delete and add it again",
                           "ru": "Тип подключения номера изменить нельзя; удалите номер и подключите заново"},
    "number.warning_sound": {"en": "A warning before the connection must be one of your uploaded audio files, not a built-in melody",
                             "ru": "Предупреждением перед соединением может быть только загруженный вами аудиофайл, а не стандартная мелодия"},
    "number.warnings_off": {"en": "Turn on 'play a warning before the connection' in the call reception settings first",
                            "ru": "Сначала включите «Проигрывать предупреждение перед установлением соединения» в настройках приёма звонков"},
    "gateway.host": {"en": "Server address '{value}' must be a host name or an IPv4 address",
                     "ru": "Адрес сервера «{value}» — имя хоста или IPv4-адрес"},
    "sip_address.taken": {"en": "SIP address {value} is already used", "ru": "SIP-адрес {value} уже используется"},
    # --- trunks
    "trunk.host": {"en": "Trunk address '{value}' must be an IPv4 address", "ru": "Адрес транка «{value}» — IPv4-адрес"},
    "trunk.address_taken": {"en": "Another trunk already uses {host}:{port}", "ru": "Адрес {host}:{port} уже использует другой транк"},
    "trunk.codecs": {"en": "Choose at least one codec from: {allowed}", "ru": "Выберите хотя бы один кодек из: {allowed}"},
    "trunk.number_duplicate": {"en": "Number {number} is listed twice", "ru": "Номер {number} указан дважды"},
    "trunk.number_taken": {"en": "Number {number} is already connected elsewhere", "ru": "Номер {number} уже подключён в другом месте"},
    "trunk.default_number": {"en": "The default outgoing number must be one of this PBX's platform numbers",
                             "ru": "Исходящим номером по умолчанию может быть только номер платформы этой АТС"},
    # --- sound files
    "sound.too_large": {"en": "The file is larger than {max_mb} MB", "ru": "Файл больше {max_mb} МБ"},
    "sound.empty": {"en": "The file is empty", "ru": "Файл пуст"},
    "sound.format": {"en": "The file is neither WAV (PCM) nor MP3 (the content is checked, not the name)",
                     "ru": "Файл не является ни WAV (PCM), ни MP3 (проверяется содержимое, а не имя файла)"},
    "sound.wav_codec": {"en": "The WAV file is not PCM (format {format}); save it as PCM WAV or MP3",
                        "ru": "WAV-файл не в формате PCM (формат {format}); сохраните его как PCM WAV или MP3"},
    "sound.builtin": {"en": "Built-in sound files cannot be changed or deleted",
                      "ru": "Стандартные звуковые файлы нельзя изменять или удалять"},
    # --- conference rooms
    "room.pin": {"en": "PIN must be 4 to 7 digits", "ru": "PIN-код — от 4 до 7 цифр"},
    # --- schemes
    "scheme.final_hangup": {"en": "The last step of a block is 'Hang up' and cannot be removed",
                            "ru": "Последний шаг блока — «Отбой», его нельзя удалить"},
    "scheme.step_after_final": {"en": "Nothing can follow the final step", "ru": "После завершающего шага шагов быть не может"},
    "scheme.menu_depth": {"en": "Menus can be nested at most {max} levels", "ru": "Голосовое меню — не более {max} уровней"},
    "scheme.return_top": {"en": "'Return to main menu' is possible only inside a menu item or a processing rule",
                          "ru": "«Возврат в основное меню» возможен только внутри пункта меню или правила обработки"},
    "scheme.menu_digits": {"en": "Menu item '{value}' must be 1 to 4 digits", "ru": "Пункт меню «{value}» — от 1 до 4 цифр"},
    "scheme.menu_empty": {"en": "A menu needs at least one item", "ru": "В меню должен быть хотя бы один пункт"},
    "scheme.password": {"en": "A menu item password must be 1 to 10 digits", "ru": "Пароль пункта меню — от 1 до 10 цифр"},
    "scheme.rules_level": {"en": "Processing rules are not allowed in a level-{level} menu",
                           "ru": "В меню уровня {level} правила обработки недопустимы"},
    "scheme.disa_lengths": {"en": "Extension length: minimum 1 to 5, maximum 3 to 5, minimum not above maximum",
                            "ru": "Длина внутреннего номера: минимум от 1 до 5, максимум от 3 до 5, минимум не больше максимума"},
    "scheme.disa_target": {"en": "In the extension dialling rule only forwarding to an extension is allowed",
                           "ru": "В правиле донабора внутреннего номера допустима только переадресация на внутренний номер"},
    "scheme.queue_override": {"en": "Queue settings can be overridden only when forwarding to a group",
                              "ru": "Особые настройки очереди возможны только при переадресации на группу"},
    "scheme.last_block_schedule": {"en": "The last block is 'at any other time' and has no schedule",
                                   "ru": "Последний блок — «в любое другое время», у него нет графика"},
    "scheme.too_big": {"en": "The scheme has more than {max} steps", "ru": "В схеме больше {max} шагов"},
}

_register(MESSAGES)

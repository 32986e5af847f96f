"""Every phrase Pult makes a caller hear, in Russian and English, and the file each is kept in.

A phrase is stored as ``<category>/<name>.wav`` under a voice directory laid out like FreeSWITCH's
own sound packages (``<sounds>/<lang>/<country>/<voice>/<category>/<rate>/<name>.wav``). Where one
of FreeSWITCH's standard prompts (``freeswitch-sounds-en-us-callie``, ``-ru-RU-elena``; their texts
are in ``docs/phrase/phrase_{en,ru}.xml`` of the FreeSWITCH source) says the same thing, the phrase
uses that file's name, so an installed package speaks it with its own voice; the others live in
the ``pult`` category, which an operator may record (see deploy/README.md).
"""
from __future__ import annotations

from typing import NamedTuple


class Phrase(NamedTuple):
    file: str  # "<category>/<name>.wav", relative to a voice directory
    en: str
    ru: str


def _p(file: str, en: str, ru: str) -> Phrase:
    return Phrase(file, en, ru)


_CATALOG: dict[str, Phrase] = {
    # --- refusals before the call reaches the tenant's scheme
    "pbx_blocked": _p("pult/pbx_blocked.wav",
                      "Service for this number is suspended. Please call later.",
                      "Обслуживание этого номера приостановлено. Пожалуйста, позвоните позже."),
    "caller_rejected": _p("pult/caller_rejected.wav",
                          "Calls from your number are not accepted.",
                          "Звонки с вашего номера не принимаются."),
    # --- ringing did not end in a conversation
    "no_answer": _p("pult/no_answer.wav",
                    "The subscriber does not answer. Please call later.",
                    "Абонент не отвечает. Пожалуйста, перезвоните позже."),
    "unavailable": _p("pult/unavailable.wav",
                      "The employee is unavailable at the moment.",
                      "Сотрудник сейчас недоступен."),
    "busy_all_lines": _p("pult/busy_all_lines.wav",
                         "All lines are busy. Please call later.",
                         "Все линии заняты. Пожалуйста, перезвоните позже."),
    "all_operators_busy": _p("pult/all_operators_busy.wav",
                             "All operators are busy. Please stay on the line.",
                             "К сожалению, все операторы заняты. Пожалуйста, оставайтесь на линии."),
    "trunk_busy": _p("pult/trunk_busy.wav",
                     "The line is busy. Please call later.",
                     "Линия занята. Пожалуйста, перезвоните позже."),
    "call_failed": _p("pult/call_failed.wav",
                      "The call cannot be connected. Please call later.",
                      "Не удалось соединить. Пожалуйста, перезвоните позже."),
    # --- voice mail and fax
    "voicemail_greeting": _p("pult/voicemail_greeting.wav",
                             "Please leave a message after the tone.",
                             "Пожалуйста, оставьте сообщение после сигнала."),
    "voicemail_saved": _p("ivr/ivr-recording_saved.wav",
                          "Thank you. Your message has been saved.",
                          "Спасибо. Ваше сообщение записано."),
    "fax_receive": _p("pult/fax_receive.wav",
                      "Receiving a fax. Please start sending.",
                      "Приём факса. Пожалуйста, начните передачу."),
    # --- menus
    "menu_invalid": _p("ivr/ivr-that_was_an_invalid_entry.wav",
                       "That was an invalid entry.",
                       "Неправильный выбор."),
    "menu_timeout": _p("pult/menu_timeout.wav",
                       "You have not made a choice.",
                       "Вы не сделали выбор."),
    "enter_extension": _p("pult/enter_extension.wav",
                          "Please enter the extension number.",
                          "Пожалуйста, наберите добавочный номер."),
    "extension_invalid": _p("ivr/ivr-you_have_dialed_an_invalid_extension.wav",
                            "You have dialed an invalid extension.",
                            "Вы набрали несуществующий добавочный номер."),
    "enter_password": _p("pult/enter_password.wav",
                         "Please enter the password.",
                         "Пожалуйста, введите пароль."),
    "password_wrong": _p("pult/password_wrong.wav",
                         "The password is wrong.",
                         "Неверный пароль."),
    # --- conference rooms (mod_conference plays these itself: the room profile's pin-sound and
    # bad-pin-sound, fs_config.tenant_providers.room_profile)
    "conference_pin": _p("conference/conf-pin.wav",
                         "Please enter the conference PIN.",
                         "Пожалуйста, введите PIN-код конференции."),
    "conference_bad_pin": _p("conference/conf-bad-pin.wav",
                             "That PIN is incorrect.",
                             "Неверный PIN-код."),
    # --- outbound calls
    "direction_forbidden": _p("pult/direction_forbidden.wav",
                              "Calls to this direction are not allowed.",
                              "Звонки в этом направлении запрещены."),
    "demo_international": _p("pult/demo_international.wav",
                             "A demo PBX cannot make international calls.",
                             "С демонстрационной АТС нельзя звонить за границу."),
    "no_outgoing_number": _p("pult/no_outgoing_number.wav",
                             "Your number is not allowed to make external calls.",
                             "С вашего номера нельзя звонить на внешние номера."),
    "number_invalid": _p("ivr/ivr-call_cannot_be_completed_as_dialed.wav",
                         "Your call cannot be completed as dialed. Please check the number and dial again.",
                         "Номер набран неправильно. Проверьте номер и наберите его снова."),
    "number_unknown": _p("pult/number_unknown.wav",
                         "The number you have dialed does not exist.",
                         "Набранный номер не существует."),
    # --- connecting
    "please_hold": _p("ivr/ivr-hold_connect_call.wav",
                      "Please hold while I connect your call.",
                      "Пожалуйста, оставайтесь на линии, идёт соединение."),
    "transferring": _p("ivr/ivr-call_being_transferred.wav",
                       "Your call is being transferred.",
                       "Ваш звонок переводится."),
    "caller_announce": _p("pult/caller_announce.wav",
                          "Call from number",
                          "Звонок с номера"),
    "goodbye": _p("voicemail/vm-goodbye.wav",
                  "Goodbye.",
                  "До свидания."),
}

#: phrase id → {"en": text, "ru": text}
PHRASES: dict[str, dict[str, str]] = {pid: {"en": p.en, "ru": p.ru} for pid, p in _CATALOG.items()}

#: phrase id → "<category>/<name>.wav" inside a voice directory
PHRASE_FILES: dict[str, str] = {pid: p.file for pid, p in _CATALOG.items()}

#: the built-in "prompt" sound files (storage.repos.telephony.BUILTIN_SOUNDS, the defaults of PBX
#: settings such as ``call_handling.unavailable_message``) are telephone tones standing in for
#: speech; a PBX whose setting is still the built-in hears this phrase, in its language, instead
BUILTIN_PHRASES: dict[str, str] = {
    "builtin:unavailable": "unavailable",
    "builtin:enter_password": "enter_password",
    "builtin:voicemail_warning": "voicemail_greeting",
    "builtin:all_busy": "all_operators_busy",
}

#: the beep before voice mail records: a tone, not a file (FreeSWITCH's tone_stream, TGML)
BEEP = "tone_stream://%(500,0,1000)"

"""Message codes of the telephony configuration services, in English and Russian.

Same shape as :data:`esl_control.routing.errors.MESSAGES` (``code -> English template``, the
Russian in ``pult/locale/ru_RU.csv``)
and merged into it at import through the rules package's ``_register`` hook, so a
:class:`~esl_control.routing.errors.RuleError` raised here renders in both languages exactly like
one raised by a rule, and ``RuleError.to_dict(lang)`` gives the API's field error.
"""
from __future__ import annotations

from esl_control.routing.errors import _register
from pult.i18n import N_, translate

#: What each kind of object is called in a message (English ids; the Russian in the catalogue).
TYPE_NAMES: dict[str, str] = {
    "day_group": N_("day group"),
    "schedule": N_("schedule"),
    "employee": N_("employee"),
    "group": N_("group"),
    "room": N_("conference room"),
    "sip_domain": N_("SIP domain"),
    "sip_account": N_("SIP account"),
    "number": N_("number"),
    "scheme": N_("scheme"),
    "sound": N_("sound file"),
    "trunk": N_("SIP trunk"),
    "client_rule": N_("client-number rule"),
    "list_entry": N_("list entry"),
    "settings": N_("PBX settings"),
    "ldap_settings": N_("LDAP settings"),
    "ldap_incident": N_("LDAP sync incident"),
    "trunk_mask": N_("routing rule"),
    "webhook": N_("webhook"),
    "webhook_delivery": N_("webhook delivery"),
}


def type_name(type: str, lang: str = "en") -> str:
    """What an object of ``type`` is called, in ``lang`` (the type's code when it has no name)."""
    message = TYPE_NAMES.get(type)
    return translate(lang, message) if message else type

MESSAGES: dict[str, str] = {
    'value.required': N_('This field is required'),
    'value.bool': N_('Expected yes or no'),
    'value.range': N_('Must be a whole number from {min} to {max}'),
    'value.choice': N_("'{value}' is not allowed; choose one of: {allowed}"),
    'value.too_long': N_('Text is longer than {max} characters'),
    'value.list': N_('Expected a list'),
    'value.object': N_('Expected an object with fields'),
    'value.email': N_("E-mail '{value}' is invalid"),
    'name.required': N_('Enter a name'),
    'name.taken': N_("The name '{name}' is already used"),
    'ref.unknown': N_('The selected object does not exist in this PBX or was deleted ({id})'),
    'ref.in_use': N_("'{name}' is used by: {references}. It cannot be deleted"),
    'not_found': N_('Not found'),
    'prompt.unknown': N_("There is no phrase '{phrase}' that callers hear, so it cannot be replaced"),
    'confirm.required': N_("Deleting '{name}' also deletes its {count} SIP account(s); confirm to continue"),
    'extension.format': N_('Extension must be {min} to {max} digits'),
    'extension.taken': N_("Extension {extension} is already used by '{owner}'"),
    'extension.unknown': N_('No employee, group or conference room has extension {extension}'),
    'extension.in_use': N_("Extension {extension} of '{name}' is a call target of: {references}. Change them first"),
    'extension.none_free': N_('There is no free extension from {start}'),
    'contact.duplicate': N_('This contact method is already in the list: {value}'),
    'outgoing.unknown': N_('Number {number} is not a line of this PBX that can be used for outgoing calls'),
    'contact.unknown': N_('The employee has no contact method {id}'),
    'group.member_duplicate': N_('{value} is already a member of the group'),
    'group.supervisor_operator': N_('A supervisor is an operator too: tick «Operator» as well'),
    'group.cc_flags_external': N_('Only employees can be operators or supervisors, not external numbers'),
    'dtmf.code': N_("DTMF code '{value}' must be 1 to 4 characters of 0-9, * and #"),
    'dtmf.duplicate': N_("DTMF code '{value}' is assigned to two features"),
    'sip_domain.name': N_("SIP domain name must start with a Latin letter, have at least 4 characters and contain only Latin letters, digits and '-'"),
    'sip_domain.taken': N_('SIP domain {name} is already taken'),
    'sip_domain.limit': N_('A PBX can have at most {max} SIP domains; delete one first'),
    'sip_domain.default': N_('The default SIP domain {name} cannot be deleted'),
    'sip_domain.default_rename': N_('The default SIP domain {name} cannot be renamed'),
    'sip_account.login': N_("SIP login must start with a Latin letter and have 4 to 64 characters (Latin letters, digits, '.', '_', '-'), or be digits starting with 000"),
    'sip_account.taken': N_('SIP login {login}@{domain} is already taken'),
    'sip_account.password': N_('SIP password must have at least 8 characters with digits, lower-case and upper-case Latin letters'),
    'sip_account.password_chars': N_('SIP password may contain only Latin letters, digits and the symbols {symbols}'),
    'sip_account.forward_self': N_('A SIP account cannot forward calls to itself'),
    'sip_account.employee_locked': N_("This SIP account is a contact method of '{employee}'; remove it there first"),
    'whitelist.entry': N_("IP address entry '{value}' is invalid: expected e.g. 192.168.1.20, 192.168.1.16-32 or 192.168.*"),
    'whitelist.empty': N_('Restricted access needs at least one IP address'),
    'number.taken': N_('Number {number} is already connected'),
    'number.not_in_pool': N_('Number {number} is not a free number of the platform pool'),
    'number.transfer_account': N_('Numbers can be moved only between PBXs of the same account'),
    'number.transfer_same': N_('The number is already in this PBX'),
    'number.transfer_target': N_('The target PBX is not in work'),
    'number.kind_change': N_('The connection type of a number cannot be changed; delete and add it again'),
    'number.warning_sound': N_('A warning before the connection must be one of your uploaded audio files, not a built-in melody'),
    'number.warnings_off': N_("Turn on 'play a warning before the connection' in the call reception settings first"),
    'gateway.host': N_("Server address '{value}' must be a host name or an IPv4 address"),
    'sip_address.taken': N_('SIP address {value} is already used'),
    'trunk.host': N_("Trunk address '{value}' must be an IPv4 address"),
    'trunk.address_taken': N_('The address {host}:{port} is taken; use another one'),
    'trunk.address_own': N_("Trunk '{trunk}' of this PBX already uses {host}:{port}"),
    'trunk.codecs': N_('Choose at least one codec from: {allowed}'),
    'trunk.number_duplicate': N_('Number {number} is listed twice'),
    'trunk.number_unknown': N_('Number {number} is not a number of the trunk {trunk}'),
    'trunk.number_receive': N_('Number {number} of the trunk {trunk} does not receive calls, so it takes no scheme'),
    'trunk.number_taken': N_('Number {number} is already connected elsewhere'),
    'trunk.default_number': N_("The default outgoing number must be one of this PBX's platform numbers"),
    'sound.too_large': N_('The file is larger than {max_mb} MB'),
    'sound.empty': N_('The file is empty'),
    'sound.format': N_('The file is neither WAV (PCM) nor MP3 (the content is checked, not the name)'),
    'sound.wav_codec': N_('The WAV file is not PCM (format {format}); save it as PCM WAV or MP3'),
    'sound.form': N_('The upload form is damaged; choose the file and send it again'),
    'sound.wav_header': N_('The WAV header does not match the file (sample rate, channels or sizes); save it again as PCM WAV or MP3'),
    'sound.builtin': N_('Built-in sound files cannot be changed or deleted'),
    'room.pin': N_('PIN must be 4 to 7 digits'),
    'scheme.final_hangup': N_("The last step of a block is 'Hang up' and cannot be removed"),
    'scheme.step_after_final': N_('Nothing can follow the final step'),
    'scheme.menu_depth': N_('Menus can be nested at most {max} levels'),
    'scheme.return_top': N_("'Return to main menu' is possible only inside a menu item or a processing rule"),
    'scheme.menu_digits': N_("Menu item '{value}' must be 1 to 4 digits"),
    'scheme.menu_empty': N_('A menu needs at least one item'),
    'scheme.password': N_('A menu item password must be 1 to 10 digits'),
    'scheme.rules_level': N_('Processing rules are not allowed in a level-{level} menu'),
    'scheme.disa_lengths': N_('Extension length: minimum 1 to 5, maximum 3 to 5, minimum not above maximum'),
    'scheme.disa_target': N_('In the extension dialling rule only forwarding to an extension is allowed'),
    'scheme.queue_override': N_('Queue settings can be overridden only when forwarding to a group'),
    'scheme.last_block_schedule': N_("The last block is 'at any other time' and has no schedule"),
    'scheme.too_big': N_('The scheme has more than {max} steps'),
}

_register(MESSAGES)

"""Number formats: phone numbers, extension suffixes, platform short SIP numbers, SIP URIs, caller ids.

Sources:

- PRODUCT.md §4.6: numbers are stored in international form without ``+``, 7-15 digits, with an
  optional extension suffix in brackets ``73432628900(252)`` (dialled as DTMF after answer);
  platform short SIP numbers follow a platform-configured pattern (seed 000: five digits
  ``500XX``); Cyrillic, spaces, ``+``, ``-``, ``(``, ``)`` elsewhere are refused with a message that
  shows the expected form; the UI may strip spaces and dashes before sending.
- Seed 000 §3.3 «Внешние номера»: Ekaterinburg ``7343XXXXXXX`` and mobile ``7912XXXXXXX`` are eleven
  digits; SIP number ``50000``; a PBX behind the number ``73432628900(252)``; long distance
  ``73952xxxxxx``; international ``8610xxxxxxxx`` (country + city + subscriber).
- Inventory A §4.4.4 (SIP addresses ``user@domain``), inventory B §1.3 (the wizard's example
  ``7 925 123-45-67``: the UI strips the spaces and the dash, see :func:`strip_separators`).

Decisions recorded here (PRODUCT.md is silent):

- A number starting with 7 (Russia, Kazakhstan) must have exactly 11 digits (seed 000 §3.3).
- An 11-digit number starting with 8 that is not a valid international number but is a valid
  Russian national one (``89121234567``) is refused with the suggestion ``79121234567``; one that
  is also a valid international number (``84951234567`` is a valid Vietnamese number) is kept as
  typed, since refusing a real foreign number would be worse. ``phonenumbers`` decides validity.
- The extension suffix is 1-10 digits.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers

from esl_control.routing.errors import RuleError

MIN_DIGITS = 7
MAX_DIGITS = 15
MAX_EXTENSION_DIGITS = 10
DEFAULT_SHORT_PATTERN = "500XX"
"""Seed 000 §3.3: platform SIP numbers are five digits 500XX. The platform setting overrides it."""

_SEPARATORS = re.compile(r"[\s\u00a0\u2007\u202f\-\u2010\u2011\u2012\u2013\u2014\u2212]")
_DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212"
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_PHONE = re.compile(r"(\d+)(?:\((\d*)\))?", re.ASCII)
_SIP_USER = re.compile(r"[A-Za-z0-9._\-+!~*']+", re.ASCII)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?", re.ASCII)
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})", re.ASCII)
_ANONYMOUS = frozenset({"", "anonymous", "unknown", "private", "restricted", "unavailable", "withheld",
                        "_undef_", "0", "0000000000", "null", "none"})


@dataclass(frozen=True)
class PhoneNumber:
    """A phone number in international form without ``+`` and its optional extension suffix."""

    digits: str
    extension: str | None = None

    def __str__(self) -> str:
        return f"{self.digits}({self.extension})" if self.extension else self.digits

    @property
    def is_russian(self) -> bool:
        """Country code 7 outside Kazakhstan's 76/77 ranges."""
        return len(self.digits) == 11 and self.digits[0] == "7" and self.digits[1] not in "67"


@dataclass(frozen=True)
class SipUri:
    """A SIP address ``user@host[:port]``; the host is stored lower-case."""

    user: str
    host: str
    port: int | None = None

    def __str__(self) -> str:
        return f"{self.user}@{self.host}" + (f":{self.port}" if self.port else "")


@dataclass(frozen=True)
class Destination:
    """Where a contact method, group member or external target rings.

    ``kind`` is ``"phone"`` (international number, maybe with extension), ``"short"`` (platform short
    SIP number) or ``"sip"`` (a SIP URI). ``value`` is the canonical text to store.
    """

    kind: str
    value: str
    phone: PhoneNumber | None = None
    sip: SipUri | None = None


@dataclass(frozen=True)
class CallerId:
    """A caller as seen by the black/white lists and the client-number rules.

    ``number``: digits in international form when the caller id is a phone number (a SIP URI whose
    user part is a phone number counts too); ``sip``: ``user@domain`` when the caller came as a SIP
    URI; both ``None`` (``unknown`` true) when the number is hidden or absent.
    """

    number: str | None = None
    sip: str | None = None

    @property
    def unknown(self) -> bool:
        return self.number is None and self.sip is None


def strip_separators(raw: str) -> str:
    """What the UI may remove before sending: spaces (any Unicode space) and dashes.

    ``"7 925 123-45-67"`` -> ``"79251234567"``. Nothing else is touched: a ``+``, brackets or letters
    still reach :func:`parse_phone` and are refused there with a message showing the expected form.
    """
    return _SEPARATORS.sub("", raw or "")


def _first_bad(value: str, allowed: str) -> str:
    for ch in value:
        if ch not in allowed:
            return ch
    return ""


def parse_phone(value: str, *, allow_extension: bool = True) -> PhoneNumber:
    """Validate a phone number as stored: digits in international form, optional ``(ext)`` suffix.

    Raises :class:`RuleError` with a ``number.*`` code; each message shows the expected form. The
    value must already be clean: spaces and dashes are refused here (the UI strips them, see
    :func:`strip_separators`); surrounding whitespace only is tolerated.
    """
    text = (value or "").strip()
    if not text:
        raise RuleError("number.empty")
    text = unicodedata.normalize("NFKC", text) if not text.isascii() else text
    m = _CYRILLIC.search(text)
    if m:
        raise RuleError("number.cyrillic", part=m.group(0))
    if "+" in text:
        raise RuleError("number.plus")
    if any(ch.isspace() for ch in text):
        raise RuleError("number.space")
    if any(ch in _DASHES for ch in text):
        raise RuleError("number.dash")
    bad = _first_bad(text, "0123456789()")
    if bad:
        raise RuleError("number.chars", part=bad)
    m = _PHONE.fullmatch(text)
    if not m:
        raise RuleError("number.brackets")
    digits, ext = m.group(1), m.group(2)
    if ext is not None:
        if not allow_extension:
            raise RuleError("number.extension_not_allowed")
        if not 1 <= len(ext) <= MAX_EXTENSION_DIGITS:
            raise RuleError("number.extension", max=MAX_EXTENSION_DIGITS)
    _check_international(digits)
    return PhoneNumber(digits, ext or None)


def _check_international(digits: str) -> None:
    if len(digits) == 11 and digits[0] == "8":
        suggestion = _russian_national(digits)
        if suggestion:
            raise RuleError("number.national_prefix", suggestion=suggestion)
    if digits[0] == "7" and len(digits) != 11:
        raise RuleError("number.ru_length", length=len(digits))
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        raise RuleError("number.length", length=len(digits))


@lru_cache(maxsize=1024)
def _russian_national(digits: str) -> str | None:
    """``7…`` when ``8…`` (11 digits) is a valid Russian national number and not a valid foreign one."""
    try:
        foreign_ok = phonenumbers.is_valid_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        foreign_ok = False
    if foreign_ok:
        return None
    try:
        national = phonenumbers.parse(digits, "RU")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(national) and national.country_code == 7:
        return "7" + digits[1:]
    return None


def normalize_phone(value: str, *, allow_extension: bool = True) -> str:
    """Canonical stored text of a phone number (idempotent): ``parse_phone(...)`` as a string."""
    return str(parse_phone(value, allow_extension=allow_extension))


@lru_cache(maxsize=64)
def _short_regex(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(r"\d" if ch in "Xx" else ch for ch in pattern), re.ASCII)


def validate_short_pattern(pattern: str) -> str:
    """Check a platform short-number pattern: digits and ``X`` (any digit), 1-15 characters."""
    p = (pattern or "").strip()
    if not p or len(p) > MAX_DIGITS or _first_bad(p, "0123456789Xx"):
        raise RuleError("number.short_pattern", pattern=pattern)
    return p.upper()


def is_short_number(value: str, pattern: str | None = DEFAULT_SHORT_PATTERN) -> bool:
    """Is ``value`` a platform short SIP number by ``pattern`` (e.g. ``500XX`` matches ``50000``)?"""
    if not pattern or not value:
        return False
    return _short_regex(validate_short_pattern(pattern)).fullmatch(value.strip()) is not None


def parse_sip_uri(value: str) -> SipUri:
    """Validate ``[sip:|sips:]user@host[:port]``; the host may be a domain name or an IPv4 address.

    Examples (inventory A §4.4.4): ``ivanov@mangosip.ru``, ``ivanov@sales.mycompany.ru``. Parameters
    (``;transport=...``) and display names are not accepted: a stored address is just the address.
    """
    text = (value or "").strip()
    low = text.lower()
    for scheme in ("sip:", "sips:"):
        if low.startswith(scheme):
            text = text[len(scheme):]
            break
    if text.count("@") != 1:
        raise RuleError("sip.invalid", value=value)
    user, host = text.split("@")
    if not user or not _SIP_USER.fullmatch(user):
        raise RuleError("sip.user", part=user)
    port = None
    if ":" in host:
        host, _, port_text = host.partition(":")
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise RuleError("sip.port", part=port_text)
        port = int(port_text)
    host = host.lower().rstrip(".")
    if not _valid_host(host):
        raise RuleError("sip.domain", part=host)
    return SipUri(user, host, port)


def _valid_host(host: str) -> bool:
    if not host or len(host) > 253 or not host.isascii():
        return False
    m = _IPV4.fullmatch(host)
    if m:
        return all(int(o) <= 255 for o in m.groups())
    labels = host.split(".")
    if len(labels) < 2 or labels[-1].isdigit():
        return False
    return all(_LABEL.fullmatch(label) for label in labels)


def parse_destination(value: str, *, short_pattern: str | None = DEFAULT_SHORT_PATTERN,
                      allow_extension: bool = True) -> Destination:
    """Classify and validate a contact method / external number / group member target.

    A value with ``@`` or a ``sip:`` scheme is a SIP URI; a value matching the platform short
    pattern is a short SIP number; anything else must be a phone number (:func:`parse_phone`
    errors apply, so the user sees why it is not a valid number).
    """
    text = (value or "").strip()
    if "@" in text or text.lower().startswith(("sip:", "sips:")):
        sip = parse_sip_uri(text)
        return Destination("sip", str(sip), sip=sip)
    if short_pattern and is_short_number(text, short_pattern):
        return Destination("short", text)
    phone = parse_phone(text, allow_extension=allow_extension)
    return Destination("phone", str(phone), phone=phone)


def normalize_caller_id(raw: str | None) -> CallerId:
    """Turn a caller id as FreeSWITCH reports it into a :class:`CallerId`.

    Accepted forms: ``+79121234567``, ``79121234567``, Russian national ``89121234567`` and
    ten-digit ``9121234567`` (both become ``79121234567``), short numbers (``50000``), SIP URIs
    (``sip:ivanov@company.ru``, ``ivanov@company.ru``; a phone-number user part also fills
    ``number``). Hidden or absent ids (``anonymous``, ``unknown``, empty, zeros) give an unknown
    caller, as do ids that are neither numbers nor SIP addresses.
    """
    text = (raw or "").strip().strip("<>").strip()
    low = text.lower()
    for scheme in ("sip:", "sips:", "tel:"):
        if low.startswith(scheme):
            text = text[len(scheme):]
            low = text.lower()
            break
    text = text.split(";", 1)[0]
    if "@" in text:
        user, _, host = text.partition("@")
        host = host.split(":", 1)[0].lower()
        if user.lower() in _ANONYMOUS or host.endswith(".invalid"):
            return CallerId()
        number = _caller_digits(user)
        try:
            sip = str(parse_sip_uri(f"{user}@{host}"))
        except RuleError:
            sip = None
        return CallerId(number=number, sip=sip)
    if low in _ANONYMOUS:
        return CallerId()
    return CallerId(number=_caller_digits(text))


def _caller_digits(text: str) -> str | None:
    digits = strip_separators(text)
    if digits.startswith("+"):
        digits = digits[1:]
    if not digits.isascii() or not digits.isdigit() or set(digits) == {"0"} or len(digits) > MAX_DIGITS:
        return None
    if len(digits) == 11 and digits[0] == "8" and _russian_national(digits):
        return "7" + digits[1:]
    if len(digits) == 10 and digits[0] in "3489":
        return "7" + digits
    return digits


@dataclass(frozen=True)
class NumberInfo:
    """What ``phonenumbers`` knows about a number: ISO region (``RU``, ``KZ``, ``CN``...) and type."""

    region: str | None
    type: str
    valid: bool


_TYPES = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "fixed",
    phonenumbers.PhoneNumberType.MOBILE: "mobile",
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile",
    phonenumbers.PhoneNumberType.TOLL_FREE: "toll_free",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared_cost",
    phonenumbers.PhoneNumberType.VOIP: "voip",
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER: "personal",
    phonenumbers.PhoneNumberType.UAN: "uan",
}


@lru_cache(maxsize=4096)
def number_info(digits: str) -> NumberInfo:
    """Region and type of an international number (for display: "mobile, Russia")."""
    try:
        parsed = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return NumberInfo(None, "unknown", False)
    return NumberInfo(phonenumbers.region_code_for_number(parsed),
                      _TYPES.get(phonenumbers.number_type(parsed), "unknown"),
                      phonenumbers.is_valid_number(parsed))

"""Field types of the API's request models, built from the rules' own constants.

The telephony request models document bodies that the services of :mod:`esl_control.model`
validate; these helpers let a model say exactly what those rules accept — the same choices,
ranges and patterns, imported from the model packages rather than written again — so the OpenAPI
document does not promise what the server refuses (issue 9 item 5: schemathesis'
``positive_data_acceptance`` check holds the two together).

- :func:`opt`: a field that may be left out but is never ``null`` (the rules refuse ``null``
  where they expect a value: "expected yes or no");
- :func:`choice`: one of the rule's allowed values (``enum``);
- :data:`Extension`, :data:`ObjectIdStr`, :data:`Name`, …: the common shapes.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints
from pydantic.json_schema import SkipJsonSchema

from esl_control.model.common import (EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS, ID_MAX, NAME_MAX,
                                      TEXT_MAX)
from esl_control.routing.directions import ALL_DIRECTIONS, AREA_CODE_PATTERN, EMERGENCY_NUMBERS
from esl_control.routing.numbers import MAX_DIGITS, MIN_DIGITS


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def opt(description: str | None = None) -> Any:
    """A field that may be omitted (the server then keeps or defaults it) but, when sent, must be
    a value: the document shows no ``default: null`` for it. Use with ``T | SkipJsonSchema[None]``
    (:data:`Omit`) so pydantic accepts the missing value."""
    return Field(None, description=description, json_schema_extra=_no_default)


def Int(lo: int | None = None, hi: int | None = None) -> Any:  # noqa: N802 (a type)
    """A whole number from ``lo`` to ``hi`` (the bounds of the rule's ``clean_int``)."""
    return Annotated[int, Field(ge=lo, le=hi)]


def choice(values) -> Any:
    """``Literal`` of the rule's allowed values (an ``enum`` in the document)."""
    return Literal[tuple(values)]  # type: ignore[valid-type]


#: the absent value of an :func:`opt` field, left out of the document
Omit = SkipJsonSchema[None]

#: an object id (``str(ObjectId())``), as every telephony object and reference has
OBJECT_ID_PATTERN = "^[0-9a-f]{24}$"
ObjectIdStr = Annotated[str, StringConstraints(pattern=OBJECT_ID_PATTERN)]
#: at least one letter or digit (a subset of "not blank" that no notion of white space can dispute)
_VISIBLE = "[0-9A-Za-zА-Яа-яЁё]"
VISIBLE_PATTERN = _VISIBLE
#: a name: at least one visible character, at most NAME_MAX after spaces are collapsed
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX, pattern=_VISIBLE)]
#: a free text of the telephony forms (comments, descriptions)
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
Text100 = Annotated[str, StringConstraints(max_length=100)]
#: an extension: 1-5 digits (PRODUCT.md §3); emergency numbers (112, 01 …) are refused too
EXTENSION_PATTERN = (rf"^(?!({'|'.join(sorted(EMERGENCY_NUMBERS))})$)"
                     rf"[0-9]{{{EXTENSION_MIN_DIGITS},{EXTENSION_MAX_DIGITS}}}$")
Extension = Annotated[str, StringConstraints(pattern=EXTENSION_PATTERN)]

#: a reference by id that the service looks up (a sound file, a schedule …): any non-blank text of
#: at most ID_MAX characters; one that names nothing in the PBX is a 409 conflict, not bad input
RefId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=_VISIBLE)]
#: a sound file the PBX uploaded (not a built-in melody, ``builtin:…``)
UploadedSoundId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX,
                                                   pattern=rf"^(?!builtin:)[\s\S]*{_VISIBLE}")]
#: an e-mail address: the ASCII addresses people use (the rules, EMAIL_PATTERN, take a few more)
_ADDRESS = r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}"
#: e-mail addresses, one or several separated by ``;`` or ``,`` (at most 254 characters in all)
EMAILS_PATTERN = rf"^({_ADDRESS}([;,] ?{_ADDRESS})*)?$"
Emails = Annotated[str, StringConstraints(max_length=254, pattern=EMAILS_PATTERN)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=rf"^{_ADDRESS}$")]
#: a phone number in international form without + (MIN_DIGITS to MAX_DIGITS digits; a Russian one,
#: starting with 7, has 11; an 11-digit number starting with 8 is refused as a national one)
PHONE_PATTERN = (rf"^(7[0-9]{{10}}|[1-69][0-9]{{{MIN_DIGITS - 1},{MAX_DIGITS - 1}}}"
                 rf"|8[0-9]{{{MIN_DIGITS - 1},9}}|8[0-9]{{11,{MAX_DIGITS - 1}}})$")
Phone = Annotated[str, StringConstraints(pattern=PHONE_PATTERN)]
#: an outbound call direction a PBX or employee may allow
Direction = choice(sorted(d.value for d in ALL_DIRECTIONS))
#: a home area code (local calls): 3-5 digits without the country code
AreaCode = Annotated[str, StringConstraints(pattern=f"^{AREA_CODE_PATTERN}$")]
#: a SIP address user@domain (a host name with a letter-only top label; parse_sip_uri takes more)
_LABEL = "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?"
_HOST_NAME = rf"({_LABEL}\.)+[a-z]{{2,10}}"
HOST_NAME = _HOST_NAME
SIP_URI_PATTERN = rf"^[A-Za-z0-9._+!~*'-]{{1,32}}@{_HOST_NAME}$"
SipUri = Annotated[str, StringConstraints(pattern=SIP_URI_PATTERN)]
#: an http(s) address on a host name (no IP literal, not localhost, no user or password), an optional
#: port, path and query
HTTP_URL_PATTERN = (rf"^https?://(?![^/?:]*localhost([:/?]|$)){_HOST_NAME}(:[1-9][0-9]{{0,3}})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]{{0,200}})?"
                    rf"(\?[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{{0,200}})?$")
#: an IPv4 address, dotted decimal
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
OCTET = _OCTET
IPV4_PATTERN = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
IPv4 = Annotated[str, StringConstraints(pattern=IPV4_PATTERN)]
#: a host name (letter-only top label) or an IPv4 address
HOST_PATTERN = rf"^({_HOST_NAME}|{_OCTET}(\.{_OCTET}){{3}})$"


def must_be_true(description: str) -> Any:
    """A consent box the server insists on («I agree …»): documented as required and ``true``
    (the model still reads a missing one as false, to answer with the box's own message)."""
    def schema(s: dict[str, Any]) -> None:
        s.pop("default", None)
        s["const"] = True
    return Field(False, description=description, json_schema_extra=schema)


def requires(*names: str):
    """``json_schema_extra`` of a model: ``names`` are required in the document (see must_be_true)."""
    def extra(s: dict[str, Any]) -> None:
        s["required"] = list(dict.fromkeys([*s.get("required", ()), *names]))
    return extra

#: an e-mail address the mailer (jobs.mail.parse_address) sends to: dot-separated atoms before @,
#: a domain of labels that neither start nor end with a dash and a letter-only top label
MAIL_ADDRESS = (r"[A-Za-z0-9_+-]{1,20}(\.[A-Za-z0-9_+-]{1,20}){0,2}"
                r"@([A-Za-z0-9]([A-Za-z0-9-]{0,20}[A-Za-z0-9])?\.){1,3}[A-Za-z]{2,10}")
#: a Russian mobile number, the only kind SMS go to (jobs.sms.normalize_phone)
SMS_PHONE = r"\+79[0-9]{9}"


def listed(item: str, most: int, least: int = 0) -> dict[str, Any]:
    """The document of a field taking up to ``most`` values matching ``item``: a text of them
    separated by ", " (empty: none) or a list of them; ``least=1``: at least one (not empty)."""
    text = rf"{item}(, ?{item}){{0,{most - 1}}}"
    return {"anyOf": [{"type": "string", "pattern": rf"^{text}$" if least else rf"^({text})?$"},
                      {"type": "array", **({"minItems": least} if least else {}), "maxItems": most,
                       "items": {"type": "string", "pattern": f"^{item}$"}}]}


#: what the recovery form takes: an e-mail, or a phone (+ and 10-15 digits, or a Russian 8/7 +
#: 10 digits, or 9 + 9 digits)
RECOVERY_PHONE_PATTERN = r"\+[0-9]{10,15}|[78][0-9]{10}|9[0-9]{9}"
IDENTIFIER_PATTERN = rf"^({_ADDRESS}|{RECOVERY_PHONE_PATTERN})$"
ADDRESS_PATTERN = rf"^{_ADDRESS}$"

#: an address entry of an allow-list (esl_control.routing.acl): a whole IPv4 address, the first
#: one to three parts and ``*``, or ``*`` alone (ranges such as 192.168.1.16-32 are taken too)
WHITELIST_ENTRY_PATTERN = rf"^(\*|{_OCTET}(\.{_OCTET}){{3}}|({_OCTET}\.){{1,3}}\*)$"

#: where a call can be forwarded outside the PBX: a phone number or a SIP address
Destination = Annotated[str, StringConstraints(pattern=f"({PHONE_PATTERN})|({SIP_URI_PATTERN})")]

#: a calendar day as the API documents it: ISO, years 2000-2099, days 1-28 of a month so every
#: value is a real date (the server also takes dd.mm.yyyy and every other real date)
DATE_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$"

#: the OpenAPI extension of an object schema listing pairs of its fields ``[a, b]`` where a < b
#: (e.g. an interval's start and end): a rule JSON Schema cannot state; the property-based run reads it
ORDER_EXTENSION = "x-pult-order"
#: ``{list field: [item fields]}`` on an object schema: the items of the list do not repeat a value
#: of any of those fields (a group's members)
UNIQUE_EXTENSION = "x-pult-unique"
#: ``{object field: {key: default}}`` on an object schema: the values of that object, with the
#: defaults of the keys left out, are all different (a group's tone commands)
DISTINCT_EXTENSION = "x-pult-distinct"

#: ``[fields]`` on an object schema: each field is an INN whose check digits must match (the
#: Federal Tax Service algorithm, jobs.billing.requisites.inn_ok), a rule no pattern can state
INN_EXTENSION = "x-pult-inn"


def documented(**schema: Any) -> Any:
    """``json_schema_extra`` adding ``schema`` (a pattern, a format …) to a field's document only:
    the rule's own check stays the judge (it may take more, e.g. spaces between digit groups, and
    answers with its own message). A ``default: null`` is left out (see :func:`opt`)."""
    def extra(s: dict[str, Any]) -> None:
        if s.get("default", 0) is None:
            s.pop("default")
        s.update(schema)
    return extra

def stated(schema: dict[str, Any]) -> Any:
    """``json_schema_extra`` making a field's whole document ``schema`` (a union, a tree or a map the
    model's type cannot say: the rule's own check stays the judge)."""
    def extra(s: dict[str, Any]) -> None:
        s.clear()
        s.update(schema)
    return extra


#: ``[fields]`` on an object schema: each field is an address Pult connects to (a webhook target);
#: the property-based run puts its own local receiver there, as it must not connect to the internet
LOCAL_URL_EXTENSION = "x-pult-local-url"


def digits(*lengths: int) -> Any:
    """``json_schema_extra`` of a requisite of ``lengths`` digits, or empty (clears the field)."""
    return documented(pattern="^(" + "|".join(f"[0-9]{{{n}}}" for n in lengths) + ")?$")


#: text with at least one character that is not white space (what a stripped ``min_length=1`` takes)
NOT_BLANK = documented(pattern=r"\S")
#: ``[fields]`` on an object schema: each field is a host Pult connects to (an LDAP server); the
#: property-based run puts its own closed local address there (with a short timeout)
LOCAL_HOST_EXTENSION = "x-pult-local-host"

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

from esl_control.model.common import (EMAIL_PATTERN, EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS, ID_MAX, NAME_MAX,
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
#: a name: at least one visible character, at most NAME_MAX after spaces are collapsed
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX, pattern=r"\S")]
#: a free text of the telephony forms (comments, descriptions)
Text = Annotated[str, StringConstraints(max_length=TEXT_MAX)]
Text100 = Annotated[str, StringConstraints(max_length=100)]
#: an extension: 1-5 digits (PRODUCT.md §3); emergency numbers (112, 01 …) are refused too
EXTENSION_PATTERN = (rf"^(?!({'|'.join(sorted(EMERGENCY_NUMBERS))})$)"
                     rf"[0-9]{{{EXTENSION_MIN_DIGITS},{EXTENSION_MAX_DIGITS}}}$")
Extension = Annotated[str, StringConstraints(pattern=EXTENSION_PATTERN)]

#: a reference by id that the service looks up (a sound file, a schedule …): any non-blank text of
#: at most ID_MAX characters; one that names nothing in the PBX is a 409 conflict, not bad input
RefId = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=r"\S")]
#: e-mail addresses, one or several separated by ``;`` or ``,`` (at most 254 characters in all)
EMAILS_PATTERN = rf"^({EMAIL_PATTERN}([;,] ?{EMAIL_PATTERN})*)?$"
Emails = Annotated[str, StringConstraints(max_length=254, pattern=EMAILS_PATTERN)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=rf"^{EMAIL_PATTERN}$")]
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
SIP_URI_PATTERN = rf"^[A-Za-z0-9._+!~*'-]{{1,32}}@{_HOST_NAME}$"
SipUri = Annotated[str, StringConstraints(pattern=SIP_URI_PATTERN)]
#: an IPv4 address, dotted decimal
_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4_PATTERN = rf"^{_OCTET}(\.{_OCTET}){{3}}$"
IPv4 = Annotated[str, StringConstraints(pattern=IPV4_PATTERN)]
#: a host name (letter-only top label) or an IPv4 address
HOST_PATTERN = rf"^({_HOST_NAME}|{_OCTET}(\.{_OCTET}){{3}})$"

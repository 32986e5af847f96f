"""Input and output models of the operator console. Validators raise ``ValueError`` with an
English message id, which :func:`validate` (API and pages alike) shows for that field in the
user's language — every field gets a specific message, not "invalid value"."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, available_timezones

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jobs.billing.requisites import check_account, check_bik, check_inn, check_kpp, field_check
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.tenants import FEATURES, QUOTA_KINDS
from storage.repos.users import normalize_phone
from web.api_base import _FIELD_MESSAGES
from web.api_fields import (ADDRESS_PATTERN, HOST_NAME, NOT_BLANK, OCTET, RECOVERY_PHONE_PATTERN, UNIQUE_EXTENSION,
                            digits, documented, stated)

INVALID = N_("Some fields are not filled in correctly.")
#: a phone as people type it and storage.repos.users.normalize_phone takes it (documented form)
PHONE_TYPED_PATTERN = f"^({RECOVERY_PHONE_PATTERN})$"
_EMAIL = re.compile(r"^[^@\s/,;]+@[^@\s/,;]+\.[^@\s/,;]+$")
_DOMAIN = re.compile(r"^(?=.{3,200}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$|^[a-z0-9-]{1,63}\.local$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")


def validate(model: type[BaseModel], data: Any) -> BaseModel:
    """``model.model_validate(data)`` or AppError 422 with a message per field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields: dict[str, str] = {}
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "body"
            if err["type"] == "value_error" and err.get("ctx", {}).get("error") is not None:
                msg = str(err["ctx"]["error"])
            else:
                msg = _FIELD_MESSAGES.get(err["type"], N_("This value is not valid."))
            fields.setdefault(key, msg)
        raise AppError(422, "validation_error", INVALID, fields=fields) from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _email(v: str | None, required: bool = False) -> str | None:
    if v is None or v == "":
        if required:
            raise ValueError(N_("Enter an e-mail address."))
        return None
    if len(v) > 254 or not _EMAIL.match(v):
        raise ValueError(N_("Enter an e-mail address like name@example.com."))
    return v


def _digits(v: str | None, lengths: tuple[int, ...], message: str) -> str | None:
    if v is None or v == "":
        return None
    if not v.isdigit() or len(v) not in lengths:
        raise ValueError(message)
    return v


class Requisites(Strict):
    inn: str | None = Field(None, description="ИНН: 10 digits (company) or 12 (person)", json_schema_extra=digits(10, 12))
    kpp: str | None = Field(None, description="КПП: 9 digits", json_schema_extra=digits(9))
    ogrn: str | None = Field(None, description="ОГРН: 13 digits (or ОГРНИП: 15)", json_schema_extra=digits(13, 15))
    legal_address: str | None = Field(None, max_length=500)
    postal_address: str | None = Field(None, max_length=500)
    bank: str | None = Field(None, max_length=200)
    bik: str | None = Field(None, description="БИК: 9 digits", json_schema_extra=digits(9))
    corr_account: str | None = Field(None, description="20 digits", json_schema_extra=digits(20))
    settlement_account: str | None = Field(None, description="20 digits", json_schema_extra=digits(20))

    @field_validator("inn")
    @classmethod
    def _inn(cls, v):
        return _digits(v, (10, 12), N_("The INN has 10 digits (a company) or 12 digits (a person)."))

    @field_validator("kpp")
    @classmethod
    def _kpp(cls, v):
        return _digits(v, (9,), N_("The KPP has 9 digits."))

    @field_validator("ogrn")
    @classmethod
    def _ogrn(cls, v):
        return _digits(v, (13, 15), N_("The OGRN has 13 digits (15 for a sole trader)."))

    @field_validator("bik")
    @classmethod
    def _bik(cls, v):
        return _digits(v, (9,), N_("The BIK has 9 digits."))

    @field_validator("corr_account", "settlement_account")
    @classmethod
    def _acc(cls, v):
        return _digits(v, (20,), N_("A bank account number has 20 digits."))


class Contacts(Strict):
    person: str | None = Field(None, max_length=200)
    # the items' patterns are documented only: the validators below answer with their own messages
    phones: list[str] = Field(default_factory=list, max_length=10,
                              json_schema_extra={"items": {"type": "string", "pattern": PHONE_TYPED_PATTERN}})
    emails: list[str] = Field(default_factory=list, max_length=10,
                              json_schema_extra={"items": {"type": "string", "maxLength": 254,
                                                           "pattern": ADDRESS_PATTERN}})

    @field_validator("phones")
    @classmethod
    def _phones(cls, v):
        out = []
        for p in v:
            if not p.strip():
                continue
            n = normalize_phone(p)
            if n is None:
                raise ValueError(N_("Enter phone numbers like +7 916 123-45-67."))
            out.append(n)
        return out

    @field_validator("emails")
    @classmethod
    def _emails(cls, v):
        return [_email(e.strip()) for e in v if e.strip()]


def _phone(v: str | None) -> str | None:
    if v is None or v == "":
        return None
    n = normalize_phone(v)
    if n is None:
        raise ValueError(N_("Enter a phone number like +7 495 123-45-67."))
    return n


# the documented forms of an e-mail and a phone (the validators answer with their own messages)
_EMAIL_DOC = documented(pattern=ADDRESS_PATTERN, maxLength=254)
_PHONE_DOC = documented(pattern=f"^({RECOVERY_PHONE_PATTERN})?$")


class AccountIn(Strict):
    name: str = Field(min_length=1, max_length=200, description="Company or person", json_schema_extra=NOT_BLANK)
    email: str = Field(description="Registration e-mail: the account password link goes here",
                       json_schema_extra=_EMAIL_DOC)
    company_phone: str | None = Field(None, json_schema_extra=_PHONE_DOC)
    requisites: Requisites = Field(default_factory=Requisites)
    contacts: Contacts = Field(default_factory=Contacts)
    send_link: bool = Field(True, description="E-mail the administrator a link to set the password")

    _email_v = field_validator("email")(classmethod(lambda cls, v: _email(v, True)))
    _phone_v = field_validator("company_phone")(classmethod(lambda cls, v: _phone(v)))


class AccountPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=200, json_schema_extra=NOT_BLANK)
    email: str | None = Field(None, json_schema_extra=_EMAIL_DOC)
    company_phone: str | None = Field(None, json_schema_extra=_PHONE_DOC)
    requisites: Requisites | None = None
    contacts: Contacts | None = None

    _email_v = field_validator("email")(classmethod(lambda cls, v: _email(v, True) if v is not None else None))
    _phone_v = field_validator("company_phone")(classmethod(lambda cls, v: _phone(v)))


_ZONES: set[str] | None = None


def _zone(v: str) -> str:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones()
    if v not in _ZONES:
        raise ValueError(N_("Choose a time zone from the list, e.g. Europe/Moscow."))
    ZoneInfo(v)
    return v


def _edition_code(v: str | None) -> str | None:
    if v is None or v == "":
        return None
    if not _CODE.match(v):
        raise ValueError(N_("There is no such edition."))
    return v


#: the documented forms of an edition code (the stored ones: 409 "There is no such edition" for
#: another), of a time zone (one of the zone database's names) and of a PBX's name
_EDITION_DOC = documented(pattern=f"^({_CODE.pattern[1:-1]})$")
_ZONE_DOC = documented(enum=sorted(available_timezones()))
_PBX_NAME_DOC = NOT_BLANK


class PbxIn(Strict):
    account_id: int = Field(ge=1, description="A stored account (another: 409)")
    name: str = Field(min_length=1, max_length=200, json_schema_extra=_PBX_NAME_DOC)
    edition: str = Field(description="Edition code (one the platform has: another is 409)",
                         json_schema_extra=_EDITION_DOC)
    tariff: str | None = Field(None, max_length=64, description="Tariff code (a stored one: another is 409; "
                                                                "empty: the platform's default)")
    time_zone: str = Field("Europe/Moscow", description="A time zone of the zone database",
                           json_schema_extra=_ZONE_DOC)
    demo: bool = False

    _zone_v = field_validator("time_zone")(classmethod(lambda cls, v: _zone(v)))

    @field_validator("edition")
    @classmethod
    def _ed(cls, v):
        if not v:
            raise ValueError(N_("Choose an edition."))
        return _edition_code(v)


class LoginMethods(Strict):
    email: bool = True
    phone: bool = True
    sip: bool = True


def _rub(v) -> int:
    """Roubles as typed («990», «990,50», 990) → kopecks; a clear message for anything else."""
    from pult.money import parse_rub

    if isinstance(v, bool) or isinstance(v, float):
        raise ValueError(N_("Enter the price in roubles as text, e.g. 990 or 990,50."))
    if v is None or (isinstance(v, str) and not v.strip()):
        raise ValueError(N_("Enter the price in roubles, e.g. 990 or 990,50."))
    try:
        kop = parse_rub(v)
    except ValueError as exc:
        if "more than two decimals" in str(exc):
            raise ValueError(N_("At most two digits after the comma (kopecks).")) from None
        raise ValueError(N_("Enter the price in roubles, e.g. 990 or 990,50.")) from None
    if kop > 10**10:
        raise ValueError(N_("The price is too large."))
    return kop


#: roubles as the console takes them (_rub): a whole number, or text with at most two decimals after
#: a comma or a point, up to 10^8 roubles (the documented form: the rule also takes spaces)
ROUBLES_PATTERN = r"^[0-9]{1,8}([.,][0-9]{1,2})?$"
_ROUBLES_DOC = {"anyOf": [{"type": "integer", "minimum": 0, "maximum": 10**8},
                          {"type": "string", "pattern": ROUBLES_PATTERN}]}


def _paid_service_keys() -> list[str]:
    from jobs.billing.rating import SERVICES

    return [k for k in SERVICES if k not in ("edition", "number")]


class PaidServiceIn(Strict):
    """A paid service of a PBX (keys of ``jobs.billing.rating.SERVICES``) charged monthly."""

    key: str = Field(description="blacklist, extra_roles, recording, storage, extra_employees, ...",
                     json_schema_extra=documented(enum=_paid_service_keys()))
    monthly_price: int | str = Field(json_schema_extra=stated({
        **_ROUBLES_DOC, "description": "Roubles per month per unit, e.g. \"990,00\""}))
    quantity: int = Field(1, ge=1, le=100_000)

    @field_validator("key")
    @classmethod
    def _key(cls, v):
        from jobs.billing.rating import SERVICES

        if v not in SERVICES or v in ("edition", "number"):
            raise ValueError(N_("There is no such paid service."))
        return v

    _price_v = field_validator("monthly_price")(classmethod(lambda cls, v: _rub(v)))


class PbxPatch(Strict):
    model_config = ConfigDict(json_schema_extra={UNIQUE_EXTENSION: {"services": ["key"]}})

    services: list[PaidServiceIn] | None = Field(None, max_length=50,
                                                  description="The PBX's paid services (replaces the list; "
                                                              "each service once)")
    number_fees: dict[str, int | str] | None = Field(
        None, description="Number of this PBX (another: 409) → monthly fee in roubles (0 or empty: none)",
        json_schema_extra=documented(additionalProperties={"anyOf": [*_ROUBLES_DOC["anyOf"], {"const": ""}]}))
    name: str | None = Field(None, min_length=1, max_length=200, json_schema_extra=_PBX_NAME_DOC)
    edition: str | None = Field(None, description="Edition code (a stored one: another is 409)",
                                json_schema_extra=documented(pattern=f"^({_CODE.pattern[1:-1]})?$"))
    tariff: str | None = Field(None, max_length=64, description="Tariff code (a stored one: another is 409)")
    time_zone: str | None = Field(None, json_schema_extra=_ZONE_DOC)
    captcha_always: bool | None = None
    login_methods: LoginMethods | None = None

    _zone_v = field_validator("time_zone")(classmethod(lambda cls, v: _zone(v) if v is not None else None))
    _ed_v = field_validator("edition")(classmethod(lambda cls, v: _edition_code(v)))

    @field_validator("services")
    @classmethod
    def _unique(cls, v):
        if v is not None and len({s.key for s in v}) != len(v):
            raise ValueError(N_("Each paid service is listed once."))
        return v


class BlockIn(Strict):
    until: datetime | None = Field(None, description="End of the block (ISO 8601), in the future (x-pult-future); "
                                                     "empty: until unblocked")
    reason: str = Field(min_length=1, max_length=500, json_schema_extra=NOT_BLANK)

    @field_validator("until")
    @classmethod
    def _utc(cls, v):
        if v is not None and v.tzinfo is None:
            v = v.replace(tzinfo=timezone.utc)
        return v


class ConvertIn(Strict):
    edition: str | None = Field(None, description="Edition code (a stored one: another is 409); left out or "
                                                  "empty: the current one",
                                json_schema_extra=documented(pattern=f"^({_CODE.pattern[1:-1]})?$"))
    _ed_v = field_validator("edition")(classmethod(lambda cls, v: _edition_code(v)))


Quotas = dict[Literal[QUOTA_KINDS], int | None]  # type: ignore[valid-type]
QUOTA_MAX = 1_000_000
#: a quota as documented: a whole number from 0 to QUOTA_MAX, or null (unlimited)
_QUOTAS_DOC = documented(additionalProperties={"anyOf": [{"type": "integer", "minimum": 0, "maximum": QUOTA_MAX},
                                                         {"type": "null"}]})
#: an edition's code (_CODE)
_CODE_DOC = documented(pattern=_CODE.pattern)
Features = dict[Literal[FEATURES], bool]  # type: ignore[valid-type]


def _quotas(v: dict) -> dict:
    for kind, limit in v.items():
        if limit is not None and (limit < 0 or limit > QUOTA_MAX):
            raise ValueError(N_("A quota is a whole number from 0 to 1000000, or empty for unlimited."))
    return v


class EditionIn(Strict):
    code: str = Field(description="Latin letters, digits, _; starts with a letter", json_schema_extra=_CODE_DOC)
    name: str = Field(min_length=1, max_length=100, json_schema_extra=NOT_BLANK)
    name_en: str = Field("", max_length=100, description="The name in the English cabinet (empty: the name)")
    monthly_fee: int = Field(0, ge=0, le=10**10, description="Kopecks")
    quotas: Quotas = Field(default_factory=dict, json_schema_extra=_QUOTAS_DOC)
    features: Features = Field(default_factory=dict)
    active: bool = True

    @field_validator("code")
    @classmethod
    def _code(cls, v):
        if not _CODE.match(v or ""):
            raise ValueError(N_("The code is 2-32 Latin letters, digits or _, starting with a letter."))
        return v

    _q_v = field_validator("quotas")(classmethod(lambda cls, v: _quotas(v)))


class EditionPatch(Strict):
    name: str | None = Field(None, min_length=1, max_length=100, json_schema_extra=NOT_BLANK)
    name_en: str | None = Field(None, max_length=100, description="The name in the English cabinet (empty: the name)")
    monthly_fee: int | None = Field(None, ge=0, le=10**10)
    quotas: Quotas | None = Field(None, json_schema_extra=_QUOTAS_DOC)
    features: Features | None = None
    active: bool | None = None

    _q_v = field_validator("quotas")(classmethod(lambda cls, v: _quotas(v) if v is not None else None))


class SupplierIn(Strict):
    """The operator's own requisites, printed as the supplier on invoices and acts. Empty text
    clears a field; the INN is checked with its check digits."""

    name: str = Field("", max_length=300, description="Full name as in the registration documents")
    inn: Annotated[str, field_check(check_inn, empty="")] = Field(
        "", description="ИНН: 10 digits (company) or 12 (person), check digits verified")
    kpp: Annotated[str, field_check(check_kpp, empty="")] = Field("", description="КПП: 9 digits")
    address: str = Field("", max_length=500)
    bank: str = Field("", max_length=300)
    bik: Annotated[str, field_check(check_bik, empty="")] = Field("", description="БИК: 9 digits")
    account: Annotated[str, field_check(check_account, empty="")] = Field(
        "", description="Settlement account: 20 digits")
    corr_account: Annotated[str, field_check(check_account, empty="")] = Field(
        "", description="Correspondent account: 20 digits")
    head: str = Field("", max_length=200, description="Head (signs invoices)")
    accountant: str = Field("", max_length=200, description="Chief accountant (signs invoices)")


class SettingsIn(Strict):
    supplier: SupplierIn | None = Field(None, description="The operator's requisites for invoices and acts")
    default_tariff: str | None = Field(None, max_length=64, description="Tariff of PBXs that name none")
    sip_base_domain: str | None = None
    vat_rate: int | None = Field(None, ge=0, le=100)
    captcha_mode: Literal["failures", "always", "off"] | None = None
    captcha_after: int | None = Field(None, ge=1, le=20)
    offer_version: str | None = Field(None, min_length=1, max_length=20)
    offer_text: str | None = Field(None, max_length=100_000)
    support_contact: str | None = Field(None, max_length=300)
    smtp_host: str | None = Field(None, max_length=253)
    smtp_port: int | None = Field(None, ge=1, le=65535)
    smtp_user: str | None = Field(None, max_length=200)
    smtp_password: str | None = Field(None, max_length=200)
    smtp_starttls: bool | None = None
    smtp_ssl: bool | None = None
    mail_from: str | None = Field(None, max_length=300)
    sms_gateway_url: str | None = Field(None, max_length=500)
    sms_gateway_token: str | None = Field(None, max_length=500)
    call_retention_months: int | None = Field(None, ge=1, le=600, description="Months of call history kept "
                                              "(empty: everything); what an open period needs is always kept")

    @field_validator("sip_base_domain")
    @classmethod
    def _domain(cls, v):
        if v:
            v = v.lower().strip(".")
            if not _DOMAIN.match(v):
                raise ValueError(N_("Enter a domain name like pbx.example.ru."))
        return v or None

    @field_validator("sms_gateway_url")
    @classmethod
    def _url(cls, v):
        """http(s) only; no link-local / cloud-metadata address ever, no private or loopback
        address unless PULT_SMS_ALLOW_PRIVATE is on (SSRF from the console; the SMS job checks the
        resolved address again when it connects, see jobs/sms.py)."""
        if not v:
            return None
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError(N_("The SMS gateway address starts with http:// or https://."))
        from jobs.sms import gateway_url_kind
        from pult.settings import get_settings

        kind = gateway_url_kind(v, allow_private=bool(get_settings().sms_allow_private))
        if kind == "link_local":
            raise ValueError(N_("The SMS gateway cannot be at a link-local (cloud metadata) address."))
        if kind == "not_public":
            msg = N_("The SMS gateway must be at a public address (private and loopback addresses need PULT_SMS_ALLOW_PRIVATE).")
            raise ValueError(msg)
        if kind:
            raise ValueError(N_("This SMS gateway address is not allowed."))
        return v

    @field_validator("mail_from")
    @classmethod
    def _from(cls, v):
        if v:
            from email.utils import parseaddr

            if not _EMAIL.match(parseaddr(v)[1] or ""):
                raise ValueError(N_("Enter the sender like Pult <noreply@example.ru>."))
        return v or None


class DidAddIn(Strict):
    # documented: Russian numbers in international form, one per line (ranges first-last are taken too)
    numbers: str = Field(min_length=1, max_length=20000, description="Numbers or ranges first-last, one per line",
                         json_schema_extra=documented(pattern=r"^7[0-9]{10}(\n7[0-9]{10}){0,9}$"))


#: a pool number as documented: Russian, international form (the rules take every number the pool holds)
_POOL_NUMBER = documented(pattern=r"^7[0-9]{10}$")


class DidAssignIn(Strict):
    number: str = Field(min_length=1, max_length=20, json_schema_extra=_POOL_NUMBER)
    pbx_id: int = Field(ge=1)


class DidReleaseIn(Strict):
    number: str = Field(min_length=1, max_length=20, json_schema_extra=_POOL_NUMBER)


class NodeSipIn(Strict):
    """A node's SIP settings (documentation of the body; esl_control.model.node_sip checks it).
    Every field: empty or absent = the node's value in FREESWITCH_ESL (or the default)."""

    sip_ip: str | None = Field(None, description="Local address of both SIP profiles: an IP address or `auto`")
    rtp_ip: str | None = Field(None, description="Local media address: an IP address or `auto` (empty: sip_ip)")
    ext_sip_ip: str | None = Field(None, description="Address announced to the outside (NAT): an IP address, "
                                                     "`auto-nat` or `auto`")
    ext_rtp_ip: str | None = Field(None, description="Media address announced to the outside (empty: ext_sip_ip)")
    internal_port: int | None = Field(None, ge=1, le=65535, description="SIP port of the phones' profile `internal`")
    external_port: int | None = Field(None, ge=1, le=65535, description="SIP port of the trunks' profile `external`")
    rtp_start_port: int | None = Field(None, ge=1024, le=65535, description="RTP port range start (with the end)")
    rtp_end_port: int | None = Field(None, ge=1024, le=65535, description="RTP port range end")


class NodeSipOut(BaseModel):
    node: str
    stored: dict[str, Any] = Field(description="What the operator set (null: the configuration applies)")
    configured: dict[str, Any] = Field(description="The node's values in FREESWITCH_ESL (or the defaults)")
    effective: dict[str, Any] = Field(description="What Pult serves to the node now (sofia.conf, "
                                                  "post_load_switch.conf)")
    loaded: dict[str, Any] = Field(description="What the node last loaded, per sofia profile and `core` "
                                               "(the RTP range), as served, with the time (`at`)")
    pending: list[str] = Field(description="What awaits a restart: sofia profile names (`sofia profile <name> "
                                           "restart`) and `core` (a restart of FreeSWITCH)")


# the documented forms of a platform gateway (esl_control.model.platform_gateways is the judge; it
# also takes IPv6 in brackets, yes/no flags as text, a kept password on an existing gateway …)
_OCTET1 = "(22[0-3]|2[01][0-9]|1[0-9]{2}|[1-9][0-9]?)"  # 1-223: no unspecified or multicast address
_GW_HOST = rf"({HOST_NAME}|{_OCTET1}(\.{OCTET}){{3}})(:[1-9][0-9]{{0,3}})?"
_GW_BASE = {
    "id": {"anyOf": [{"type": "string"}, {"type": "null"}],
           "description": "The gateway's id as Pult gave it (absent or null: a new gateway; one that names no "
                          "stored gateway: 409)"},
    "name": {"type": "string", "maxLength": 64, "pattern": r"\S",
             "description": "The operator's label, unique (ignoring case)"},
    "proxy": {"type": "string", "pattern": f"^{_GW_HOST}$",
              "description": "The carrier's `host[:port]` (port 5060 when left out)"},
    "realm": {"anyOf": [{"type": "string", "pattern": f"^({_GW_HOST})?$"}, {"type": "null"}],
              "description": "Digest realm and From domain (empty: the proxy)"},
    "transport": {"enum": ["udp", "tcp", "tls"], "default": "udp"},
    "caller_id_in_from": {"type": "boolean", "default": True,
                          "description": "The caller id (the outgoing number) in the From header"},
    "enabled": {"type": "boolean", "default": True,
                "description": "A disabled gateway is neither served to the switch nor dialled"},
}
_GW_USER = {"type": "string", "pattern": "^[A-Za-z0-9._~+\\-!*]{1,64}$", "description": "The account at the carrier"}
#: a gateway without a password (and so not registering), or with a user name and a password
_GATEWAY_DOC = {"oneOf": [
    {"type": "object", "title": "A gateway without credentials", "additionalProperties": False,
     "required": ["name", "proxy"],
     "properties": {**_GW_BASE, "username": {"anyOf": [{**_GW_USER, "pattern": "^([A-Za-z0-9._~+\\-!*]{1,64})?$"},
                                                       {"type": "null"}]},
                    "password": {"anyOf": [{"const": ""}, {"type": "null"}],
                                 "description": "Empty on an existing gateway: the stored one is kept (and "
                                                "with it the need of the user name)"},
                    "register": {"const": False, "description": "Registering needs a user name and a password"}}},
    {"type": "object", "title": "A gateway with a user name and a password", "additionalProperties": False,
     "required": ["name", "proxy", "username", "password"],
     "properties": {**_GW_BASE, "username": _GW_USER,
                    "password": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[^\\x00-\\x1f\\x7f]*$",
                                 "description": "Stored encrypted, never shown back"},
                    "register": {"type": "boolean", "default": False,
                                 "description": "Register with the carrier"}}},
]}


_GATEWAYS_DOC = {"type": "array", "maxItems": 10, "items": _GATEWAY_DOC,
                 "description": "Every gateway, in the order they are tried (at most 10; names and ids each once)"}


class PlatformGatewaysIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={UNIQUE_EXTENSION: {"gateways": ["name", "id"]}})

    # the items as esl_control.model.platform_gateways checks them (documented by _GATEWAY_DOC)
    gateways: list[dict[str, Any]] = Field(json_schema_extra=stated(_GATEWAYS_DOC))


class PlatformGatewaysOut(BaseModel):
    gateways: list[dict[str, Any]] = Field(description="In order; `gateway`: the switch's name "
                                                       "(`pult_platform_<id>`), `password_set` instead of the password")

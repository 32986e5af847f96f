"""Accounts («лицевой счёт»), PBXs («ВАТС»), editions and platform settings — the tenancy roots
(PRODUCT.md §2, inventory A §0, §4).

These are operator-level aggregates: they are read and written through the platform scope by
operator handlers and system jobs, and a tenant reads its own PBX through ``Scope.pbx`` (the PBX
document carries its own id in ``pbx_id``). Numeric ids come from the ``counters`` collection
(atomic ``$inc``), so they are unique across Pult instances.

Documents
---------
Account::

    {account_id, name, email (registration e-mail), email_norm, company_phone,
     requisites: {inn, kpp, ogrn, legal_address, postal_address, bank, bik, corr_account,
                  settlement_account},
     contacts: {person, phones: [..], emails: [..]},
     offer: {version, accepted_at, user_id, ip} | absent, created_at, updated_at}

The balance is NOT here: it belongs to the billing ledger (``storage.repos.billing.Balances``,
kopecks) and is read with :func:`account_balance`.

PBX::

    {pbx_id, account_id, name, edition, tariff, status, time_zone, sip_domain,
     demo: {started_at, ends_at, blocked_at, delete_at, converted_at} (demo PBXs),
     operator_block: {until | None, reason, at, by} | None,
     captcha_always: bool, login_methods: {email, phone, sip},
     created_at, updated_at, deleted_at, purge_at}

``status`` is one of :data:`PBX_STATUSES`. "Blocked" is not a status but a state computed by the
pure function :func:`pbx_state` from the PBX, its account's balance and the time — the cabinet
shows its banner and the call side refuses calls from the same answer.

Edition (``editions``, ``_id`` = code): ``{name, quotas: {kind: int | None}, features: {flag:
bool}, monthly_fee (kopecks), active}``. ``None`` quota = unlimited. :func:`quota_problem` is the
pure check; ``esl_control.model.quotas.check_quota`` counts and raises the user-facing error.

Platform settings (``platform_settings``, one document ``_id: "platform"``): see
:data:`PLATFORM_DEFAULTS` and :func:`effective_platform_settings` for precedence.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

from pymongo import ASCENDING, IndexModel, ReturnDocument

from pult import clock

from .base import Scope, ScopedRepo

# --- lifecycle constants (PRODUCT.md §2, inventory A §4 "Demo version") --------------------------
DEMO_DAYS = 14              # a demo PBX works this long from registration
DEMO_DELETE_DAYS = 14       # then stays blocked this long before it is deleted
DEMO_CONVERT_DAYS = 28      # it may be converted to paid within 4 weeks of registration
PURGE_SAFETY_DAYS = 30      # a deleted PBX's tenant data is removed only this long after deletion

PBX_STATUSES = ("active", "demo", "archived", "deleted")
BLOCK_REASONS = ("balance", "demo_expired", "operator", "archived", "deleted")

QUOTA_KINDS = ("employees", "numbers", "groups", "schemes", "ivr_levels", "conference_seats",
               "storage_mb")
FEATURES = ("call_recording", "fax", "voice_menu", "conferences", "callback", "analytics",
            "api", "ldap", "additional_roles", "widgets")


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


async def next_id(db, name: str, start: int) -> int:
    """The next value of a named counter (first value ``start``)."""
    doc = await db["counters"].find_one_and_update(
        {"_id": name}, {"$inc": {"value": 1}}, upsert=True, return_document=ReturnDocument.AFTER)
    return start + doc["value"] - 1


class Accounts(ScopedRepo):
    collection = "accounts"
    scopes = ("account_id", None)
    indexes = [IndexModel([("account_id", ASCENDING)], unique=True, name="account_id_unique"),
               IndexModel([("email_norm", ASCENDING)], name="account_email")]


class Pbxes(ScopedRepo):
    collection = "pbxes"
    scopes = ("pbx_id", "account_id", None)
    indexes = [IndexModel([("pbx_id", ASCENDING)], unique=True, name="pbx_id_unique"),
               IndexModel([("account_id", ASCENDING)], name="account"),
               IndexModel([("sip_domain", ASCENDING)], unique=True, name="sip_domain_unique"),
               IndexModel([("status", ASCENDING)], name="pbx_status")]


class Editions(ScopedRepo):
    collection = "editions"
    scopes = (None,)
    indexes = [IndexModel([("active", ASCENDING)], name="edition_active")]


class PlatformSettings(ScopedRepo):
    collection = "platform_settings"
    scopes = (None,)
    indexes = []


# --- accounts ---------------------------------------------------------------------------------
async def create_account(db, name: str, email: str, **fields) -> dict:
    """Insert an account with the next account number (from 100001); returns the document.

    Validation of ``name``/``email`` and the other fields is the caller's (the operator service
    validates with its models); this writes what it is given plus the bookkeeping fields.
    """
    account_id = await next_id(db, "account_id", 100001)
    now = clock.now()
    doc = {"account_id": account_id, "name": name, "email": email,
           "email_norm": (email or "").strip().lower() or None,
           "company_phone": None, "requisites": {}, "contacts": {"person": None, "phones": [], "emails": []},
           "created_at": now, "updated_at": now, **fields}
    await Accounts(db, Scope.platform()).insert_one(doc)
    return doc


async def get_account(db, account_id: int) -> dict | None:
    if isinstance(account_id, bool) or not isinstance(account_id, int) or account_id <= 0:
        return None
    return await Accounts(db, Scope.account(account_id)).find_one({})


async def update_account(db, account_id: int, changes: dict) -> tuple[dict, dict] | None:
    """``$set`` ``changes`` on an account; returns (before, after) or None if there is none."""
    changes = dict(changes)
    if "email" in changes:
        changes["email_norm"] = (changes["email"] or "").strip().lower() or None
    changes["updated_at"] = clock.now()
    repo = Accounts(db, Scope.account(account_id))
    before = await repo.find_one({})
    if before is None:
        return None
    after = await repo.find_one_and_update({}, {"$set": changes}, return_document=ReturnDocument.AFTER)
    return before, after


async def account_balance(db, account_id: int) -> int:
    """The account's balance in kopecks, read from the billing ledger's cached balance (0 when the
    account has no ledger yet)."""
    from .billing import Balances

    doc = await Balances(db, Scope.account(account_id)).find_one({})
    return int(doc.get("balance", 0)) if doc else 0


# --- PBXs -------------------------------------------------------------------------------------
async def create_pbx(db, account_id: int, name: str, sip_base_domain: str, *,
                     time_zone: str = "Europe/Moscow", status: str = "active", **fields) -> dict:
    """Create a PBX with its numeric id and its own SIP domain ``vpbx<id>.<base domain>``.

    ``status="demo"`` starts the demo clock (``demo.started_at``/``ends_at``) unless ``demo`` is
    given. Returns the stored document.
    """
    if status not in PBX_STATUSES:
        raise ValueError(f"PBX status must be one of {PBX_STATUSES}, got {status!r}")
    pbx_id = await next_id(db, "pbx_id", 101)
    now = fields.pop("now", None) or clock.now()
    doc = {"pbx_id": pbx_id, "account_id": account_id, "name": name, "status": status,
           "time_zone": time_zone, "sip_domain": f"vpbx{pbx_id}.{sip_base_domain}",
           "edition": None, "tariff": None, "operator_block": None, "captcha_always": False,
           "login_methods": {"email": True, "phone": True, "sip": True},
           "created_at": now, "updated_at": now, **fields}
    if status == "demo" and not doc.get("demo"):
        doc["demo"] = {"started_at": now, "ends_at": now + timedelta(days=DEMO_DAYS),
                       "blocked_at": None, "delete_at": None, "converted_at": None}
    await Pbxes(db, Scope.platform()).insert_one(doc)
    return doc


async def get_pbx(db, pbx_id: int) -> dict | None:
    if isinstance(pbx_id, bool) or not isinstance(pbx_id, int) or pbx_id <= 0:
        return None
    return await Pbxes(db, Scope.pbx(pbx_id)).find_one({})


async def update_pbx(db, pbx_id: int, changes: dict, unset: tuple[str, ...] = ()) -> tuple[dict, dict] | None:
    """``$set`` ``changes`` on a PBX; returns (before, after) or None if there is none."""
    repo = Pbxes(db, Scope.platform())
    before = await repo.find_one({"pbx_id": pbx_id})
    if before is None:
        return None
    update: dict = {"$set": {**changes, "updated_at": clock.now()}}
    if unset:
        update["$unset"] = {k: "" for k in unset}
    after = await repo.find_one_and_update({"pbx_id": pbx_id}, update,
                                           return_document=ReturnDocument.AFTER)
    return before, after


class Banner(NamedTuple):
    """What the cabinet shows above a PBX: ``level`` (info | warn | error), an English message
    id with ``%(name)s`` placeholders, and their values."""

    level: str
    message: str
    values: dict


class PbxState(NamedTuple):
    """The answer of :func:`pbx_state`; unpacks as ``blocked, reasons, banner``."""

    blocked: bool
    reasons: tuple[str, ...]
    banner: Banner | None


def _days_left(until: datetime, now: datetime) -> int:
    seconds = (until - now).total_seconds()
    return max(0, -int(-seconds // 86400))  # ceil: "1 day left" until the very last second


def demo_dates(pbx: dict) -> dict:
    """Start, end, deletion and last conversion moment of a demo PBX (computed if not stored)."""
    demo = pbx.get("demo") or {}
    started = _aware(demo.get("started_at") or pbx.get("created_at"))
    ends = _aware(demo.get("ends_at")) or (started + timedelta(days=DEMO_DAYS) if started else None)
    blocked_at = _aware(demo.get("blocked_at")) or ends
    delete_at = _aware(demo.get("delete_at")) or (blocked_at + timedelta(days=DEMO_DELETE_DAYS)
                                                  if blocked_at else None)
    convert_until = started + timedelta(days=DEMO_CONVERT_DAYS) if started else None
    return {"started_at": started, "ends_at": ends, "blocked_at": blocked_at, "delete_at": delete_at,
            "convert_until": convert_until}


def can_convert_demo(pbx: dict, now: datetime) -> bool:
    """A demo converts to paid within 4 weeks of registration, blocked or not."""
    if pbx.get("status") != "demo":
        return False
    until = demo_dates(pbx)["convert_until"]
    return until is not None and now < until


def pbx_state(pbx: dict, account: dict | None, now: datetime) -> PbxState:
    """Whether ``pbx`` is blocked right now, why, and the banner to show. Pure: no I/O.

    ``account`` may carry ``balance`` (kopecks; see :func:`account_balance`) — a balance below
    zero blocks every PBX of the account. Reasons, in this order: ``deleted``, ``archived``,
    ``demo_expired``, ``operator`` (a block whose ``until`` is in the future or unset),
    ``balance``. The banner describes the first reason; a running demo has an info banner with the
    days left.
    """
    now = _aware(now)
    reasons: list[str] = []
    banners: list[Banner] = []
    status = pbx.get("status", "active")
    if status == "deleted":
        reasons.append("deleted")
        banners.append(Banner("error", "This PBX has been deleted.", {}))
    elif status == "archived":
        reasons.append("archived")
        banners.append(Banner("error", "This PBX is archived. Calls are not handled.", {}))
    if status == "demo":
        d = demo_dates(pbx)
        if d["ends_at"] is not None and now >= d["ends_at"]:
            reasons.append("demo_expired")
            banners.append(Banner("error", "The demo period has ended and the PBX is blocked. It will be deleted in %(days)s day(s).",
                                  {"days": _days_left(d["delete_at"], now),
                                   "convertible": now < d["convert_until"]}))
        elif d["ends_at"] is not None:
            banners.append(Banner("info", "Demo version: %(days)s day(s) left.",
                                  {"days": _days_left(d["ends_at"], now), "convertible": True}))
    block = pbx.get("operator_block")
    if block:
        until = _aware(block.get("until"))
        if until is None or now < until:
            reasons.append("operator")
            values = {"reason": block.get("reason") or "", "until": until}
            banners.append(Banner("error", "Outgoing calls are restricted by the operator until %(until)s." if until else
                                  "The PBX is blocked by the operator.", values))
    if account is not None and int(account.get("balance") or 0) < 0:
        reasons.append("balance")
        banners.append(Banner("error", "The account balance is below zero: the services are blocked until the account is topped up.",
                                  {"balance": int(account.get("balance") or 0)}))
    errors = [b for b in banners if b.level == "error"]
    banner = errors[0] if errors else (banners[0] if banners else None)
    return PbxState(bool(reasons), tuple(reasons), banner)


async def load_pbx_state(db, pbx_id: int, now: datetime | None = None) -> PbxState | None:
    """:func:`pbx_state` of a stored PBX (None if there is no such PBX)."""
    return await state_of_pbx(db, await get_pbx(db, pbx_id), now)


async def state_of_pbx(db, pbx: dict | None, now: datetime | None = None) -> PbxState | None:
    """:func:`pbx_state` of a PBX document already read (only its account's balance is read)."""
    if pbx is None:
        return None
    balance = await account_balance(db, pbx["account_id"]) if pbx.get("account_id") else 0
    return pbx_state(pbx, {"balance": balance}, now or clock.now())


# --- editions ---------------------------------------------------------------------------------
DEFAULT_EDITIONS = (
    {"_id": "basic", "name": "Базовая", "name_en": "Basic", "monthly_fee": 99000,
     "quotas": {"employees": 10, "numbers": 2, "groups": 3, "schemes": 3, "ivr_levels": 1,
                "conference_seats": 0, "storage_mb": 1024},
     "features": {"call_recording": True, "fax": False, "voice_menu": True, "conferences": False,
                  "callback": False, "analytics": False, "api": False, "ldap": False,
                  "additional_roles": False, "widgets": False}},
    {"_id": "business", "name": "Бизнес", "name_en": "Business", "monthly_fee": 249000,
     "quotas": {"employees": 50, "numbers": 10, "groups": 20, "schemes": 20, "ivr_levels": 3,
                "conference_seats": 10, "storage_mb": 10240},
     "features": {f: f not in ("ldap", "additional_roles") for f in FEATURES}},
    {"_id": "corporate", "name": "Корпоративная", "name_en": "Corporate", "monthly_fee": 590000,
     "quotas": {k: None for k in QUOTA_KINDS},
     "features": {f: True for f in FEATURES}},
)


async def ensure_default_editions(db) -> int:
    """Insert the default editions that are missing (idempotent; operators edit them later), and
    give the ones seeded before the English names existed their ``name_en`` unless renamed since."""
    added = 0
    now = clock.now()
    stored = {d["_id"]: d for d in await Editions(db, Scope.platform()).find(
        {"_id": {"$in": [ed["_id"] for ed in DEFAULT_EDITIONS]}})}
    for ed in DEFAULT_EDITIONS:
        doc = stored.get(ed["_id"])
        if doc is None:
            res = await db[Editions.collection].update_one(
                {"_id": ed["_id"]},
                {"$setOnInsert": {**{k: v for k, v in ed.items() if k != "_id"}, "active": True,
                                  "created_at": now, "updated_at": now}}, upsert=True)
            added += res.upserted_id is not None
        elif "name_en" not in doc and doc.get("name") == ed["name"]:
            await db[Editions.collection].update_one({"_id": ed["_id"], "name_en": {"$exists": False}},
                                                     {"$set": {"name_en": ed["name_en"]}})
    return added


async def list_editions(db, active_only: bool = False) -> list[dict]:
    await ensure_default_editions(db)
    flt = {"active": True} if active_only else {}
    return await Editions(db, Scope.platform()).find(flt, sort=[("monthly_fee", 1), ("_id", 1)])


async def get_edition(db, code: str | None) -> dict | None:
    if not code or not isinstance(code, str):
        return None
    await ensure_default_editions(db)
    return await Editions(db, Scope.platform()).find_one({"_id": code})


@dataclass(frozen=True)
class QuotaProblem:
    """A refused creation: the edition's name, the quota kind and its limit."""

    edition: str
    kind: str
    limit: int
    current: int


def quota_problem(edition: dict | None, kind: str, current: int, adding: int = 1) -> QuotaProblem | None:
    """Pure quota check: None when ``current + adding`` fits the edition's ``kind`` quota.

    No edition, or a quota of None, means unlimited. For value quotas (``ivr_levels``,
    ``conference_seats``, ``storage_mb``) pass the wanted value as ``current`` and ``adding=0``.
    """
    if kind not in QUOTA_KINDS:
        raise ValueError(f"unknown quota kind {kind!r}: expected one of {QUOTA_KINDS}")
    if not edition:
        return None
    limit = (edition.get("quotas") or {}).get(kind)
    if limit is None:
        return None
    if current + adding > int(limit):
        from pult.i18n import Localized  # the name in the reader's language when the message is shown

        return QuotaProblem(Localized(edition, "name", str(edition.get("_id") or "?")), kind, int(limit), current)
    return None


def has_feature(edition: dict | None, flag: str) -> bool:
    """Whether the edition enables feature ``flag`` (no edition: everything is allowed)."""
    if flag not in FEATURES:
        raise ValueError(f"unknown feature {flag!r}: expected one of {FEATURES}")
    if not edition:
        return True
    return bool((edition.get("features") or {}).get(flag, False))


# --- platform settings ------------------------------------------------------------------------
PLATFORM_DEFAULTS: dict[str, Any] = {
    "sip_base_domain": None,         # None: settings.sip_base_domain (env PULT_SIP_BASE_DOMAIN)
    "vat_rate": None,                # VAT rate of invoices, percent (None: settings.vat_rate)
    "captcha_mode": "failures",      # failures | always | off
    "captcha_after": 3,              # failures (per login or per address) before the captcha
    "offer_version": "1",            # the current offer; account administrators accept it
    "offer_text": "",
    "support_contact": "",           # shown on the recovery pages ("contact your operator")
    "smtp_host": None, "smtp_port": None, "smtp_user": None, "smtp_password": None,
    "smtp_starttls": None, "smtp_ssl": None, "mail_from": None,
    "sms_gateway_url": None, "sms_gateway_token": None,
    # the operator as the supplier of invoices and acts (validated by web.operator.models.SupplierIn)
    "supplier": {},                  # {name, inn, kpp, address, bank, bik, account, corr_account, head, accountant}
    "default_tariff": None,          # tariff of PBXs that name none (None: the tariff with id "default")
    "call_retention_months": None,   # months of call history kept (None: everything; jobs/retention.py)
}
SUPPLIER_KEYS = ("name", "inn", "kpp", "address", "bank", "bik", "account", "corr_account", "head", "accountant")
#: keys that override the same-named field of pult.settings.Settings when set in the database
ENV_OVERRIDABLE = ("sip_base_domain", "vat_rate", "smtp_host", "smtp_port", "smtp_user", "smtp_password",
                   "smtp_starttls", "smtp_ssl", "mail_from", "sms_gateway_url", "sms_gateway_token")
SECRET_KEYS = ("smtp_password", "sms_gateway_token")


async def get_platform_settings(db) -> dict:
    """The stored platform settings merged over :data:`PLATFORM_DEFAULTS` (no env applied)."""
    doc = await PlatformSettings(db, Scope.platform()).find_one({"_id": "platform"}) or {}
    out = dict(PLATFORM_DEFAULTS)
    out.update({k: v for k, v in doc.items() if k in PLATFORM_DEFAULTS})
    out["supplier"] = {k: str((out.get("supplier") or {}).get(k) or "") for k in SUPPLIER_KEYS}
    out["updated_at"] = doc.get("updated_at")
    return out


async def save_platform_settings(db, changes: dict) -> tuple[dict, dict]:
    """Store ``changes`` (keys of :data:`PLATFORM_DEFAULTS`; None clears a value so the env
    default applies again); returns (before, after)."""
    unknown = set(changes) - set(PLATFORM_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown platform setting(s): {', '.join(sorted(unknown))}")
    before = await get_platform_settings(db)
    await PlatformSettings(db, Scope.platform()).update_one(
        {"_id": "platform"}, {"$set": {**changes, "updated_at": clock.now()}}, upsert=True)
    return before, await get_platform_settings(db)


PLATFORM_GATEWAYS_ID = "platform_gateways"


async def stored_platform_gateways(db) -> list[dict]:
    """The operator's platform gateways (upstream carriers), in their order (``[]`` when none);
    a separate document of ``platform_settings``, so the settings answers never carry it."""
    doc = await PlatformSettings(db, Scope.platform()).find_one({"_id": PLATFORM_GATEWAYS_ID})
    return [dict(g) for g in (doc or {}).get("gateways") or ()]


async def store_platform_gateways(db, gateways: list[dict]) -> None:
    """Replace the platform gateways with ``gateways`` (ordered; see esl_control.model.platform_gateways)."""
    await PlatformSettings(db, Scope.platform()).update_one(
        {"_id": PLATFORM_GATEWAYS_ID}, {"$set": {"gateways": [dict(g) for g in gateways],
                                                "updated_at": clock.now()}}, upsert=True)


def effective_platform_settings(stored: dict, settings) -> dict:
    """Precedence: a value stored by the operator (not None / not empty) wins over the
    environment/file setting of the same name, which wins over the built-in default."""
    out = dict(stored)
    for key in ENV_OVERRIDABLE:
        value = stored.get(key)
        if value is None or value == "":
            out[key] = getattr(settings, key, None)
    return out


def settings_with_overrides(stored: dict, settings):
    """A copy of ``settings`` (pult.settings.Settings) with the operator's stored overrides
    applied (for the jobs that send mail and SMS)."""
    update = {k: stored[k] for k in ENV_OVERRIDABLE
              if stored.get(k) is not None and stored.get(k) != ""}
    return settings.model_copy(update=update) if update else settings

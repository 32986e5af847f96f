"""Tariff tables over the store: the default Russian tariff, the platform default, a PBX's tariff
change (at most once per calendar month, effective immediately).

A tariff document (``tariffs``, platform data, ``_id`` = the tariff code) is
:meth:`jobs.billing.rating.Tariff.to_dict` plus ``description``, ``public`` (offered to tenants
for a change) and ``created_at``/``updated_at``. The operator console edits them
(:mod:`web.operator.tariffs`); the account administrator or the PBX administrator switches the
PBX to another public tariff in the cabinet (:mod:`web.finance.tariff`).

Which tariff rates a PBX's calls (:func:`jobs.billing.services.tariff_for_pbx`): ``pbx.tariff``,
else the platform default (platform setting ``default_tariff``), else the tariff ``default``.
Rating reads it when the call ends, so a change applies to the next call that ends after it.

The limit on changes (inventory A §4.1.1) applies to the tenant's requests: the PBX keeps
``tariff_changed_at``; the update is conditional on that moment being before the 1st of the
current month in the PBX's time zone, so two simultaneous requests cannot both pass. An operator
assigning a tariff in the console is an administrative act and is not limited.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from jobs.billing.rating import (BillingStep, Destination, Tariff, TariffChangeError,
                                 check_tariff_change)
from pult import clock
from pult.i18n import N_
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.billing import Tariffs

DEFAULT_ID = "default"

#: the seed's Russian tariff: Moscow home area, per-minute billing, 8-800 free, emergency numbers free
DEFAULT_TARIFF = Tariff(
    DEFAULT_ID, "Базовый",
    (
        Destination("7495", "local", name="Москва"),
        Destination("7499", "local", name="Москва"),
        Destination("79", "mobile", name="Мобильные РФ"),
        Destination("7", "long_distance", name="Междугородные РФ"),
        Destination("7800", "free", name="Бесплатные 8-800"),
        Destination("112", "service", name="Единый номер экстренных служб", exact=True),
        Destination("101", "service", name="Пожарная охрана", exact=True),
        Destination("102", "service", name="Полиция", exact=True),
        Destination("103", "service", name="Скорая помощь", exact=True),
        Destination("104", "service", name="Газовая служба", exact=True),
        Destination("375", "international", country="BY", name="Беларусь"),
        Destination("76", "international", country="KZ", name="Казахстан"),
        Destination("77", "international", country="KZ", name="Казахстан"),
        Destination("998", "international", country="UZ", name="Узбекистан"),
        Destination("49", "international", country="DE", name="Германия"),
        Destination("44", "international", country="GB", name="Великобритания"),
        Destination("1", "international", country="US", name="США и Канада"),
        Destination("86", "international", country="CN", name="Китай"),
        Destination("90", "international", country="TR", name="Турция"),
    ),
    {"local": 100, "mobile": 250, "long_distance": 350, "international": 2500, "service": 0,
     "international:BY": 1500, "international:KZ": 1200, "international:UZ": 1400,
     "international:DE": 1200, "international:GB": 1200, "international:US": 600,
     "international:CN": 900, "international:TR": 1500},
    step=BillingStep(60, 60), free_minutes=0, free_zones=frozenset({"local", "mobile"}),
    home_area="7495",
)
DEFAULT_DESCRIPTION = ("Поминутная тарификация; Москва 1 ₽/мин, мобильные 2,50 ₽/мин, междугородные "
                       "3,50 ₽/мин; 8-800 и экстренные службы бесплатно.")
#: the same in English, for the English cabinet (operator data in two languages: ``<field>_en``)
DEFAULT_ENGLISH = {"name_en": "Basic",
                   "description_en": "Per-minute billing; Moscow 1 RUB/min, mobile 2.50 RUB/min, long distance "
                                     "3.50 RUB/min; 8-800 and emergency services free of charge."}


async def seed_default_tariff(db) -> bool:
    """Store :data:`DEFAULT_TARIFF` as ``default`` unless a tariff with that id exists.

    Idempotent and safe to call at every demo seed: the operator's later edits are kept.
    Returns True when it was inserted now.
    """
    doc = DEFAULT_TARIFF.to_dict()
    now = clock.now()
    res = await db[Tariffs.collection].update_one(
        {"_id": DEFAULT_ID},
        {"$setOnInsert": {**{k: v for k, v in doc.items() if k != "_id"}, "description": DEFAULT_DESCRIPTION,
                          **DEFAULT_ENGLISH, "public": True, "created_at": now, "updated_at": now}}, upsert=True)
    if res.upserted_id is None:  # seeded before the English texts existed: add them unless edited since
        await db[Tariffs.collection].update_one(
            {"_id": DEFAULT_ID, "name": DEFAULT_TARIFF.name, "description": DEFAULT_DESCRIPTION,
             "description_en": {"$exists": False}}, {"$set": DEFAULT_ENGLISH})
    return res.upserted_id is not None


async def list_tariffs(db, *, public_only: bool = False) -> list[dict]:
    flt: dict[str, Any] = {"public": True} if public_only else {}
    return await Tariffs(db, Scope.platform()).list(flt, sort=[("name", 1), ("_id", 1)])


async def get_tariff_doc(db, tariff_id: str | None) -> dict | None:
    if not tariff_id or not isinstance(tariff_id, str):
        return None
    return await Tariffs(db, Scope.platform()).get({"_id": tariff_id})


async def default_tariff_id(db) -> str:
    """The platform default tariff's id (platform setting ``default_tariff``, else ``default``)."""
    from storage.repos.tenants import get_platform_settings

    return (await get_platform_settings(db)).get("default_tariff") or DEFAULT_ID


async def pbx_tariff_id(db, pbx: dict) -> str:
    """The id of the tariff that rates ``pbx``'s calls now."""
    return pbx.get("tariff") or await default_tariff_id(db)


def _tz(pbx: dict) -> ZoneInfo:
    try:
        return ZoneInfo(pbx.get("time_zone") or "Europe/Moscow")
    except (KeyError, ValueError):
        return ZoneInfo("Europe/Moscow")


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def next_change_from(pbx: dict, now: datetime | None = None) -> date | None:
    """The first day a tenant may change the PBX's tariff again (None: it may now)."""
    now = _aware(now) or clock.now()
    tz = _tz(pbx)
    last = _aware(pbx.get("tariff_changed_at"))
    try:
        check_tariff_change(last.astimezone(tz) if last else None, now.astimezone(tz))
    except TariffChangeError as exc:
        return exc.next_allowed
    return None


INSUFFICIENT = N_("The account balance is below zero: top up the account before changing the tariff.")


async def funds_sufficient(db, pbx: dict) -> bool:
    """Whether the account has the funds a tariff change needs (inventory A §4.1.1: "if funds are
    insufficient, the agree checkbox is disabled"). The inventory gives no threshold
    (ambiguity 11); PRODUCT.md §10/§2 call a balance below zero "insufficient funds" (it blocks
    the PBX), and a tariff has no fee of its own, so: a balance of zero or more suffices."""
    from storage.repos.tenants import account_balance

    account_id = pbx.get("account_id")
    if not isinstance(account_id, int):
        return True
    return await account_balance(db, account_id) >= 0


class TariffRefused(ValueError):
    """A tariff change request is refused for a reason other than the monthly limit."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message  # English message id


async def change_pbx_tariff(db, pbx_id: int, tariff_id: str, actor: dict, *,
                            now: datetime | None = None) -> dict:
    """The tenant's tariff change: at most once per calendar month (PBX time), immediately.

    Raises :class:`TariffChangeError` (RU/EN text with the next allowed day) for a second change
    in a month, :class:`TariffRefused` for an unknown or not offered tariff, the current one, or
    a balance below zero (:func:`funds_sufficient`).
    Returns the updated PBX. The change is written to the PBX's action log (section finance).
    """
    from storage.repos.tenants import Pbxes, get_pbx

    now = _aware(now) or clock.now()
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        raise TariffRefused("pbx_id", N_("No such PBX."))
    target = await get_tariff_doc(db, tariff_id)
    if target is None or not target.get("public"):
        raise TariffRefused("tariff", N_("This tariff is not offered; choose one from the list."))
    current = await pbx_tariff_id(db, pbx)
    if current == tariff_id:
        raise TariffRefused("tariff", N_("This is already your tariff."))
    if not await funds_sufficient(db, pbx):
        raise TariffRefused("agree", INSUFFICIENT)
    tz = _tz(pbx)
    last = _aware(pbx.get("tariff_changed_at"))
    check_tariff_change(last.astimezone(tz) if last else None, now.astimezone(tz))
    local = now.astimezone(tz)
    month_start = datetime.combine(local.date().replace(day=1), time.min, tzinfo=tz).astimezone(timezone.utc)
    repo = Pbxes(db, Scope.pbx(pbx_id))
    won = await repo.update_one(
        {"$or": [{"tariff_changed_at": None}, {"tariff_changed_at": {"$lt": month_start}}]},
        {"$set": {"tariff": tariff_id, "tariff_changed_at": now, "updated_at": now}})
    if not won:  # a concurrent request won the month's change
        fresh = await get_pbx(db, pbx_id) or pbx
        last = _aware(fresh.get("tariff_changed_at")) or now
        check_tariff_change(last.astimezone(tz), local)
        raise TariffChangeError(N_("The tariff has just been changed."), local.date())
    await audit(db, Scope.pbx(pbx_id), actor=actor, section="finance", operation="tariff_change",
                object={"type": "pbx", "id": pbx_id, "name": pbx.get("name")},
                before={"tariff": current}, after={"tariff": tariff_id})
    return await get_pbx(db, pbx_id)


def tariff_summary(doc: dict) -> dict:
    """What the cabinet shows about a tariff: name, step, free minutes, prices per zone (kopecks)."""
    prices = doc.get("prices") or {}
    return {"id": doc["_id"], "name": doc.get("name") or doc["_id"], "description": doc.get("description") or "",
            "step": doc.get("step") or "60/60", "free_minutes": int(doc.get("free_minutes") or 0),
            "prices": {k: int(v) for k, v in prices.items() if ":" not in k},
            "countries": {k.split(":", 1)[1]: int(v) for k, v in prices.items() if k.startswith("international:")}}


__all__ = ["DEFAULT_ID", "DEFAULT_TARIFF", "seed_default_tariff", "list_tariffs", "get_tariff_doc",
           "default_tariff_id", "pbx_tariff_id", "next_change_from", "change_pbx_tariff", "TariffRefused",
           "funds_sufficient", "INSUFFICIENT",
           "tariff_summary"]

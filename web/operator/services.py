"""The operator console's logic: accounts, PBXs (create, block, convert a demo), editions, platform
settings and the DID pool. The API (:mod:`web.operator.api`) and the pages
(:mod:`web.operator.pages`) both call these functions with input validated by the models in
:mod:`web.operator.models`, so the two cannot drift apart.

Every change is written to the action log (``storage.repos.audit.audit``) with the operator as the
actor, the IP, and the document before and after: account changes under the account's scope, PBX
changes under the PBX's, editions/settings/DID pool under the platform scope. Validation happens
before the first write, so a refused change writes nothing ("nothing is half-saved").
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.tenants import (Accounts, Editions, Pbxes, account_balance, can_convert_demo,
                                   create_account as repo_create_account, create_pbx as repo_create_pbx,
                                   effective_platform_settings, ensure_default_editions, get_account,
                                   get_edition, get_pbx, get_platform_settings, pbx_state,
                                   save_platform_settings, update_account as repo_update_account,
                                   update_pbx)
from storage.repos.users import Users, create_account_admin, get_account_admin, set_current_pbx

INVALID = N_("Some fields are not filled in correctly.")
MAX_RANGE = 1000


def refuse(field: str, message: str, status: int = 422) -> AppError:
    return AppError(status, "validation_error", INVALID, fields={field: message})


def clash(field: str, message: str) -> AppError:
    """409 ``conflict``: a body valid in itself that clashes with what is stored (an edition,
    tariff, account, PBX or number that names nothing, a number taken), with the field's message
    (what the console's form shows)."""
    return AppError(409, "conflict", message, fields={field: message})


def _public(doc: dict | None) -> dict | None:
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k != "_id" or isinstance(v, str)}


# --- accounts -----------------------------------------------------------------------------------
async def list_accounts(db, q: str = "", page: int = 1, per_page: int = 25) -> tuple[list[dict], int]:
    """Accounts, newest first, filtered by number, name or e-mail; each with its balance and the
    number of PBXs."""
    repo = Accounts(db, Scope.platform())
    flt: dict[str, Any] = {}
    q = (q or "").strip()
    if q:
        import re

        rx = {"$regex": re.escape(q), "$options": "i"}
        ors: list[dict] = [{"name": rx}, {"email": rx}]
        if q.isdigit():
            ors.append({"account_id": int(q)})
        flt = {"$or": ors}
    total = await repo.count(flt)
    docs = await repo.find(flt, sort=[("account_id", -1)], skip=(page - 1) * per_page, limit=per_page)
    pbxes = Pbxes(db, Scope.platform())
    for d in docs:
        d["balance"] = await account_balance(db, d["account_id"])
        d["pbx_count"] = await pbxes.count({"account_id": d["account_id"], "status": {"$ne": "deleted"}})
    return docs, total


async def account_view(db, account_id: int) -> dict:
    account = await get_account(db, account_id)
    if account is None:
        raise AppError(404, "not_found", N_("No such account."))
    account["balance"] = await account_balance(db, account_id)
    admin = await get_account_admin(db, account_id)
    account["admin_has_password"] = bool(admin and admin.get("password_hash"))
    return account


async def create_account(db, data, actor: dict) -> dict:
    """Create an account and its administrator (who signs in with the account number once the
    password is set through the e-mailed link)."""
    fields = data.model_dump(exclude={"send_link"})
    doc = await repo_create_account(db, fields.pop("name"), fields.pop("email"), **fields)
    await create_account_admin(db, doc["account_id"], doc["email"], display_name=doc["name"])
    await audit(db, Scope.account(doc["account_id"]), actor=actor, section="operator.accounts",
                operation="create", object={"type": "account", "id": doc["account_id"], "name": doc["name"]},
                before=None, after=_public(doc))
    return doc


#: AccountPatch fields an account always has: null is "no change" for them (it never blanks the
#: name or the registration e-mail); company_phone's null clears it
_ACCOUNT_NEVER_NULL = frozenset({"name", "email", "requisites", "contacts"})


async def update_account(db, account_id: int, data, actor: dict) -> dict:
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()
               if v is not None or k not in _ACCOUNT_NEVER_NULL}
    if not changes:
        return await account_view(db, account_id)
    result = await repo_update_account(db, account_id, changes)
    if result is None:
        raise AppError(404, "not_found", N_("No such account."))
    before, after = result
    if "email" in changes:  # the administrator's recovery e-mail follows the registration e-mail
        admin = await get_account_admin(db, account_id)
        if admin:
            await Users(db, Scope.platform()).update_one(
                {"_id": admin["_id"]}, {"$set": {"email": after["email"], "email_norm": after.get("email_norm")}})
    await audit(db, Scope.account(account_id), actor=actor, section="operator.accounts", operation="update",
                object={"type": "account", "id": account_id, "name": after.get("name")},
                before=_public(before), after=_public(after))
    return await account_view(db, account_id)


# --- PBXs ---------------------------------------------------------------------------------------
async def list_pbxes(db, *, account_id: int | None = None, q: str = "", page: int = 1,
                     per_page: int = 25, at: datetime | None = None) -> tuple[list[dict], int]:
    """PBXs (not deleted ones unless asked by status), newest first, each with its state."""
    repo = Pbxes(db, Scope.platform())
    flt: dict[str, Any] = {"status": {"$ne": "deleted"}}
    if account_id:
        flt["account_id"] = account_id
    q = (q or "").strip()
    if q:
        import re

        rx = {"$regex": re.escape(q), "$options": "i"}
        ors: list[dict] = [{"name": rx}, {"sip_domain": rx}]
        if q.isdigit():
            ors += [{"pbx_id": int(q)}, {"account_id": int(q)}]
        flt["$or"] = ors
    total = await repo.count(flt)
    docs = await repo.find(flt, sort=[("pbx_id", -1)], skip=(page - 1) * per_page, limit=per_page)
    balances: dict[int, int] = {}
    for d in docs:
        if d["account_id"] not in balances:
            balances[d["account_id"]] = await account_balance(db, d["account_id"])
        d["state"] = pbx_state(d, {"balance": balances[d["account_id"]]}, at or clock.now())
    return docs, total


async def pbx_view(db, pbx_id: int, at: datetime | None = None) -> dict:
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    pbx["state"] = pbx_state(pbx, {"balance": await account_balance(db, pbx["account_id"])}, at or clock.now())
    return pbx


async def _check_refs(db, edition: str | None, tariff: str | None) -> None:
    if edition is not None and await get_edition(db, edition) is None:
        raise clash("edition", N_("There is no such edition."))
    if tariff:
        from storage.repos.billing import Tariffs

        if await Tariffs(db, Scope.platform()).find_one({"_id": tariff}) is None:
            raise clash("tariff", N_("There is no such tariff."))


async def create_pbx(db, settings, data, actor: dict) -> dict:
    """Create a PBX for an account (its SIP domain ``vpbx<id>.<base domain>`` with it). A demo
    starts its 14-day clock now."""
    if await get_account(db, data.account_id) is None:
        raise clash("account_id", N_("There is no such account."))
    await _check_refs(db, data.edition, data.tariff)
    platform = effective_platform_settings(await get_platform_settings(db), settings)
    doc = await repo_create_pbx(db, data.account_id, data.name, platform["sip_base_domain"],
                                time_zone=data.time_zone, status="demo" if data.demo else "active",
                                edition=data.edition, tariff=data.tariff or None)
    from esl_control.model.bootstrap import ensure_pbx_defaults  # SIP domain, settings, group at 6
    await ensure_pbx_defaults(db, doc["pbx_id"], base_domain=platform["sip_base_domain"])
    admin = await get_account_admin(db, data.account_id)
    if admin is not None and not admin.get("pbx_id"):
        await set_current_pbx(db, admin["_id"], doc["pbx_id"])
    await audit(db, Scope.pbx(doc["pbx_id"]), actor=actor, section="operator.pbxes", operation="create",
                object={"type": "pbx", "id": doc["pbx_id"], "name": doc["name"]}, before=None, after=_public(doc))
    return doc


async def _pbx_change(db, pbx_id: int, changes: dict, actor: dict, operation: str,
                      unset: tuple[str, ...] = ()) -> dict:
    result = await update_pbx(db, pbx_id, changes, unset)
    if result is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    before, after = result
    await audit(db, Scope.pbx(pbx_id), actor=actor, section="operator.pbxes", operation=operation,
                object={"type": "pbx", "id": pbx_id, "name": after.get("name")},
                before=_public(before), after=_public(after))
    return await pbx_view(db, pbx_id)


#: PbxPatch fields a PBX always has: null (or an empty edition) is "no change" for them, it never
#: blanks a PBX's name, edition or time zone (the tariff's null is the platform's default)
_NEVER_NULL = frozenset({"name", "edition", "time_zone", "captcha_always"})


async def update_pbx_fields(db, pbx_id: int, data, actor: dict) -> dict:
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items()
               if v is not None or k not in _NEVER_NULL}
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    await _check_refs(db, changes.get("edition"), changes.get("tariff"))
    fees = None
    if "number_fees" in changes:
        fees = await _number_fees(db, pbx_id, changes.pop("number_fees") or {})
    at = clock.now()
    if "services" in changes:
        changes["services"] = _services(pbx, [x.model_dump() for x in data.services or []], at)
    if fees:
        await _save_number_fees(db, pbx, fees, actor)
    if not changes:
        return await pbx_view(db, pbx_id)
    view = await _pbx_change(db, pbx_id, changes, actor, "update")
    if "edition" in changes:
        from web.access.service import drop_custom_roles_without_package

        await drop_custom_roles_without_package(db, pbx_id, actor)
    if changes.get("services") and pbx.get("status") not in ("demo", "archived", "deleted"):
        await _charge_new_services(db, pbx, changes["services"], at)
    return view


def _local_today(pbx: dict, at: datetime):
    from zoneinfo import ZoneInfo

    try:
        return at.astimezone(ZoneInfo(pbx.get("time_zone") or "Europe/Moscow")).date()
    except (KeyError, ValueError):
        return at.date()


def _services(pbx: dict, wanted: list[dict], at: datetime) -> list[dict]:
    """The PBX's new paid-services list (``pbx.services``, read by the monthly close).

    A service keeps its ``active_from`` while it stays connected; a new one starts today (PBX
    time). Fees are paid in advance for the calendar month (the monthly close on the 1st), so a
    service switched off simply leaves the list: the month it was paid for is not refunded.
    """
    today = _local_today(pbx, at).isoformat()
    old = {s.get("key"): s for s in pbx.get("services") or []}
    return [{"key": item["key"], "monthly_price": item["monthly_price"], "quantity": item["quantity"],
             "active_from": (old.get(item["key"]) or {}).get("active_from") or today}
            for item in wanted]


async def _charge_new_services(db, pbx: dict, services: list[dict], at: datetime) -> None:
    """Charge the rest of this month for services connected today (prorated, the day counts).

    Keyed like the monthly close (``fee:<YYYY-MM>:<pbx>:service:<key>``), so a service connected
    on the 1st before the close is charged once, and one switched off and on again within a month
    is not charged twice.
    """
    from datetime import date as _date

    from jobs.billing import ledger
    from jobs.billing.rating import SERVICES, Subscription, monthly_fees, service_title
    from jobs.billing.services import apply_transition

    today = _local_today(pbx, at)
    subs = [Subscription(f"{pbx['pbx_id']}:service:{s['key']}", f"{service_title(s['key'])}, ВАТС {pbx['pbx_id']}",
                         s["monthly_price"], s["quantity"], vat=SERVICES[s["key"]].vat,
                         active_from=_date.fromisoformat(s["active_from"]))
            for s in services if s["active_from"] == today.isoformat()]
    for fee in monthly_fees(subs, today.year, today.month):
        try:
            (result,) = await ledger.charge_fees(db, pbx["account_id"], [fee], at=at)
        except ledger.IdempotencyConflict:  # already paid for this month
            continue
        if result.transition:
            await apply_transition(db, pbx["account_id"], result.transition, result.balance_after)


async def _number_fees(db, pbx_id: int, raw: dict) -> dict[str, int]:
    """Validate ``{number: roubles}`` for numbers of this PBX; kopecks out."""
    from storage.repos.telephony import Numbers
    from web.operator.models import _rub

    out: dict[str, int] = {}
    repo = Numbers(db, Scope.pbx(pbx_id))
    for number, fee in raw.items():
        if await repo.find_one({"number": number}) is None:
            raise clash(f"number_fees.{number}", N_("This number is not connected to the PBX."))
        try:
            out[number] = 0 if fee in ("", 0, "0") else _rub(fee)
        except ValueError as exc:
            raise refuse(f"number_fees.{number}", str(exc)) from None
    return out


async def _save_number_fees(db, pbx: dict, fees: dict[str, int], actor: dict) -> None:
    from storage.repos.telephony import Numbers

    repo = Numbers(db, Scope.pbx(pbx["pbx_id"]))
    for number, fee in fees.items():
        before = await repo.find_one({"number": number})
        if int(before.get("monthly_fee") or 0) == fee:
            continue
        await repo.update_one({"number": number}, {"$set": {"monthly_fee": fee}})
        await audit(db, Scope.pbx(pbx["pbx_id"]), actor=actor, section="operator.pbxes", operation="number_fee",
                    object={"type": "number", "id": number, "name": number},
                    before={"monthly_fee": int(before.get("monthly_fee") or 0)}, after={"monthly_fee": fee})


async def pbx_numbers(db, pbx_id: int) -> list[dict]:
    """The PBX's numbers with their monthly fees (for the console's fees panel)."""
    from storage.repos.telephony import Numbers

    return await Numbers(db, Scope.pbx(pbx_id)).find({}, sort=[("number", 1)])


async def block_pbx(db, pbx_id: int, data, actor: dict, at: datetime | None = None) -> dict:
    """Operator block (traffic abuse): until ``data.until`` (or until unblocked), with a reason."""
    at = at or clock.now()
    if data.until is not None and data.until <= at:
        raise refuse("until", N_("The end of the block must be in the future."))
    block = {"until": data.until, "reason": data.reason, "at": at, "by": actor.get("login")}
    return await _pbx_change(db, pbx_id, {"operator_block": block}, actor, "block")


async def pbx_sip_domains(db, pbx_id: int) -> list[str]:
    """``@<domain>`` for each SIP domain of the PBX: what to flush when its phones must stop."""
    from storage.repos.telephony import SipDomains

    return ["@" + d["name"] for d in await SipDomains(db, Scope.pbx(pbx_id)).find({})]


async def unblock_pbx(db, pbx_id: int, actor: dict) -> dict:
    return await _pbx_change(db, pbx_id, {"operator_block": None}, actor, "unblock")


async def convert_demo(db, pbx_id: int, actor: dict, edition: str | None = None,
                       at: datetime | None = None) -> dict:
    """Turn a demo into a paid PBX (within 4 weeks of registration, blocked or not)."""
    at = at or clock.now()
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    if pbx.get("status") != "demo":
        raise AppError(409, "not_demo", N_("This PBX is not a demo."))
    if not can_convert_demo(pbx, at):
        raise AppError(409, "conversion_expired",
                       N_("A demo can be converted within 4 weeks of registration; this one is older."))
    await _check_refs(db, edition, None)
    demo = dict(pbx.get("demo") or {})
    demo["converted_at"] = at
    changes: dict[str, Any] = {"status": "active", "demo": demo}
    if edition:
        changes["edition"] = edition
    view = await _pbx_change(db, pbx_id, changes, actor, "convert_demo")
    if edition:
        from web.access.service import drop_custom_roles_without_package

        await drop_custom_roles_without_package(db, pbx_id, actor)
    return view


async def archive_pbx(db, pbx_id: int, actor: dict, archived: bool = True) -> dict:
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    if pbx.get("status") == "deleted":
        raise AppError(409, "deleted", N_("This PBX has been deleted."))
    if archived:
        if pbx.get("status") == "archived":
            return await pbx_view(db, pbx_id)
        return await _pbx_change(db, pbx_id, {"status": "archived", "status_before_archive": pbx.get("status")},
                                 actor, "archive")
    if pbx.get("status") != "archived":
        return await pbx_view(db, pbx_id)
    return await _pbx_change(db, pbx_id, {"status": pbx.get("status_before_archive") or "active"},
                             actor, "restore")


# --- editions -----------------------------------------------------------------------------------
async def create_edition(db, data, actor: dict) -> dict:
    await ensure_default_editions(db)
    repo = Editions(db, Scope.platform())
    if await repo.find_one({"_id": data.code}) is not None:
        raise refuse("code", N_("An edition with this code already exists."), 409)
    doc = {"_id": data.code, **data.model_dump(exclude={"code"}), "created_at": clock.now(), "updated_at": clock.now()}
    await repo.insert_one(doc)
    await audit(db, Scope.platform(), actor=actor, section="operator.editions", operation="create",
                object={"type": "edition", "id": data.code, "name": doc["name"]}, before=None, after=doc)
    return doc


async def update_edition(db, code: str, data, actor: dict) -> dict:
    repo = Editions(db, Scope.platform())
    before = await get_edition(db, code)
    if before is None:
        raise AppError(404, "not_found", N_("No such edition."))
    # null means "leave as it is", like an absent field (the property-based run sent nulls: 500)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None}
    if "quotas" in changes:
        changes["quotas"] = {**(before.get("quotas") or {}), **changes["quotas"]}
    if "features" in changes:
        changes["features"] = {**(before.get("features") or {}), **changes["features"]}
    await repo.update_one({"_id": code}, {"$set": {**changes, "updated_at": clock.now()}})
    after = await get_edition(db, code)
    await audit(db, Scope.platform(), actor=actor, section="operator.editions", operation="update",
                object={"type": "edition", "id": code, "name": after.get("name")}, before=before, after=after)
    if (before.get("features") or {}).get("additional_roles") and not (after.get("features") or {}).get("additional_roles"):
        from web.access.service import drop_custom_roles_without_package

        for pbx in await Pbxes(db, Scope.platform()).find({"edition": code, "status": {"$ne": "deleted"}},
                                                          projection={"pbx_id": 1}):
            await drop_custom_roles_without_package(db, pbx["pbx_id"], actor)
    return after


# --- platform settings --------------------------------------------------------------------------
async def save_settings(db, settings, data, actor: dict) -> dict:
    """Store the operator's platform settings. An empty text clears a value (the environment
    default applies again); secrets left empty keep the stored value."""
    changes = data.model_dump(exclude_unset=True)
    if changes.get("default_tariff"):
        from storage.repos.billing import Tariffs

        if await Tariffs(db, Scope.platform()).find_one({"_id": changes["default_tariff"]}) is None:
            raise refuse("default_tariff", N_("There is no such tariff."))
    if changes.get("supplier") is not None:  # only the fields sent change; "" clears one
        stored = (await get_platform_settings(db)).get("supplier") or {}
        changes["supplier"] = {**stored, **data.supplier.model_dump(exclude_unset=True)}
    for secret in ("smtp_password", "sms_gateway_token"):
        if secret in changes and not changes[secret]:
            changes.pop(secret)
    for key, value in list(changes.items()):
        if isinstance(value, str) and not value.strip() and key not in ("offer_text", "support_contact"):
            changes[key] = None
    before, after = await save_platform_settings(db, changes)
    await audit(db, Scope.platform(), actor=actor, section="operator.settings", operation="update",
                object={"type": "platform_settings", "id": "platform", "name": "platform"},
                before=before, after=after)
    try:  # workers in this process read the new SMTP/SMS settings at their next delivery
        from jobs import context

        context.forget_overrides()
    except ImportError:  # jobs not installed with this server: standalone workers re-read in 30 s
        pass
    return after


# --- DID pool (the telephony services do the claims) -------------------------------------------
def expand_numbers(text: str) -> list[str]:
    """Numbers from the form: one per line or comma-separated, and ranges ``first-last`` of
    numbers that differ only in the tail (at most :data:`MAX_RANGE` in all)."""
    out: list[str] = []
    for part in (text or "").replace(",", "\n").replace(";", "\n").splitlines():
        part = part.strip().replace(" ", "")
        if not part:
            continue
        if "-" in part[1:]:
            first, last = part.split("-", 1) if not part.startswith("-") else (part, "")
            lo, hi = first.lstrip("+"), last.lstrip("+")
            if not (lo.isdigit() and hi.isdigit()) or len(lo) != len(hi) or int(hi) < int(lo):
                raise refuse("numbers", N_("A range must look like 74951234500-74951234599: two numbers of the same length, the first not larger."))
            if int(hi) - int(lo) + 1 + len(out) > MAX_RANGE:
                raise refuse("numbers", N_("At most 1000 numbers can be added at once."))
            plus = "+" if first.startswith("+") else ""
            out += [f"{plus}{n:0{len(lo)}d}" for n in range(int(lo), int(hi) + 1)]
        else:
            out.append(part)
        if len(out) > MAX_RANGE:
            raise refuse("numbers", N_("At most 1000 numbers can be added at once."))
    if not out:
        raise refuse("numbers", N_("Enter at least one number or range."))
    return out


def _rule_error(exc, lang: str) -> AppError:
    return AppError(422, "validation_error", INVALID, fields={exc.field or "numbers": exc.message(lang)})


async def did_add(db, text: str, actor: dict, lang: str) -> list[str]:
    from esl_control.routing.errors import RuleError
    from esl_control.model.numbers.services import DidPoolService

    numbers = expand_numbers(text)
    try:
        return await DidPoolService(db, actor).add(numbers)
    except RuleError as exc:
        raise _rule_error(exc, lang) from None


async def did_list(db, status: str | None, q: str, page: int, per_page: int) -> tuple[list[dict], int]:
    from storage.repos.telephony import DidPool

    repo = DidPool(db, Scope.platform())
    flt: dict[str, Any] = {}
    if status in ("free", "assigned"):
        flt["status"] = status
    if q:
        import re

        flt["_id"] = {"$regex": re.escape(q.strip().lstrip("+"))}
    total = await repo.count(flt)
    return await repo.find(flt, sort=[("_id", 1)], skip=(page - 1) * per_page, limit=per_page), total


async def did_assign(db, number: str, pbx_id: int, actor: dict, lang: str) -> dict:
    from esl_control.routing.errors import RuleError
    from esl_control.model.numbers.services import NumberService

    pbx = await get_pbx(db, pbx_id)
    if pbx is None or pbx.get("status") == "deleted":
        raise clash("pbx_id", N_("There is no such PBX."))
    from esl_control.model.quotas import check_quota

    await check_quota(db, pbx, "numbers")
    try:
        return await NumberService(db, pbx_id, actor).assign_platform(number)
    except RuleError as exc:
        from web.telephony.api_common import STATE_CODES

        if exc.code in STATE_CODES:  # not in the pool (or not free), taken: a clash with what is stored
            raise clash(exc.field or "number", exc.message(lang)) from None
        raise _rule_error(exc, lang) from None


async def did_release(db, number: str, actor: dict, lang: str) -> None:
    from esl_control.routing.errors import RuleError
    from storage.repos.telephony import DidPool, Numbers
    from esl_control.model.numbers.services import NumberService

    doc = await Numbers(db, Scope.platform()).find_one({"number": number, "kind": "platform"})
    if doc is None:
        entry = await DidPool(db, Scope.platform()).find_one({"_id": number})
        if entry is None:
            raise AppError(404, "not_found", N_("This number is not in the pool."))
        if entry.get("status") == "assigned":  # a claim left by a crash: free it
            await DidPool(db, Scope.platform()).update_one(
                {"_id": number}, {"$set": {"status": "free"}, "$unset": {"pbx_id": "", "assigned_at": ""}})
            await audit(db, Scope.platform(), actor=actor, section="operator.did_pool", operation="release",
                        object={"type": "did_pool", "id": number, "name": number},
                        before=entry, after={**entry, "status": "free"})
        return
    try:
        await NumberService(db, doc["pbx_id"], actor).delete(doc["_id"])
    except RuleError as exc:
        raise _rule_error(exc, lang) from None

"""The PBX's edition («версия продукта») in the cabinet: see it, and change it
(``/api/v1/finance/edition``, and the form of the Finance page posting to ``/finance/edition``).

Inventory A §4.1.1 (version change), PRODUCT.md §2/§10:

* only the account administrator or the PBX administrator may change it (Accountants see it);
* the editions offered are the operator's active editions, each with its quotas, feature flags
  and monthly fee; the current one is marked «ваша версия»;
* a downgrade is refused while the PBX uses more than the target edition allows — every quota the
  current usage exceeds is listed (e.g. «В версии «Базовая» сотрудников можно не больше 10, у вас
  14.»), and so is every feature in use that the target lacks (custom roles, conference rooms,
  voice menus): the user removes them first or picks another edition;
* the user ticks «I agree with the conditions of the edition change»; a balance below zero
  refuses the change (and disables the box on the page);
* the change takes effect immediately. An upgrade costs the difference of the monthly fees for
  the rest of the calendar month, counted in calendar days from today (PBX time zone) — a ledger
  fee entry keyed ``fee:<YYYY-MM>:<pbx>:edition-upgrade:<edition>`` (posted once per PBX, month and
  edition, whatever retries). A downgrade is not refunded: the month was paid in advance on the
  1st. Before this month's close has run the close itself charges the new edition's full fee, so
  no difference is charged then;
* the change is in the PBX's action log (section finance, before/after).
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from esl_control.model.quotas import menu_depth, storage_after, usage
from jobs.billing import ledger
from jobs.billing.rating import SERVICES, prorate, service_title
from pult import clock, i18n
from pult.errors import AppError
from pult.i18n import N_
from pult.money import format_rub
from storage.repos.audit import audit
from storage.repos.base import Scope, ScopedRepo
from storage.repos.billing import BillingPeriods, LedgerEntries
from storage.repos.tenants import (FEATURES, QUOTA_KINDS, Pbxes, account_balance, get_edition, get_pbx,
                                   list_editions)
from web.api_base import ApiHandler, Param, operation
from web.api_fields import must_be_true, requires
from web.finance.access import TARIFF_BASES, FinanceRoleMixin, check_finance_role
from web.handlers import PageHandler
from web.routes import route

INVALID = N_("Some fields are not filled in correctly.")
ONLY_ADMINS = N_("Only the account administrator or the PBX administrator may change the edition.")
AGREE = N_("Tick «I agree with the conditions of the edition change».")
SAME = N_("This is already your edition.")
NOT_OFFERED = N_("This edition is not offered; choose one from the list.")
FUNDS = N_("The account balance is below zero: top up the account before changing the edition.")
DOWNGRADE = N_("The PBX uses more than edition «%(edition)s» allows. Remove the excess or choose another edition.")
CONDITIONS = N_("The new edition applies at once. An upgrade costs the difference of the monthly fees for the rest of the calendar month, by days, charged now; from the next month the new edition's fee is charged. A downgrade is not refunded: the current month has been paid. Connected services keep their prices.")  # noqa: E501
DONE = N_("The edition has been changed.")
DONE_CHARGED = N_("The edition has been changed. The difference for the rest of the month, %(amount)s RUB, has been charged.")

#: one line of the downgrade refusal per exceeded quota: edition, its limit, the PBX's usage
EXCEEDED = {
    "employees": N_("Edition «%(edition)s» allows at most %(limit)s employees, you have %(used)s."),
    "numbers": N_("Edition «%(edition)s» allows at most %(limit)s numbers, you have %(used)s."),
    "groups": N_("Edition «%(edition)s» allows at most %(limit)s groups, you have %(used)s."),
    "schemes": N_("Edition «%(edition)s» allows at most %(limit)s schemes, you have %(used)s."),
    "ivr_levels": N_("Edition «%(edition)s» allows at most %(limit)s voice menu levels, a scheme of yours has %(used)s."),
    "conference_seats": N_("Edition «%(edition)s» allows at most %(limit)s conference participants, a room of yours has %(used)s."),
    "storage_mb": N_("Edition «%(edition)s» allows at most %(limit)s MB of files, you store %(used)s MB."),
}
#: features the target edition lacks while the PBX uses them: edition, how many objects use it
MISSING_FEATURE = {
    "additional_roles": N_("Edition «%(edition)s» has no additional roles, you have %(used)s custom roles."),
    "conferences": N_("Edition «%(edition)s» has no conferences, you have %(used)s conference rooms."),
    "voice_menu": N_("Edition «%(edition)s» has no voice menu, %(used)s of your schemes use one."),
}
PAGE_ERRORS = {"agree": AGREE, "same": SAME, "funds": FUNDS, "not_offered": NOT_OFFERED}


class EditionChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=requires("agree"))
    edition: str = Field(min_length=1, max_length=64, description="Code of an edition offered to clients")
    agree: bool = must_be_true("«I agree with the conditions of the edition change»")


class EditionStateOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    pbx_id: int
    current: dict | None
    editions: list[dict]
    can_change: bool
    funds_sufficient: bool


PBX_PARAM = Param("pbx_id", "query", {"type": "integer"},
                  N_("Another PBX of the account (account administrator only); default: your PBX"))


class _Counter(ScopedRepo):
    """A bare PBX-scoped view of a collection (reading only)."""

    def __init__(self, db, collection: str, pbx_id: int):
        self.collection = collection  # type: ignore[misc]
        super().__init__(db, Scope.pbx(pbx_id))


async def pbx_usage(db, pbx_id: int) -> dict[str, int]:
    """What the PBX uses now, per quota kind (counted kinds: how many objects; ``ivr_levels``: the
    deepest voice menu of any scheme; ``conference_seats``: the largest room; ``storage_mb``: the
    uploaded files) and per feature in use (``feature:<flag>``: how many objects need it)."""
    out = {kind: await usage(db, pbx_id, kind) for kind in ("employees", "numbers", "groups", "schemes")}
    schemes = await _Counter(db, "schemes", pbx_id).find({}, projection={"blocks": 1})
    depths = [menu_depth(s.get("blocks") or ()) for s in schemes]
    rooms = await _Counter(db, "conference_rooms", pbx_id).find({}, projection={"seats": 1})
    out["ivr_levels"] = max(depths, default=0)
    out["conference_seats"] = max((int(r.get("seats") or 0) for r in rooms), default=0)
    out["storage_mb"] = await storage_after(db, pbx_id, 0)
    out["feature:additional_roles"] = await _Counter(db, "roles", pbx_id).count({})
    out["feature:conferences"] = len(rooms)
    out["feature:voice_menu"] = sum(1 for d in depths if d)
    return out


def downgrade_problems(target: dict, used: dict[str, int]) -> list[tuple[str, dict]]:
    """Pure check: ``(message id, values)`` for each quota of ``target`` the usage exceeds and each
    feature in use that ``target`` lacks (empty: the PBX fits the edition)."""
    name = i18n.Localized(target, "name", target["_id"])  # in the reader's language when shown
    out: list[tuple[str, dict]] = []
    quotas = target.get("quotas") or {}
    for kind in QUOTA_KINDS:
        limit = quotas.get(kind)
        if limit is not None and used.get(kind, 0) > int(limit):
            out.append((EXCEEDED[kind], {"edition": name, "limit": int(limit), "used": used[kind]}))
    features = target.get("features") or {}
    for flag, message in MISSING_FEATURE.items():
        if not features.get(flag, False) and used.get(f"feature:{flag}", 0) > 0:
            out.append((message, {"edition": name, "used": used[f"feature:{flag}"]}))
    return out


def _today(pbx: dict, now: datetime):
    try:
        tz = ZoneInfo(pbx.get("time_zone") or "Europe/Moscow")
    except (KeyError, ValueError):
        tz = ZoneInfo("Europe/Moscow")
    return now.astimezone(tz).date()


async def upgrade_charge(db, pbx: dict, current: dict | None, target: dict, now: datetime) -> tuple[int, str]:
    """``(kopecks, period)`` an upgrade from ``current`` to ``target`` costs today: the fee
    difference prorated over the calendar days left in the month, today included; 0 for a
    downgrade, for a demo/archived PBX (no fees), and before this month's close has run (it will
    charge the new edition's full fee)."""
    today = _today(pbx, now)
    period = f"{today.year:04d}-{today.month:02d}"
    diff = int(target.get("monthly_fee") or 0) - int((current or {}).get("monthly_fee") or 0)
    if diff <= 0 or pbx.get("status") in ("demo", "archived", "deleted"):
        return 0, period
    closed = await BillingPeriods(db, Scope.platform()).get({"_id": period})
    if not closed or closed.get("state") != "done":
        return 0, period
    amount, _days, _dim = prorate(diff, today.year, today.month, active_from=today)
    return amount, period


def _summary(ed: dict, current_code: str | None, lang: str = "ru") -> dict:
    fee = int(ed.get("monthly_fee") or 0)
    return {"id": ed["_id"], "name": i18n.localized(ed, "name", lang) or ed["_id"], "monthly_fee": fee,
            "monthly_fee_text": format_rub(fee), "current": ed["_id"] == current_code,
            "quotas": {k: (ed.get("quotas") or {}).get(k) for k in QUOTA_KINDS},
            "features": {f: bool((ed.get("features") or {}).get(f, False)) for f in FEATURES}}


async def _pbx_of(handler) -> dict:
    """The PBX the request acts on: the user's own, or (query ``pbx_id``) another PBX of the same
    account for the account administrator. Any other PBX — another tenant's — is 404."""
    from web.enforce import request_rights

    user = handler.current_user
    own = user.get("pbx_id")
    raw = handler.get_query_argument("pbx_id", "")
    pbx_id = int(raw) if raw.isdigit() else (own if not raw else None)
    pbx = await get_pbx(handler.ctx.store.db, pbx_id) if isinstance(pbx_id, int) else None
    if pbx is not None and pbx_id != own:
        account_admin = (await request_rights(handler)).role.base == "account_admin"
        if not account_admin or pbx.get("account_id") != user.get("account_id"):
            pbx = None
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    return pbx


async def edition_state(handler) -> dict:
    """The PBX's edition, the editions offered (with the usage each one refuses), the connected
    paid services, and whether this user may change the edition now."""
    from web.enforce import request_rights

    db = handler.ctx.store.db
    pbx = await _pbx_of(handler)
    code = pbx.get("edition")
    current = await get_edition(db, code)
    used = await pbx_usage(db, pbx["pbx_id"])
    rights = await request_rights(handler)
    allowed = rights.role.base in TARIFF_BASES and rights.can("finance", "edit")
    funds = not isinstance(pbx.get("account_id"), int) or await account_balance(db, pbx["account_id"]) >= 0
    now = clock.now()
    offered = []
    for ed in await list_editions(db, active_only=True):
        item = _summary(ed, code, handler.lang)
        item["problems"] = [handler._(m, **v) for m, v in downgrade_problems(ed, used)]
        item["upgrade_charge"], _ = await upgrade_charge(db, pbx, current, ed, now) if not item["current"] else (0, "")
        item["upgrade_charge_text"] = format_rub(item["upgrade_charge"])
        offered.append(item)
    services = [{"key": s.get("key"), "title": service_title(s["key"], handler.lang),
                 "monthly_price_text": format_rub(int(s.get("monthly_price") or 0) * int(s.get("quantity") or 1))}
                for s in pbx.get("services") or [] if s.get("key") in SERVICES]
    charged = 0
    if code and isinstance(pbx.get("account_id"), int):  # what the last upgrade to it cost (the notice)
        today = _today(pbx, now)
        entry = await LedgerEntries(db, Scope.account(pbx["account_id"])).get(
            {"key": f"fee:{today.year:04d}-{today.month:02d}:{pbx['pbx_id']}:edition-upgrade:{code}"})
        charged = -int(entry["amount"]) if entry else 0
    return {"pbx_id": pbx["pbx_id"], "current": _summary(current, code, handler.lang) if current else None,
            "upgrade_charged_this_month": charged,
            "editions": offered, "usage": {k: used[k] for k in QUOTA_KINDS}, "services": services,
            "may_change": allowed, "funds_sufficient": funds,
            "can_change": allowed and funds and len(offered) > (1 if current else 0)}


async def change_pbx_edition(db, pbx_id: int, code: str, actor: dict, *, now: datetime | None = None,
                             translate=lambda m, **v: m % v if v else m) -> dict:
    """Apply the tenant's edition change (checks in the module docstring); returns
    ``{"pbx": updated PBX, "charged": kopecks}``. Raises ``AppError`` (422 with a field message)
    for an edition not offered, the current one, a balance below zero or a downgrade the usage
    does not fit (its message lists every problem, translated by ``translate``)."""
    now = now or clock.now()
    pbx = await get_pbx(db, pbx_id)
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    target = await get_edition(db, code)
    if target is None or not target.get("active"):
        # the request is well formed; what is offered, current or affordable is the platform's
        # state: 409 (422 is for a body that is wrong in itself)
        raise AppError(409, "conflict", INVALID, fields={"edition": NOT_OFFERED})
    before_code = pbx.get("edition")
    if before_code == code:
        raise AppError(409, "conflict", INVALID, fields={"edition": SAME})
    account_id = pbx.get("account_id")
    if isinstance(account_id, int) and await account_balance(db, account_id) < 0:
        raise AppError(409, "conflict", INVALID, fields={"agree": FUNDS})
    problems = downgrade_problems(target, await pbx_usage(db, pbx_id))
    if problems:
        name = i18n.Localized(target, "name", code)
        text = " ".join([translate(DOWNGRADE, edition=name)] + [translate(m, **v) for m, v in problems])
        raise AppError(409, "edition_downgrade", text, fields={"edition": text})
    current = await get_edition(db, before_code)
    # conditional on the edition read above: of two simultaneous requests only one applies
    won = await Pbxes(db, Scope.pbx(pbx_id)).update_one(
        {"edition": before_code}, {"$set": {"edition": code, "updated_at": now}})
    if not won:
        raise AppError(409, "conflict", N_("The edition has just been changed; reload the page."))
    amount, period = await upgrade_charge(db, pbx, current, target, now) if isinstance(account_id, int) else (0, "")
    charged = 0
    if amount:
        try:
            result = await ledger.charge(
                db, account_id, amount, key=f"fee:{period}:{pbx_id}:edition-upgrade:{code}", kind="fee",
                period=period, at=now,
                comment=f"{service_title('edition')} «{target.get('name')}», ВАТС {pbx_id}: доплата до конца месяца",
                meta={"from": before_code, "to": code, "vat": SERVICES["edition"].vat})
            charged = 0 if result.duplicate else amount
            if result.transition:
                from jobs.billing.services import apply_transition

                await apply_transition(db, account_id, result.transition, result.balance_after)
        except ledger.IdempotencyConflict:  # this edition's rest of the month was already paid
            charged = 0
    await audit(db, Scope.pbx(pbx_id), actor=actor, section="finance", operation="edition_change",
                object={"type": "pbx", "id": pbx_id, "name": pbx.get("name")},
                before={"edition": before_code}, after={"edition": code, "charged": charged})
    # an edition without the additional roles package deletes the custom roles (D §4.6.3.3)
    from web.access.service import drop_custom_roles_without_package

    await drop_custom_roles_without_package(db, pbx_id, actor)
    return {"pbx": await get_pbx(db, pbx_id), "charged": charged}


async def request_change(handler, code: str, agree: bool) -> dict:
    """Validate the user's request and apply it (see :func:`change_pbx_edition`)."""
    await check_finance_role(handler, TARIFF_BASES, ONLY_ADMINS)
    pbx = await _pbx_of(handler)
    if not agree:
        raise AppError(422, "validation_error", INVALID, fields={"agree": AGREE})
    return await change_pbx_edition(handler.ctx.store.db, pbx["pbx_id"], code, handler.audit_actor(),
                                    translate=handler._)


@route("/api/v1/finance/edition", access="tenant", section="finance")
class EditionApi(FinanceRoleMixin, ApiHandler):
    @operation(N_("The PBX's edition and the editions offered"), response=EditionStateOut, tags=["finance"],
               params=[PBX_PARAM], errors=(401, 403, 404))
    async def get(self) -> None:
        self.reply(await edition_state(self))

    @operation(N_("Change the PBX's edition (effective immediately; an upgrade is charged for the rest of the month)"),
               request=EditionChangeIn, response=EditionStateOut, tags=["finance"], params=[PBX_PARAM],
               errors=(400, 401, 403, 404, 409, 422))
    async def post(self) -> None:
        body = self.body(EditionChangeIn)
        result = await request_change(self, body.edition, body.agree)
        state = await edition_state(self)
        state["charged"] = result["charged"]
        self.reply(state)


@route("/finance/edition", access="tenant", section="finance")
class EditionFormPage(FinanceRoleMixin, PageHandler):
    """The Finance page's edition form (post/redirect/get; errors come back as a code)."""

    async def post(self) -> None:
        code = self.get_body_argument("edition", "").strip()
        try:
            result = await request_change(self, code, self.get_body_argument("agree", "") in ("1", "on", "true"))
        except AppError as exc:
            if exc.status_code not in (409, 422):
                raise
            fields = exc.fields or {}
            if exc.code == "edition_downgrade":
                err = "downgrade&target=" + "".join(c for c in code if c.isalnum() or c in "_-")[:64]
            elif fields.get("agree") == FUNDS:
                err = "funds"
            elif "agree" in fields:
                err = "agree"
            elif fields.get("edition") == SAME:
                err = "same"
            else:
                err = "not_offered"
            self.redirect(f"/finance?edition_error={err}#edition")
            return
        self.redirect(f"/finance?edition_done={1 if result['charged'] else 0}#edition")


def page_message(handler, state: dict | None) -> tuple[str | None, str | None]:
    """``(notice, error)`` of the edition panel after the form's redirect (codes, never free text:
    a downgrade refusal is recomputed from the target edition's current problems)."""
    done = handler.get_query_argument("edition_done", "")
    if done in ("0", "1"):
        charged = (state or {}).get("upgrade_charged_this_month") or 0
        if done == "1" and charged:
            return handler._(DONE_CHARGED, amount=format_rub(charged)), None
        return handler._(DONE), None
    code = handler.get_query_argument("edition_error", "")
    if code == "downgrade" and state:
        target = next((e for e in state["editions"] if e["id"] == handler.get_query_argument("target", "")), None)
        if target and target["problems"]:
            return None, " ".join([handler._(DOWNGRADE, edition=target["name"]), *target["problems"]])
    if code in PAGE_ERRORS:
        return None, handler._(PAGE_ERRORS[code])
    return None, None


__all__ = ["edition_state", "change_pbx_edition", "downgrade_problems", "pbx_usage", "upgrade_charge",
           "request_change", "EditionApi", "EditionChangeIn", "page_message"]

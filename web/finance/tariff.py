"""The PBX's call tariff in the cabinet: see it, and change it (``/api/v1/finance/tariff``, and the
form of the Finance page posting to ``/finance/tariff``).

Inventory A §4.1.1: the change is for the account administrator or the PBX administrator; the
user ticks «I agree with the conditions of the tariff change»; it takes effect immediately (the
next call that ends is rated by the new tariff); at most once per calendar month — a second
request is refused with the first day of the next month (RU/EN text from
:func:`jobs.billing.rating.check_tariff_change`). Changes are in the PBX's action log.
"""
from __future__ import annotations


from pydantic import BaseModel, ConfigDict, Field

from jobs.billing.rating import TariffChangeError
from jobs.billing.tariffs import (INSUFFICIENT, TariffRefused, change_pbx_tariff, funds_sufficient,
                                  get_tariff_doc, list_tariffs, next_change_from, pbx_tariff_id,
                                  tariff_summary)
from pult import clock, i18n
from pult.errors import AppError
from pult.i18n import N_
from pult.money import format_rub
from storage.repos.tenants import get_pbx
from web.api_base import ApiHandler, operation
from web.api_fields import must_be_true, requires
from web.finance.access import TARIFF_BASES, FinanceRoleMixin, check_finance_role
from web.handlers import PageHandler
from web.routes import route

INVALID = N_("Some fields are not filled in correctly.")
ONLY_ADMINS = N_("Only the account administrator or the PBX administrator may change the tariff.")
AGREE = N_("Tick «I agree with the conditions of the tariff change».")
SAME = N_("This is already your tariff.")
LIMIT = N_("The tariff can be changed once per calendar month. The next change is possible from %(date)s.")
PAGE_ERRORS = {"agree": AGREE, "same": SAME, "funds": INSUFFICIENT,
               "not_offered": N_("This tariff is not offered; choose one from the list.")}


class TariffChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=requires("agree"))
    tariff: str = Field(min_length=1, max_length=64, description="Code of a tariff offered to clients")
    agree: bool = must_be_true("«I agree with the conditions of the tariff change»")


class TariffStateOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    pbx_id: int
    current: dict | None
    tariffs: list[dict]
    can_change: bool
    next_change_from: str | None


async def tariff_state(handler) -> dict:
    """The PBX's tariff, the tariffs offered, and whether this user may change it now."""
    db = handler.ctx.store.db
    pbx_id = handler.current_user.get("pbx_id")
    pbx = await get_pbx(db, pbx_id) if isinstance(pbx_id, int) else None
    if pbx is None:
        raise AppError(404, "not_found", N_("No such PBX."))
    current_id = await pbx_tariff_id(db, pbx)
    current = await get_tariff_doc(db, current_id)
    nxt = next_change_from(pbx)
    from web.enforce import request_rights

    rights = await request_rights(handler)
    allowed = rights.role.base in TARIFF_BASES and rights.can("finance", "edit")
    funds = await funds_sufficient(db, pbx)

    def out(doc):
        s = tariff_summary(doc)
        s["name"] = i18n.localized(doc, "name", handler.lang) or doc["_id"]
        s["description"] = i18n.localized(doc, "description", handler.lang)
        s["prices_text"] = {k: format_rub(v) for k, v in s["prices"].items()}
        s["current"] = doc["_id"] == current_id
        return s
    return {"pbx_id": pbx["pbx_id"], "current": out(current) if current else None,
            "tariffs": [out(d) for d in await list_tariffs(db, public_only=True)],
            "can_change": allowed and nxt is None and funds,
            "may_change": allowed, "funds_sufficient": funds,
            "next_change_from": nxt.strftime("%d.%m.%Y") if nxt else None}


async def request_change(handler, tariff: str, agree: bool) -> dict:
    """Validate and apply the user's change; AppError with a field message otherwise."""
    await check_finance_role(handler, TARIFF_BASES, ONLY_ADMINS)
    if not agree:
        raise AppError(422, "validation_error", INVALID, fields={"agree": AGREE})
    try:
        return await change_pbx_tariff(handler.ctx.store.db, handler.current_user["pbx_id"], tariff,
                                       handler.audit_actor(), now=clock.now())
    except TariffRefused as exc:  # not offered, already current, balance below zero: the state, 409
        raise AppError(409, "conflict", INVALID, fields={exc.field: exc.message}) from None
    except TariffChangeError as exc:
        text = exc.text(handler.lang)
        raise AppError(409, "tariff_change_limit", text, fields={"tariff": text}) from None


@route("/api/v1/finance/tariff", access="tenant", section="finance")
class TariffApi(FinanceRoleMixin, ApiHandler):
    @operation(N_("The PBX's tariff and the tariffs offered"), response=TariffStateOut, tags=["finance"],
               errors=(401, 403, 404))
    async def get(self) -> None:
        self.reply(await tariff_state(self))

    @operation(N_("Change the PBX's tariff (once per calendar month, effective immediately)"),
               request=TariffChangeIn, response=TariffStateOut, tags=["finance"], errors=(400, 401, 403, 404, 409, 422))
    async def post(self) -> None:
        body = self.body(TariffChangeIn)
        await request_change(self, body.tariff, body.agree)
        self.reply(await tariff_state(self))


@route("/finance/tariff", access="tenant", section="finance")
class TariffFormPage(FinanceRoleMixin, PageHandler):
    """The Finance page's tariff form (post/redirect/get; errors come back as a message)."""

    async def post(self) -> None:
        try:
            await request_change(self, self.get_body_argument("tariff", "").strip(),
                                 self.get_body_argument("agree", "") in ("1", "on", "true"))
        except AppError as exc:
            if exc.status_code not in (409, 422):
                raise
            if exc.code == "tariff_change_limit":
                code = "limit"
            elif (exc.fields or {}).get("agree") == INSUFFICIENT:
                code = "funds"
            elif "agree" in (exc.fields or {}):
                code = "agree"
            elif (exc.fields or {}).get("tariff") == SAME:
                code = "same"
            else:
                code = "not_offered"
            self.redirect(f"/finance?tariff_error={code}#tariff")
            return
        self.redirect("/finance?tariff_done=1#tariff")


def page_message(handler, state: dict | None) -> tuple[str | None, str | None]:
    """``(notice, error)`` of the tariff panel after the form's redirect (codes, never free text)."""
    if handler.get_query_argument("tariff_done", ""):
        return handler._(N_("The tariff has been changed. Calls from now on are rated by the new tariff.")), None
    code = handler.get_query_argument("tariff_error", "")
    if code == "limit" and state and state.get("next_change_from"):
        return None, handler._(LIMIT, date=state["next_change_from"])
    if code in PAGE_ERRORS:
        return None, handler._(PAGE_ERRORS[code])
    return None, None


__all__ = ["tariff_state", "request_change", "TariffApi", "TariffChangeIn"]

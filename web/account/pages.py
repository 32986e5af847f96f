"""The account panel (inventory A §1.5) and the employees' login settings of a PBX, plus the
PBX-state API the cabinet's banner reads.

- ``/account`` — account number and name, company phone, balance to the kopeck, the top-up link
  (only for those Finance is open to: account administrator, Administrator, Accountant and roles
  derived from the last two — ``web.finance.access``; not a Company head), the PBX's state banner
  (blocked / demo days left) and quotas; requisites and contacts, seen and edited (validated,
  audited) by the same users; for the account administrator the account's PBXs (switch between
  them) and the demo conversion.
- ``/account/login-settings`` — captcha always on for this PBX (the seed-000 setting) and which
  ways of signing in its employees may use (e-mail, phone, SIP account); needs the Security
  settings right.
- ``GET /api/v1/account`` / ``GET /api/v1/pbx/state`` — the same facts as JSON.
"""
from __future__ import annotations


from pydantic import BaseModel, Field

from esl_control.model.quotas import FEATURE_LABELS, QUOTA_LABELS, quota_overview
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.tenants import (Pbxes, account_balance, can_convert_demo, demo_dates, get_account,
                                   get_edition, get_pbx, pbx_state)
from storage.repos.users import set_current_pbx
from web.account.details import (ACCOUNT_ADMIN_ONLY, LOGIN_METHODS, account_pbx, convert_own_demo,
                                 save_account_details, save_login_settings)
from web.pbx_state import STATUS_LABELS, banner_text, state_out
from web.api_base import ApiHandler, operation
from web.auth.login import actor
from web.handlers import PageHandler
from web.operator.pages import REQUISITES, money
from web.routes import route
from web.sections import Section, register_section

register_section(Section("account", N_("Account"), "/account", order=950, audience="tenant", icon="₽"))
register_section(Section("login_settings", N_("Login settings"), "/account/login-settings", order=960,
                         audience="tenant", right="restrictions.edit", icon="⚿"))

TOPUP_URL = "/finance/top-up"


async def finance_role(handler) -> bool:
    """Whether the user passes the Finance rule (``web.finance.access``): the account
    administrator, an Accountant, an Administrator or a custom role derived from the last two.
    A Company head, who holds the finance right by default, does not."""
    from web.finance.access import check_finance_role

    try:
        await check_finance_role(handler)
    except AppError:
        return False
    return True


async def can_top_up(handler) -> bool:
    """The top-up link (inventory A §1.5) is shown to whoever may open Finance → Top up: the
    Finance rule above *and* the finance right (a derived role may have Finance switched off)."""
    from web.enforce import request_rights

    if not await finance_role(handler):
        return False
    return (await request_rights(handler)).can("finance", "view")


async def panel_facts(handler) -> dict:
    """Everything the panel shows, for the page and the API."""
    user = handler.current_user
    db = handler.ctx.store.db
    pbx = await get_pbx(db, user["pbx_id"]) or {}
    account_id = pbx.get("account_id") or user.get("account_id")
    account = await get_account(db, account_id) if account_id else None
    balance = await account_balance(db, account_id) if account_id else 0
    now = clock.now()
    state = pbx_state(pbx, {"balance": balance}, now) if pbx else None
    edition = await get_edition(db, pbx.get("edition")) if pbx else None
    pbxes = []
    if user.get("realm") == "account" and account_id:
        pbxes = await Pbxes(db, Scope.account(account_id)).find({"status": {"$ne": "deleted"}},
                                                                sort=[("pbx_id", 1)])
    return {"pbx": pbx, "account": account or {}, "account_id": account_id, "balance": balance,
            "state": state, "edition": edition, "pbxes": pbxes, "now": now,
            "demo": demo_dates(pbx) if pbx.get("status") == "demo" else None,
            "convertible": bool(pbx) and can_convert_demo(pbx, now)}


@route("/account", access="tenant", name="account", personal=True)
class AccountPanelPage(PageHandler):
    section = "account"
    global_banner = False  # the panel shows the banner itself, with the demo conversion button

    async def get(self) -> None:
        await self._render(await panel_facts(self))

    async def _render(self, facts: dict, contact_errors: dict | None = None, contact_form: dict | None = None,
                      requisites_errors: dict | None = None, requisites_form: dict | None = None) -> None:
        self.render("account/panel.html", **facts, contact_errors=contact_errors or {}, requisites_fields=REQUISITES,
                    contact_form=contact_form or (facts["account"].get("contacts") or {}),
                    requisites_errors=requisites_errors or {},
                    requisites_form=requisites_form or (facts["account"].get("requisites") or {}),
                    may_edit_details=await finance_role(self) and bool(facts["account_id"]),
                    quotas=await quota_overview(self.ctx.store.db, facts["pbx"])
                    if facts["pbx"] else [], can_top_up=await can_top_up(self), topup_url=TOPUP_URL, money=money,
                    banner=banner_text(self, facts["state"]) if facts["state"] else None,
                    status_labels=STATUS_LABELS, quota_labels=QUOTA_LABELS, feature_labels=FEATURE_LABELS,
                    notice=self._("Saved.") if self.get_query_argument("done", "") else None,
                    is_account_admin=self.current_user.get("realm") == "account")

    async def post(self) -> None:
        """Contacts and requisites (account administrator, Accountant, Administrator); switching
        to another PBX of the account and converting a demo (account administrator only)."""
        user = self.current_user
        action = self.get_body_argument("action", "")
        if action in ("contacts", "requisites"):
            if not await finance_role(self):
                raise AppError(403, "forbidden", N_("Requisites and contacts are changed by the account administrator, accountants and administrators."))
            await (self._save_contacts() if action == "contacts" else self._save_requisites())
            return
        if user.get("realm") != "account":
            raise AppError(403, "forbidden", ACCOUNT_ADMIN_ONLY)
        try:
            pbx_id = int(self.get_body_argument("pbx_id", ""))
        except ValueError:
            raise AppError(400, "bad_request", N_("The request is not valid.")) from None
        if action == "switch":
            await account_pbx(self.ctx.store.db, user, pbx_id)
            await set_current_pbx(self.ctx.store, user["_id"], pbx_id)
            self.redirect("/account")
            return
        if action == "convert":
            await convert_own_demo(self.ctx.store.db, user, actor(self), pbx_id)
            self.redirect("/account?done=converted")
            return
        raise AppError(400, "bad_request", N_("The request is not valid."))

    async def _save_details(self, key: str, form: dict) -> dict | None:
        """The use case (:func:`web.account.details.save_account_details`); on refusal the panel
        again with the messages (422) and None."""
        try:
            await save_account_details(self.ctx.store.db, self.current_user, actor(self), key, form)
        except AppError as exc:
            if exc.status_code != 422:
                raise
            self.set_status(422)
            errors = {f: self._(m) for f, m in exc.fields.items()}
            facts = await panel_facts(self)
            prefix = {"contacts": "contact", "requisites": "requisites"}[key]  # the template's names
            await self._render(facts, **{f"{prefix}_errors": errors, f"{prefix}_form": form})
            return None
        self.redirect("/account?done=saved")
        return form

    async def _save_contacts(self) -> None:
        """Contact data (inventory A §2.6): person, phones and e-mails, each checked."""
        form = {"person": self.get_body_argument("person", "").strip() or None,
                "phones": [p for p in self.get_body_argument("phones", "").replace(";", ",").split(",") if p.strip()],
                "emails": [e for e in self.get_body_argument("emails", "").replace(";", ",").split(",") if e.strip()]}
        await self._save_details("contacts", form)

    async def _save_requisites(self) -> None:
        """Requisites (inventory A §2.6), checked like the operator's own (INN check digits, KPP,
        BIK, accounts); nothing is saved while any field is wrong."""
        from web.account.models import FIELDS

        await self._save_details("requisites", {k: self.get_body_argument(k, "") for k in FIELDS})


@route("/account/login-settings", access="tenant", name="login_settings", section="restrictions")
class LoginSettingsPage(PageHandler):
    section = "login_settings"

    async def get(self) -> None:
        pbx = await get_pbx(self.ctx.store.db, self.current_user["pbx_id"])
        self.render("account/login_settings.html", pbx=pbx or {}, notice=self._("Saved.")
                    if self.get_query_argument("done", "") else None)

    async def post(self) -> None:
        await save_login_settings(self.ctx.store.db, self.current_user["pbx_id"], actor(self),
                                  self.get_body_argument("captcha_always", "") == "1",
                                  {m: self.get_body_argument(f"login_{m}", "") == "1" for m in LOGIN_METHODS})
        self.redirect("/account/login-settings?done=saved")


class PbxStateOut(BaseModel):
    pbx_id: int
    status: str
    blocked: bool
    reasons: list[str]
    banner: dict | None


class QuotaOut(BaseModel):
    kind: str = Field(description="employees, numbers, storage_mb, … (the edition's quotas)")
    limit: int | None = Field(description="None: unlimited")
    used: int | None = Field(description="None: a per-object limit with no single figure (e.g. menu depth)")


class AccountPbxOut(BaseModel):
    pbx_id: int
    name: str | None
    status: str


class AccountPanelOut(BaseModel):
    account_id: int | None
    name: str | None
    company_phone: str | None
    balance: int
    can_top_up: bool
    pbx: PbxStateOut | None
    edition: str | None = Field(None, description="The PBX's edition code")
    convertible: bool = Field(False, description="A demo the account administrator may convert now "
                                                 "(POST /api/v1/account/pbxes/{pbx_id}/convert)")
    quotas: list[QuotaOut] = Field(default_factory=list, description="The edition's quotas and their use")
    pbxes: list[AccountPbxOut] = Field(default_factory=list,
                                       description="The account administrator: every PBX of the account")


def _state(handler, facts) -> PbxStateOut | None:
    if not facts["pbx"]:
        return None
    return PbxStateOut(pbx_id=facts["pbx"]["pbx_id"], status=facts["pbx"].get("status", "active"),
                       **state_out(handler, facts["state"]))


@route("/api/v1/account", access="tenant", personal=True)
class AccountApi(ApiHandler):
    @operation(N_("My account: number, balance in kopecks, PBX state"), response=AccountPanelOut, tags=["account"],
               errors=(401, 403))
    async def get(self) -> None:
        facts = await panel_facts(self)
        pbx = facts["pbx"]
        self.reply(AccountPanelOut(account_id=facts["account_id"], name=facts["account"].get("name"),
                                   company_phone=facts["account"].get("company_phone"), balance=facts["balance"],
                                   can_top_up=await can_top_up(self), pbx=_state(self, facts),
                                   edition=pbx.get("edition"), convertible=facts["convertible"],
                                   quotas=[QuotaOut(**q) for q in (await quota_overview(self.ctx.store.db, pbx)
                                                                    if pbx else [])],
                                   pbxes=[AccountPbxOut(pbx_id=p["pbx_id"], name=p.get("name"),
                                                        status=p.get("status") or "active") for p in facts["pbxes"]]))


@route("/api/v1/pbx/state", access="tenant", personal=True)
class PbxStateApi(ApiHandler):
    @operation(N_("Whether my PBX is blocked, why, and the banner text"), response=PbxStateOut,
               tags=["account"], errors=(401, 403, 404))
    async def get(self) -> None:
        facts = await panel_facts(self)
        state = _state(self, facts)
        if state is None:
            raise AppError(404, "not_found", N_("No such PBX."))
        self.reply(state)

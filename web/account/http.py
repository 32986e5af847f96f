"""The account panel's and the login settings' actions over the API (issue 13: every capability of
the cabinet over /api/v1), through the use cases the pages call (web/account/details.py).

- ``GET|PUT /api/v1/account/contacts`` and ``/requisites`` — the account's contact data and
  requisites (printed as the buyer on invoices and acts): the Finance section and role, like the
  finance API (an API key acts with its role);
- ``POST /api/v1/account/pbxes/{pbx_id}/convert`` — the account administrator converts a demo PBX
  of the account (a person's session: no API key is the account administrator);
- ``GET|PUT /api/v1/account/login-settings`` — captcha always on and the ways of signing in
  (the Security settings right).
"""
from __future__ import annotations

from pydantic import BaseModel, Field

from pult.i18n import N_
from storage.repos.tenants import get_pbx
from web.account.details import (account_details, convert_own_demo, login_settings_of, save_account_details,
                                 save_login_settings)
from web.account.models import AccountRequisitesIn
from web.api_base import ApiHandler, Param, operation
from web.api_models import Strict
from web.auth.login import actor
from web.finance.access import check_finance_role
from web.operator.models import Contacts
from web.routes import route

TAGS = ["account"]
DETAILS_ERRORS = (401, 403, 404, 422)
REFUSED = N_("Requisites and contacts are changed by the account administrator, accountants and administrators.")


class ContactsOut(BaseModel):
    person: str | None
    phones: list[str] = Field(description="E.164, e.g. +79161234567")
    emails: list[str]


class RequisitesOut(BaseModel):
    inn: str | None
    kpp: str | None
    ogrn: str | None
    bik: str | None
    bank: str | None
    corr_account: str | None
    settlement_account: str | None
    legal_address: str | None
    postal_address: str | None


class LoginMethods(Strict):
    email: bool = Field(True, description="By the e-mail of the user's card")
    phone: bool = Field(True, description="By the mobile phone of the user's card")
    sip: bool = Field(True, description="By a SIP account's login and password")


class LoginSettingsIn(Strict):
    captcha_always: bool = Field(description="Ask every login of this PBX for a captcha")
    login_methods: LoginMethods = Field(default_factory=LoginMethods,
                                        description="Which ways of signing in the PBX's employees may use")


class LoginSettingsOut(BaseModel):
    captcha_always: bool
    login_methods: dict[str, bool] = Field(description="email, phone, sip: open or not")


class ConvertedOut(BaseModel):
    pbx_id: int
    status: str = Field(description="active once converted")


class _DetailsApi(ApiHandler):
    key = ""

    async def prepare(self) -> None:
        await super().prepare()
        await check_finance_role(self, message=REFUSED)


@route("/api/v1/account/contacts", access="tenant", section="finance")
class AccountContactsApi(_DetailsApi):
    key = "contacts"

    @operation(N_("The account's contact data"), response=ContactsOut, tags=TAGS, errors=(401, 403, 404))
    async def get(self) -> None:
        self.reply(ContactsOut(**await account_details(self.ctx.store.db, self.current_user, self.key)))

    @operation(N_("Replace the account's contact data (the person, phones and e-mails)"), request=Contacts,
               response=ContactsOut, tags=TAGS, errors=DETAILS_ERRORS)
    async def put(self) -> None:
        value = await save_account_details(self.ctx.store.db, self.current_user, actor(self), self.key,
                                           self.json_object())
        self.reply(ContactsOut(**value))


@route("/api/v1/account/requisites", access="tenant", section="finance")
class AccountRequisitesApi(_DetailsApi):
    key = "requisites"

    @operation(N_("The account's requisites (the buyer on invoices and acts)"), response=RequisitesOut,
               tags=TAGS, errors=(401, 403, 404))
    async def get(self) -> None:
        self.reply(RequisitesOut(**await account_details(self.ctx.store.db, self.current_user, self.key)))

    @operation(N_("Replace the account's requisites (a field left out or empty is cleared)"),
               request=AccountRequisitesIn, response=RequisitesOut, tags=TAGS, errors=DETAILS_ERRORS,
               description="Checked like the operator's own: the INN with its check digits, KPP and BIK "
                           "of 9 digits, accounts of 20, the OGRN of 13 (15 for a sole trader); nothing "
                           "is saved while any field is wrong.")
    async def put(self) -> None:
        value = await save_account_details(self.ctx.store.db, self.current_user, actor(self), self.key,
                                           self.json_object())
        self.reply(RequisitesOut(**value))


@route("/api/v1/account/pbxes/{pbx_id}/convert", access="tenant", personal=True, params={"pbx_id": "[0-9]{1,9}"})
class AccountPbxConvertApi(ApiHandler):
    @operation(N_("Convert a demo PBX of my account to the full version (the account administrator)"),
               response=ConvertedOut, tags=TAGS, errors=(401, 403, 404, 409),
               params=[Param("pbx_id", "path", {"type": "integer", "minimum": 1}, "A PBX of the account",
                             required=True)],
               description="Within 4 weeks of registration; refused (409) while the balance does not cover "
                           "the edition's first month. The account administrator's session only.")
    async def post(self, pbx_id: str) -> None:
        view = await convert_own_demo(self.ctx.store.db, self.current_user, actor(self), int(pbx_id))
        self.reply(ConvertedOut(pbx_id=int(pbx_id), status=view.get("status") or "active"))


@route("/api/v1/account/login-settings", access="tenant", section="restrictions")
class LoginSettingsApi(ApiHandler):
    @operation(N_("Login settings of the PBX: captcha always, the ways employees sign in"),
               response=LoginSettingsOut, tags=TAGS, errors=(401, 403, 404))
    async def get(self) -> None:
        pbx = await get_pbx(self.ctx.store.db, self.current_user["pbx_id"]) or {}
        self.reply(LoginSettingsOut(**login_settings_of(pbx)))

    @operation(N_("Change the login settings of the PBX"), request=LoginSettingsIn, response=LoginSettingsOut,
               tags=TAGS, errors=(401, 403, 404, 422))
    async def put(self) -> None:
        data = self.body(LoginSettingsIn)
        saved = await save_login_settings(self.ctx.store.db, self.current_user["pbx_id"], actor(self),
                                          data.captcha_always, data.login_methods.model_dump())
        self.reply(LoginSettingsOut(**saved))

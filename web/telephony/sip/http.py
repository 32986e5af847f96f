"""REST API of SIP domains, SIP accounts and the SIP IP whitelist (``/api/v1/telephony/sip/…``).

Rights: section ``sip``. Passwords:

- never part of an account's representation; ``GET …/accounts/{id}/password`` reveals the stored
  one to users with *edit* in ``sip`` (a viewer cannot read secrets);
- set with ``PUT …/password`` (checked: ≥ 8 characters with digits, lower- and upper-case Latin
  letters) or generated with ``POST …/password/generate`` (the new password is in that answer
  only);
- when the account belongs to an employee whose user forbade it (personal protection,
  "passwords"), nobody else may see or change the password: 403 ``protected``.

``PUT``/``PATCH …/domains/{id}`` renames a domain (not the default one): its accounts and passive
numbers follow (``SipDomainService.rename``). Deleting a domain that still has accounts needs ``?confirm=true`` (409 ``confirmation_required``
otherwise); accounts or domains something refers to are not deleted (409 with the referrers).
"""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import ConfigDict, Field, StringConstraints

from esl_control.model.crypto import SecretBox
from esl_control.model.sip.schemas import (ACCESS_MODES, DOMAIN_LABEL_PATTERN, MAX_WHITELIST, PASSWORD_LENGTH,
                                           PASSWORD_SYMBOLS, SIP_LOGIN_PATTERN, generate_sip_password)
from esl_control.model.sip.services import SipAccessService, SipAccountService, SipDomainService
from esl_control.registrations import flush_registrations
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.users import Users
from web.api_base import Param, operation
from web.api_fields import UNIQUE_EXTENSION, WHITELIST_ENTRY_PATTERN, RefId, choice, documented
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import OBJECT_ID, CollectionApi, ItemApi, Out, TelApi, crud, id_param, matches

SECTION = "sip"
TAG = "telephony: SIP"


#: the SIP password rule (clean_sip_password): a digit, a lower- and an upper-case Latin letter,
#: only Latin letters, digits and PASSWORD_SYMBOLS, PASSWORD_LENGTH characters
SipPassword = Annotated[str, StringConstraints(pattern=(
    f"^(?=.*[0-9])(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9{re.escape(PASSWORD_SYMBOLS)}]"
    f"{{{PASSWORD_LENGTH[0]},{PASSWORD_LENGTH[1]}}}$"))]


class DomainIn(Strict):
    name: Annotated[str, StringConstraints(pattern=f"^{DOMAIN_LABEL_PATTERN}$")] = Field(
        description="The label: Latin letter first, ≥ 4 characters, Latin letters, digits and - (not last); "
                    "the domain is <label>.<platform SIP domain>")


class DomainOut(Out):
    id: str
    name: str
    default: bool = False
    created_at: UtcDatetime | None = None


class AccountIn(Strict):
    login: Annotated[str, StringConstraints(pattern=f"^({SIP_LOGIN_PATTERN})$")] = Field(
        description="Latin letter first, 4-64 characters (letters, digits, . _ -), or 000<digits>")
    password: SipPassword = Field(description="Write-only. On a change, empty (or left out) keeps the stored one")
    domain_id: RefId | None = Field(None, description="One of the PBX's SIP domains (default: its own)")
    employee_id: RefId | None = Field(None, description="The employee this account is a contact method of")
    forward_to: RefId | None = Field(None, description="Another SIP account to forward calls to")
    enabled: bool = Field(True, description="Off: the account can neither register nor call; its "
                                            "live registrations are dropped at once")


class AccountOut(Out):
    id: str
    login: str
    domain: str
    domain_id: str
    address: str = Field(description="login@domain")
    employee_id: str | None = None
    forward_to: str | None = None
    enabled: bool = True
    password_protected: bool = Field(False, description="The owner forbade others to see or change the password")
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class PasswordIn(Strict):
    password: SipPassword


class PasswordOut(Out):
    id: str
    password: str


class AccessEntry(Strict):
    value: str = Field(description="192.168.1.20, 192.168.1.16-32 or 192.168.*")
    comment: str = ""


class AccessIO(Strict):
    mode: choice(ACCESS_MODES) = Field("free", description="restricted: only the listed addresses may register")
    entries: list[AccessEntry] = Field(default_factory=list)


class AccessEntryIn(AccessEntry):
    # the document shows the common forms (a range such as 192.168.1.16-32 is taken too)
    value: str = Field(description="192.168.1.20, 192.168.1.16-32 or 192.168.*",
                       json_schema_extra=documented(pattern=WHITELIST_ENTRY_PATTERN))
    comment: str = Field("", json_schema_extra=documented(maxLength=100))


assert set(ACCESS_MODES) == {"free", "restricted"}


def _access_schema(s: dict) -> None:
    """The rules of clean_sip_access: restricted access lists at least one address; no address twice."""
    s["oneOf"] = [{"title": "free", "properties": {"mode": {"const": "free"}}},
                  {"title": "restricted", "properties": {"mode": {"const": "restricted"}, "entries": {"minItems": 1}},
                   "required": ["mode", "entries"]}]
    s[UNIQUE_EXTENSION] = {"entries": ["value"]}


class AccessIn(AccessIO):
    model_config = ConfigDict(**Strict.model_config, json_schema_extra=_access_schema)

    entries: list[AccessEntryIn] = Field(default_factory=list, json_schema_extra=documented(maxItems=MAX_WHITELIST))


class SipMixin:
    def accounts(self) -> SipAccountService:
        return self.service(SipAccountService, box=self.secret_box())

    async def protection_owner(self, account: dict) -> dict | None:
        """The user who forbade others to see/change this account's password (None: nobody)."""
        if not account.get("employee_id"):
            return None
        owner = await Users(self.db, Scope.pbx(self.pbx_id)).find_one(
            {"kind": "tenant", "employee_id": account["employee_id"]})
        if owner and (owner.get("protection") or {}).get("passwords") and \
                owner["_id"] != (self.current_user or {}).get("_id"):
            return owner
        return None

    async def check_password_access(self, account: dict) -> None:
        if await self.protection_owner(account) is not None:
            raise AppError(403, "protected",
                           N_("The owner of this SIP account has forbidden others to see or change its password."))

    async def account_out(self, account: dict) -> dict:
        return {**account, "password_protected": await self.protection_owner(account) is not None}


class DomainItem(ItemApi):
    def service_kwargs(self):
        return {"base_domain": self.ctx.settings.sip_base_domain, "box": SecretBox.from_settings(self.ctx.settings)}

    async def do_delete(self, id):
        domain = await self.svc().get(id)
        await self.svc().delete(id, confirm=self.bool_arg("confirm"))
        await flush_registrations(self.ctx.nodes, ["@" + domain["name"]])


class DomainCollection(CollectionApi):
    def service_kwargs(self):
        return {"base_domain": self.ctx.settings.sip_base_domain}


crud("/api/v1/telephony/sip/domains", "SipDomain", section=SECTION, tag=TAG, service_cls=SipDomainService,
     in_model=DomainIn, out_model=DomainOut, id_name="SIP domain id", methods=("list", "create", "get", "put", "patch", "delete"),
     collection_base=DomainCollection, item_base=DomainItem,
     list_params=[Param("q", description="Text to find in the domain name")],
     summaries={"list": N_("SIP domains of the PBX (its own domain first)"), "create": N_("Add a SIP domain"),
                "get": N_("One SIP domain"),
                "put": N_("Rename a SIP domain (not the default one); its accounts and passive numbers follow"),
                "patch": N_("Rename a SIP domain (not the default one); its accounts and passive numbers follow"),
                "delete": N_("Delete a SIP domain; with accounts it needs confirm=true and deletes them too")})


class AccountCollection(SipMixin, CollectionApi):
    def service_kwargs(self):
        return {"box": self.secret_box()}

    async def filter_items(self, items):
        q = self.text_arg("q")
        domain_id, employee_id = self.text_arg("domain_id"), self.text_arg("employee_id")
        out = []
        for a in items:
            if domain_id and a.get("domain_id") != domain_id or employee_id and a.get("employee_id") != employee_id:
                continue
            if matches(a, q, ("login", "address")):
                out.append(await self.account_out(a))
        return out

    async def do_create(self, data):
        return await self.account_out(await self.svc().create(data))


class AccountItem(SipMixin, ItemApi):
    def service_kwargs(self):
        return {"box": self.secret_box()}

    async def do_get(self, id):
        return await self.account_out(await self.svc().get(id))

    async def do_update(self, id, data):
        before = await self.svc().get(id)
        if data.get("password") not in (None, ""):
            await self.check_password_access(before)
        after = await self.svc().update(id, data)
        if before.get("enabled", True) and not after.get("enabled", True) or before["address"] != after["address"]:
            await flush_registrations(self.ctx.nodes, [before["address"]])  # off (or moved) at once
        return await self.account_out(after)

    async def do_delete(self, id):
        before = await self.svc().get(id)
        await self.svc().delete(id)
        await flush_registrations(self.ctx.nodes, [before["address"]])

    def patch_base(self, current):
        return {k: current.get(k) for k in ("login", "domain_id", "employee_id", "forward_to", "enabled")}


crud("/api/v1/telephony/sip/accounts", "SipAccount", section=SECTION, tag=TAG, service_cls=SipAccountService,
     in_model=AccountIn, out_model=AccountOut, id_name="SIP account id",
     collection_base=AccountCollection, item_base=AccountItem,
     list_params=[Param("q", description="Text to find in the login or address"),
                  Param("domain_id", description="Only accounts of this SIP domain"),
                  Param("employee_id", description="Only accounts of this employee")],
     summaries={"list": N_("SIP accounts of the PBX"), "create": N_("Create a SIP account"),
                "get": N_("One SIP account (without its password)"), "put": N_("Replace a SIP account"),
                "patch": N_("Change some fields of a SIP account"),
                "delete": N_("Delete a SIP account (refused while an employee or another account uses it)")})


@route("/api/v1/telephony/sip/accounts/{id}/password", access="tenant", section=SECTION, level="edit",
       params={"id": OBJECT_ID})
class AccountPasswordApi(SipMixin, TelApi):
    @operation(N_("Show the password of a SIP account (needs the right to change SIP settings)"),
               response=PasswordOut, tags=[TAG], params=[id_param("id", "SIP account id")],
               errors=(401, 403, 404, 409))
    async def get(self, id: str) -> None:
        svc = self.accounts()
        account = await svc.get(id)
        await self.check_password_access(account)
        self.reply_model(PasswordOut, {"id": id, "password": await svc.reveal_password(id)})

    @operation(N_("Set the password of a SIP account"), request=PasswordIn, response=AccountOut, tags=[TAG],
               params=[id_param("id", "SIP account id")], errors=(400, 401, 403, 404, 422))
    async def put(self, id: str) -> None:
        data = self.payload(PasswordIn)
        svc = self.accounts()
        account = await svc.get(id)
        await self.check_password_access(account)
        password = data.get("password")
        if not isinstance(password, str) or not password:
            raise RuleError("sip_account.password", field="password")
        body = {"login": account["login"], "domain_id": account["domain_id"], "employee_id": account.get("employee_id"),
                "forward_to": account.get("forward_to"), "enabled": account.get("enabled", True), "password": password}
        self.reply_model(AccountOut, await self.account_out(await svc.update(id, body)))


@route("/api/v1/telephony/sip/accounts/{id}/password/generate", access="tenant", section=SECTION,
       params={"id": OBJECT_ID})
class AccountPasswordGenerateApi(SipMixin, TelApi):
    @operation(N_("Generate a new password for a SIP account (shown in this answer only)"), response=PasswordOut,
               tags=[TAG], params=[id_param("id", "SIP account id")], errors=(401, 403, 404))
    async def post(self, id: str) -> None:
        svc = self.accounts()
        account = await svc.get(id)
        await self.check_password_access(account)
        password = generate_sip_password()
        await svc.update(id, {"login": account["login"], "domain_id": account["domain_id"],
                              "employee_id": account.get("employee_id"), "forward_to": account.get("forward_to"),
                              "password": password})
        self.reply_model(PasswordOut, {"id": id, "password": password})


@route("/api/v1/telephony/sip/access", access="tenant", section=SECTION)
class SipAccessApi(TelApi):
    @operation(N_("The SIP IP whitelist: free access or only the listed addresses"), response=AccessIO, tags=[TAG],
               errors=(401, 403))
    async def get(self) -> None:
        self.reply_model(AccessIO, await self.service(SipAccessService).get())

    @operation(N_("Change the SIP IP whitelist"), request=AccessIn, response=AccessIO, tags=[TAG],
               errors=(400, 401, 403, 422))
    async def put(self) -> None:
        data = self.payload(AccessIn)
        self.reply_model(AccessIO, await self.service(SipAccessService).update(data))

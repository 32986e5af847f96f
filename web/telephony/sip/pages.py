"""Cabinet pages of SIP: accounts (a generated password is shown once; a stored password only to
users who may change SIP settings, and never to others when the account's owner — a Company
head — forbade it in their personal protection, as in the API), domains (at most 3; the default one is not deletable;
deleting one asks first and says its accounts go too) and the SIP IP whitelist.

Rights: section ``sip``.
"""
from __future__ import annotations

from esl_control.model.sip.schemas import MAX_DOMAINS, PASSWORD_SYMBOLS, generate_sip_password
from esl_control.model.sip.services import SipAccessService, SipAccountService, SipDomainService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from storage.repos.telephony import SipAccounts
from web.routes import route
from web.sections import Section, register_section
from web.telephony.api_common import OBJECT_ID
from web.telephony.pages_common import Choices, DeletePage, FormPage, TelPage, object_pages
from web.telephony.sip.http import SipMixin

SECTION = "sip"
ID = {"id": OBJECT_ID}
TABS = (("accounts", "/telephony/sip", N_("SIP accounts")), ("domains", "/telephony/sip/domains", N_("SIP domains")),
        ("whitelist", "/telephony/sip/whitelist", N_("Access by IP address")),
        ("display", "/telephony/sip/display", N_("What internal calls show")))

register_section(Section("tel_sip", N_("SIP"), "/telephony/sip", order=160, audience="tenant", right="sip.view",
                         icon="⌁"))


class SipPage(SipMixin, TelPage):
    section = "tel_sip"
    rights_key = SECTION
    tabs = TABS
    tab = "accounts"
    list_url = "/telephony/sip"
    object_type = "sip_account"

    def accounts_svc(self) -> SipAccountService:
        return self.service(SipAccountService, box=self.secret_box())

    def domains_svc(self) -> SipDomainService:
        return self.service(SipDomainService, base_domain=self.ctx.settings.sip_base_domain, box=self.secret_box())

    def svc(self):
        return self.accounts_svc()


@route("/telephony/sip", access="tenant", section=SECTION, name="tel_sip")
class SipAccountsPage(SipPage):
    async def get(self) -> None:
        accounts = await self.accounts_svc().list()
        names = {e["id"]: e["name"] for e in await Choices(self).employees()}
        by_id = {a["id"]: a["address"] for a in accounts}
        self.show("telephony/sip_accounts.html", accounts=accounts, names=names, by_id=by_id)


# --- accounts ------------------------------------------------------------------------------------
class SipAccountForm(FormPage, SipPage):
    """The account form. A password is shown only right after it was made (created, typed or
    generated) or on request (:class:`SipAccountPasswordPage`) — unless the owner protected it."""

    form_template = "telephony/sip_account.html"

    async def blank(self) -> dict:
        return {"login": "", "domain_id": "", "employee_id": self.get_query_argument("employee", ""), "forward_to": ""}

    async def form_context(self, id, values: dict) -> dict:
        ch = Choices(self)
        others = [a for a in await ch.accounts() if a["id"] != id]
        protected = id is not None and await self.protection_owner(await self.accounts_svc().get(id)) is not None
        return {"domains": await ch.domains(), "employees": await ch.employees(), "others": others,
                "password": None, "created": False, "protected": protected, "symbols": PASSWORD_SYMBOLS}

    def form_values(self) -> dict:
        return {"login": self.field("login").strip(), "domain_id": self.field("domain_id") or None,
                "employee_id": self.field("employee_id") or None, "forward_to": self.field("forward_to") or None,
                "password": self.field("password")}

    def redisplay(self, data: dict, errors: dict) -> dict:
        return {**data, "password": ""}

    def protected_errors(self) -> dict:
        return {"form": self._("The owner of this SIP account has forbidden others to see or change its password.")}

    async def post(self, id: str | None = None) -> None:
        if id is None:
            await self.create()
            return
        svc = self.accounts_svc()
        current = await svc.get(id)
        data = self.form_values()
        if data["password"] and await self.protection_owner(current) is not None:
            await self.form_page(id, self.redisplay(data, {}), self.protected_errors(), 403)
            return
        try:
            doc = await svc.update(id, data)
        except RuleError as exc:
            errors = self.rule_errors(exc)
            await self.form_page(id, self.redisplay(data, errors), errors, 422)
            return
        if data["password"]:  # a new password typed or generated: show it this once
            await self.form_page(id, doc, password=data["password"])
            return
        self.redirect(f"/telephony/sip/accounts/{id}?done=saved")

    async def create(self) -> None:
        data = self.form_values()
        password = data["password"] or generate_sip_password()
        try:
            doc = await self.accounts_svc().create({**data, "password": password})
        except RuleError as exc:
            errors = self.rule_errors(exc)
            await self.form_page(None, self.redisplay(data, errors), errors, 422)
            return
        await self.form_page(doc["id"], doc, status=201, password=password, created=True)


object_pages("/telephony/sip/accounts", "tel_sip_account", SECTION, form=SipAccountForm, delete=SipPage)


@route("/telephony/sip/accounts/{id}/password", access="tenant", section=SECTION, level="edit", params=ID,
       name="tel_sip_account_password")
class SipAccountPasswordPage(SipAccountForm):
    """Show the stored password (POST: it is never in a URL, a page cache or a GET log); refused
    (403, the form with the reason) when the account's owner forbade others to see it."""

    async def get(self, id: str) -> None:
        await self.load(id)
        self.redirect(f"/telephony/sip/accounts/{id}")

    async def post(self, id: str) -> None:
        svc = self.accounts_svc()
        doc = await svc.get(id)
        if await self.protection_owner(doc) is not None:
            await self.form_page(id, doc, self.protected_errors(), 403)
            return
        await self.form_page(id, doc, password=await svc.reveal_password(id))


# --- domains -------------------------------------------------------------------------------------
@route("/telephony/sip/domains", access="tenant", section=SECTION, name="tel_sip_domains")
class SipDomainsPage(SipPage):
    tab = "domains"

    async def get(self) -> None:
        await self.page()

    async def page(self, values: dict | None = None, errors: dict | None = None, status: int = 200) -> None:
        domains = await self.domains_svc().list()
        counts: dict[str, int] = {}
        for a in await SipAccounts(self.db, self.domains_svc().scope).find({}, projection={"domain_id": 1}):
            counts[a["domain_id"]] = counts.get(a["domain_id"], 0) + 1
        self.show("telephony/sip_domains.html", status, domains=domains, counts=counts, values=values or {"name": ""},
                  errors=errors or {}, max_domains=MAX_DOMAINS, base=self.ctx.settings.sip_base_domain)

    async def post(self) -> None:
        values = {"name": self.field("name").strip()}
        try:
            await self.domains_svc().create(values)
        except RuleError as exc:
            await self.page(values, self.rule_errors(exc), 422)
            return
        self.redirect("/telephony/sip/domains?done=added")


class SipDomainDeletePage(DeletePage, SipPage):
    list_url = "/telephony/sip/domains"
    object_type = "sip_domain"
    tab = "domains"

    def svc(self):
        return self.domains_svc()

    async def get(self, id: str) -> None:
        self._accounts = await SipAccounts(self.db, self.domains_svc().scope).find({"domain_id": id},
                                                                                    sort=[("login", 1)])
        await super().get(id)

    def warning(self, doc: dict) -> str | None:
        if doc.get("default"):
            return self._("The default SIP domain cannot be deleted.")
        if not self._accounts:
            return None
        return self._("Its SIP accounts are deleted too (%(count)s): %(accounts)s. Phones using them stop working.",
                      count=len(self._accounts), accounts=", ".join(f"{a['login']}@{a['domain']}" for a in self._accounts))

    def extra_fields(self) -> dict:
        return {"confirm": "1"}

    async def do_delete(self, id: str) -> None:
        await self.domains_svc().delete(id, confirm=self.field("confirm") == "1")


object_pages("/telephony/sip/domains", "tel_sip_domain", SECTION, delete=SipDomainDeletePage)


@route("/telephony/sip/domains/{id}/rename", access="tenant", section=SECTION, level="edit", params=ID,
       name="tel_sip_domain_rename")
class SipDomainRenamePage(SipPage):
    """Rename a domain (D §4.6.1.1.1): its accounts and passive numbers follow; phones must then
    register to the new name. The default domain has no such page (404 would hide it; 422 says why)."""

    tab = "domains"

    async def get(self, id: str) -> None:
        doc = await self.domains_svc().get(id)
        base = "." + self.ctx.settings.sip_base_domain
        await self.form_page(id, doc, {"name": doc["name"].removesuffix(base)})

    async def form_page(self, id: str, doc: dict, values: dict, errors: dict | None = None, status: int = 200) -> None:
        accounts = await SipAccounts(self.db, self.domains_svc().scope).find({"domain_id": id}, projection={"_id": 1})
        self.show("telephony/sip_domain_rename.html", status, id=id, doc=doc, values=values, errors=errors or {},
                  count=len(accounts), base=self.ctx.settings.sip_base_domain)

    async def post(self, id: str) -> None:
        svc = self.domains_svc()
        doc = await svc.get(id)
        values = {"name": self.field("name").strip()}
        try:
            await svc.rename(id, values["name"])
        except RuleError as exc:
            await self.form_page(id, doc, values, self.rule_errors(exc), 422)
            return
        self.redirect("/telephony/sip/domains?done=saved")


# --- the IP whitelist ----------------------------------------------------------------------------
@route("/telephony/sip/whitelist", access="tenant", section=SECTION, name="tel_sip_whitelist")
class SipWhitelistPage(SipPage):
    tab = "whitelist"

    async def get(self) -> None:
        current = await self.service(SipAccessService).get()
        await self.page({"mode": current["mode"], "entries": "\n".join(
            (e["value"] + (" " + e["comment"] if e.get("comment") else "")) for e in current["entries"])})

    async def page(self, values: dict, errors: dict | None = None, status: int = 200) -> None:
        self.show("telephony/sip_whitelist.html", status, values=values, errors=errors or {},
                  remote_ip=self.request.remote_ip, readonly=not self.can_edit())

    async def post(self) -> None:
        text = self.field("entries")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        entries = []
        for ln in lines:
            value, _sep, comment = ln.partition(" ")
            entries.append({"value": value, "comment": comment.strip()})
        values = {"mode": self.field("mode", "free"), "entries": text}
        try:
            await self.service(SipAccessService).update({"mode": values["mode"], "entries": entries})
        except RuleError as exc:
            errors = self.rule_errors(exc)
            for f in list(errors):
                if f.startswith("entries["):
                    idx = int(f[len("entries["):].split("]")[0])
                    errors["entries"] = self._("Line %(n)s:", n=idx + 1) + " " + errors.pop(f)
            await self.page(values, errors, 422)
            return
        self.redirect("/telephony/sip/whitelist?done=saved")

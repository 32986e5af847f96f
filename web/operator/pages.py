"""The operator console's pages (platform operators only; RU/EN). Plain HTML forms posting back to
the page (post/redirect/get), so every page works without JavaScript; the same services as the
API do the work and the same models validate, so a field error reads the same in both."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tornado.escape import url_escape

from esl_control.model import node_sip, platform_gateways
from esl_control.model.quotas import FEATURE_LABELS, QUOTA_LABELS
from esl_control.registrations import flush_registrations
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.tenants import (FEATURES, QUOTA_KINDS, SECRET_KEYS, SUPPLIER_KEYS, effective_platform_settings,
                                   get_platform_settings, list_editions)
from web.pbx_state import REASON_LABELS, STATUS_LABELS, banner_text
from web.auth.login import actor
from web.handlers import PageHandler
from web.operator import services
from web.operator.api import int_id
from web.operator.models import (AccountIn, AccountPatch, BlockIn, EditionIn, EditionPatch, PbxIn, PbxPatch,
                                 SettingsIn, validate)
from web.routes import route
from web.sections import Section, register_section

register_section(Section("op_accounts", N_("Accounts"), "/operator/accounts", order=800, audience="operator", icon="▤"))
register_section(Section("op_pbxes", N_("PBXs"), "/operator/pbxes", order=810, audience="operator", icon="☷"))
register_section(Section("op_editions", N_("Editions"), "/operator/editions", order=820, audience="operator", icon="◈"))
register_section(Section("op_numbers", N_("DID pool"), "/operator/numbers", order=830, audience="operator", icon="#"))
register_section(Section("op_settings", N_("Platform settings"), "/operator/settings", order=840,
                         audience="operator", icon="✎"))
register_section(Section("op_nodes", N_("Node SIP settings"), "/operator/nodes", order=850,
                         audience="operator", icon="⇄"))
register_section(Section("op_gateways", N_("Platform gateways"), "/operator/gateways", order=860,
                         audience="operator", icon="⇆"))

PER_PAGE = 25
REQUISITES = (("inn", N_("INN")), ("kpp", N_("KPP")), ("ogrn", N_("OGRN")), ("bik", N_("BIK")),
              ("bank", N_("Bank")), ("corr_account", N_("Correspondent account")),
              ("settlement_account", N_("Settlement account")), ("legal_address", N_("Legal address")),
              ("postal_address", N_("Postal address")))
SAVED = {"saved": N_("Saved."), "created": N_("Created."), "sent": N_("The link has been sent."),
         "blocked": N_("The PBX is blocked."), "unblocked": N_("The PBX is unblocked."),
         "converted": N_("The demo is now a paid PBX."), "archived": N_("The PBX is archived."),
         "restored": N_("The PBX is restored."), "added": N_("Numbers added: %(n)s."),
         "assigned": N_("The number is assigned."), "released": N_("The number is back in the pool."),
         "deleted": N_("Deleted.")}


def money(kopecks) -> str:
    """``123456`` → ``1 234,56``: roubles with kopecks, thin-space thousands."""
    k = int(kopecks or 0)
    sign = "−" if k < 0 else ""
    r, c = divmod(abs(k), 100)
    return f"{sign}{r:,}".replace(",", "\u202f") + f",{c:02d}"


class OperatorPage(PageHandler):
    """Base of the console pages: form parsing, notices, error rendering."""

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(money=money, status_labels=STATUS_LABELS, reason_labels=REASON_LABELS,
                  quota_labels=QUOTA_LABELS, feature_labels=FEATURE_LABELS, requisites_fields=REQUISITES,
                  quota_kinds=QUOTA_KINDS, features=FEATURES, banner_text=lambda st: banner_text(self, st))
        return ns

    @property
    def actor(self) -> dict:
        return actor(self)

    def notice(self) -> str | None:
        key = self.get_query_argument("done", "")
        if key not in SAVED:
            return None
        try:
            n = int(self.get_query_argument("n", "0"))
        except ValueError:
            n = 0
        return self._(SAVED[key], n=n)

    def page_number(self) -> int:
        """The ``page`` of a paged list (1 when absent or not a number)."""
        try:
            return max(1, int(self.get_query_argument("page", "1")))
        except ValueError:
            return 1

    def arg(self, name: str) -> str:
        return self.get_body_argument(name, "").strip()

    def opt(self, name: str) -> str | None:
        return self.arg(name) or None

    def flag(self, name: str) -> bool:
        return self.get_body_argument(name, "") in ("1", "on", "true")

    def refusal(self, exc: AppError, shown: tuple[int, ...] = (422,)) -> tuple[str, dict]:
        """A refusal the form shows again (status in ``shown``): set that status and return the
        message and the per-field messages in the user's language; anything else is re-raised."""
        if exc.status_code not in shown:
            raise exc
        self.set_status(exc.status_code)
        return self._(exc.message, **exc.values), {f: self._(m) for f, m in exc.fields.items()}

    def local_datetime(self, name: str) -> datetime | None | str:
        """A ``datetime-local`` field in the page's time zone (a PBX page: the PBX's) → aware datetime; "" if empty;
        the raw text when it does not parse (the model then refuses it)."""
        raw = self.arg(name)
        if not raw:
            return None
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=self.tz())
        except ValueError:
            return raw


# --- accounts -----------------------------------------------------------------------------------
def account_form(h: OperatorPage, with_link: bool) -> dict:
    data = {"name": h.arg("name"), "email": h.arg("email"), "company_phone": h.opt("company_phone"),
            "requisites": {k: h.opt(f"requisites.{k}") for k, _ in REQUISITES},
            "contacts": {"person": h.opt("contacts.person"),
                         "phones": [p for p in h.arg("contacts.phones").replace(";", ",").split(",") if p.strip()],
                         "emails": [e for e in h.arg("contacts.emails").replace(";", ",").split(",") if e.strip()]}}
    if with_link:
        data["send_link"] = h.flag("send_link")
    return data


@route("/operator/accounts", access="operator", name="op_accounts")
class AccountsPage(OperatorPage):
    section = "op_accounts"

    async def get(self) -> None:
        page = self.page_number()
        q = self.get_query_argument("q", "").strip()[:100]
        items, total = await services.list_accounts(self.ctx.store.db, q, page, PER_PAGE)
        self.render("operator/accounts.html", items=items, total=total, page=page,
                    pages=max(1, -(-total // PER_PAGE)), q=q, notice=self.notice())


@route("/operator/accounts/new", access="operator")
class AccountNewPage(OperatorPage):
    section = "op_accounts"

    def get(self) -> None:
        self.render("operator/account_form.html", account=None, form={}, error=None, errors={})

    async def post(self) -> None:
        form = account_form(self, True)
        try:
            data = validate(AccountIn, form)
            doc = await services.create_account(self.ctx.store.db, data, self.actor)
        except AppError as exc:
            error, errors = self.refusal(exc)
            self.render("operator/account_form.html", account=None, form=form, error=error, errors=errors)
            return
        if data.send_link:
            from web.auth.recovery import send_account_link

            await send_account_link(self, doc["account_id"])
        self.redirect(f"/operator/accounts/{doc['account_id']}?done=created")


@route("/operator/accounts/{account_id}", access="operator", params={"account_id": "[^/]{1,40}"})
class AccountPage(OperatorPage):
    section = "op_accounts"

    async def get(self, account_id: str) -> None:
        account = await services.account_view(self.ctx.store.db, int_id(account_id))
        await self.show(account, None, {}, None)

    async def show(self, account: dict, error, errors, form) -> None:
        pbxes, _ = await services.list_pbxes(self.ctx.store.db, account_id=account["account_id"], per_page=100)
        self.render("operator/account.html", account=account, pbxes=pbxes, error=error, errors=errors,
                    form=form, notice=self.notice())

    async def post(self, account_id: str) -> None:
        db = self.ctx.store.db
        account = await services.account_view(db, int_id(account_id))
        if self.arg("action") == "send_link":
            from web.auth.recovery import send_account_link

            if not await send_account_link(self, account["account_id"]):
                raise AppError(409, "no_email", N_("The account has no registration e-mail."))
            self.redirect(f"/operator/accounts/{int_id(account_id)}?done=sent")
            return
        form = account_form(self, False)
        try:
            await services.update_account(db, account["account_id"], validate(AccountPatch, form), self.actor)
        except AppError as exc:
            error, errors = self.refusal(exc)
            await self.show(account, error, errors, form)
            return
        self.redirect(f"/operator/accounts/{account_id}?done=saved")


# --- PBXs ---------------------------------------------------------------------------------------
@route("/operator/pbxes", access="operator", name="op_pbxes")
class PbxesPage(OperatorPage):
    section = "op_pbxes"

    async def get(self) -> None:
        page = self.page_number()
        q = self.get_query_argument("q", "").strip()[:100]
        items, total = await services.list_pbxes(self.ctx.store.db, q=q, page=page, per_page=PER_PAGE)
        self.render("operator/pbxes.html", items=items, total=total, page=page,
                    pages=max(1, -(-total // PER_PAGE)), q=q, notice=self.notice())


@route("/operator/pbxes/new", access="operator")
class PbxNewPage(OperatorPage):
    section = "op_pbxes"

    async def get(self) -> None:
        await self.show({"account_id": self.get_query_argument("account_id", ""), "time_zone": "Europe/Moscow"},
                        None, {})

    async def show(self, form, error, errors) -> None:
        platform = effective_platform_settings(await get_platform_settings(self.ctx.store.db), self.ctx.settings)
        self.render("operator/pbx_new.html", form=form, error=error, errors=errors,
                    editions=await list_editions(self.ctx.store.db, active_only=True),
                    base_domain=platform["sip_base_domain"])

    async def post(self) -> None:
        form = {"account_id": self.arg("account_id"), "name": self.arg("name"), "edition": self.arg("edition"),
                "tariff": self.opt("tariff"), "time_zone": self.arg("time_zone") or "Europe/Moscow",
                "demo": self.flag("demo")}
        try:
            data = validate(PbxIn, {**form, "account_id": form["account_id"] or None})
            doc = await services.create_pbx(self.ctx.store.db, self.ctx.settings, data, self.actor)
        except AppError as exc:
            error, errors = self.refusal(exc, (409, 422))
            await self.show(form, error, errors)
            return
        self.redirect(f"/operator/pbxes/{doc['pbx_id']}?done=created")


@route("/operator/pbxes/{pbx_id}", access="operator", params={"pbx_id": "[^/]{1,40}"})
class PbxPage(OperatorPage):
    section = "op_pbxes"

    async def get(self, pbx_id: str) -> None:
        pbx = await services.pbx_view(self.ctx.store.db, int_id(pbx_id))
        self.use_time_zone(pbx.get("time_zone") or "Europe/Moscow")  # the PBX's dates in the PBX's time
        await self.show(pbx, None, {}, None)

    async def show(self, pbx: dict, error, errors, form) -> None:
        from storage.repos.tenants import can_convert_demo, demo_dates

        from jobs.billing.rating import SERVICES, service_title
        from jobs.billing.tariffs import default_tariff_id, list_tariffs

        db = self.ctx.store.db
        self.render("operator/pbx.html", pbx=pbx, error=error, errors=errors, form=form or {},
                    editions=await list_editions(db), notice=self.notice(),
                    tariffs=await list_tariffs(db), default_tariff=await default_tariff_id(db),
                    paid_services=[(k, service_title(k, self.lang)) for k in SERVICES
                                   if k not in ("edition", "number")],
                    numbers=await services.pbx_numbers(db, pbx["pbx_id"]),
                    demo=demo_dates(pbx) if pbx.get("status") == "demo" else None,
                    convertible=can_convert_demo(pbx, clock.now()))

    async def post(self, pbx_id: str) -> None:
        db, pid = self.ctx.store.db, int_id(pbx_id)
        pbx = await services.pbx_view(db, pid)
        self.use_time_zone(pbx.get("time_zone") or "Europe/Moscow")  # "until" is typed in the PBX's time
        action = self.arg("action")
        form = None
        try:
            if action == "block":
                form = {"until": self.arg("until"), "reason": self.arg("reason")}
                data = validate(BlockIn, {"until": self.local_datetime("until"), "reason": form["reason"]})
                await services.block_pbx(db, pid, data, self.actor)
                await flush_registrations(self.ctx.nodes, await services.pbx_sip_domains(db, pid))
                done = "blocked"
            elif action == "unblock":
                await services.unblock_pbx(db, pid, self.actor)
                done = "unblocked"
            elif action == "convert":
                await services.convert_demo(db, pid, self.actor, self.opt("edition"))
                done = "converted"
            elif action == "fees":
                form = fees_form(self)
                await services.update_pbx_fields(db, pid, validate(PbxPatch, form), self.actor)
                done = "saved"
            elif action in ("archive", "restore"):
                await services.archive_pbx(db, pid, self.actor, archived=action == "archive")
                if action == "archive":
                    await flush_registrations(self.ctx.nodes, await services.pbx_sip_domains(db, pid))
                done = "archived" if action == "archive" else "restored"
            else:
                form = {"name": self.arg("name"), "edition": self.arg("edition"), "tariff": self.opt("tariff"),
                        "time_zone": self.arg("time_zone"), "captcha_always": self.flag("captcha_always"),
                        "login_methods": {m: self.flag(f"login_{m}") for m in ("email", "phone", "sip")}}
                await services.update_pbx_fields(db, pid, validate(PbxPatch, form), self.actor)
                done = "saved"
        except AppError as exc:
            error, errors = self.refusal(exc, (409, 422))
            if action == "fees":  # name the service / number the message is about
                keys = [s["key"] for s in form["services"]]
                for f in list(errors):
                    parts = f.split(".")
                    if parts[0] == "services" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(keys):
                        errors[f"service.{keys[int(parts[1])]}"] = errors.pop(f)
                    elif parts[0] == "number_fees" and len(parts) > 1:
                        errors["number_fee." + f.split(".", 1)[1]] = errors.pop(f)
            await self.show(pbx, error, errors, form)
            return
        self.redirect(f"/operator/pbxes/{pid}?done={done}")


def fees_form(h: OperatorPage) -> dict:
    """The fees panel of the PBX page: ticked paid services with price and quantity, and the
    monthly fee of each number (roubles)."""
    from jobs.billing.rating import SERVICES

    services_in = []
    for key in SERVICES:
        if key in ("edition", "number") or not h.flag(f"service.{key}"):
            continue
        qty = h.arg(f"service.{key}.quantity") or "1"
        services_in.append({"key": key, "monthly_price": h.arg(f"service.{key}.price"),
                            "quantity": int(qty) if qty.isdigit() else qty})
    fees = {}
    for name in h.request.body_arguments:
        if name.startswith("number_fee."):
            fees[name.split(".", 1)[1]] = h.arg(name)
    return {"services": services_in, "number_fees": fees}


# --- editions -----------------------------------------------------------------------------------
def edition_form(h: OperatorPage, with_code: bool) -> dict:
    quotas = {}
    for kind in QUOTA_KINDS:
        raw = h.arg(f"quota.{kind}")
        quotas[kind] = None if raw == "" else (int(raw) if raw.lstrip("-").isdigit() else raw)
    fee = h.arg("monthly_fee")
    try:  # roubles with kopecks, parsed exactly (never through a float)
        from pult.money import parse_rub

        fee_kopecks = parse_rub(fee) if fee else 0
    except ValueError:
        fee_kopecks = fee
    data = {"name": h.arg("name"), "name_en": h.arg("name_en"), "monthly_fee": fee_kopecks, "quotas": quotas,
            "features": {f: h.flag(f"feature.{f}") for f in FEATURES}, "active": h.flag("active")}
    if with_code:
        data["code"] = h.arg("code")
    return data


@route("/operator/editions", access="operator", name="op_editions")
class EditionsPage(OperatorPage):
    section = "op_editions"

    async def get(self) -> None:
        self.render("operator/editions.html", items=await list_editions(self.ctx.store.db), notice=self.notice())


@route("/operator/editions/{code}", access="operator", params={"code": "[^/]{1,40}"})
class EditionPage(OperatorPage):
    section = "op_editions"

    async def get(self, code: str) -> None:
        from storage.repos.tenants import get_edition

        edition = None if code == "new" else await get_edition(self.ctx.store.db, code)
        if code != "new" and edition is None:
            raise AppError(404, "not_found", N_("No such edition."))
        self.render("operator/edition.html", edition=edition, form=None, error=None, errors={},
                    notice=self.notice())

    async def post(self, code: str) -> None:
        from storage.repos.tenants import get_edition

        db = self.ctx.store.db
        edition = None if code == "new" else await get_edition(db, code)
        if code != "new" and edition is None:
            raise AppError(404, "not_found", N_("No such edition."))
        form = edition_form(self, code == "new")
        try:
            if code == "new":
                doc = await services.create_edition(db, validate(EditionIn, form), self.actor)
                code = doc["_id"]
            else:
                await services.update_edition(db, code, validate(EditionPatch, form), self.actor)
        except AppError as exc:
            error, errors = self.refusal(exc, (409, 422))
            self.render("operator/edition.html", edition=edition, form=form, error=error, errors=errors, notice=None)
            return
        self.redirect(f"/operator/editions/{code}?done=saved")


# --- DID pool -----------------------------------------------------------------------------------
@route("/operator/numbers", access="operator", name="op_numbers")
class NumbersPage(OperatorPage):
    section = "op_numbers"

    async def get(self) -> None:
        await self.show(None, {}, {})

    async def show(self, error, errors, form) -> None:
        page = self.page_number()
        status = self.get_query_argument("status", "")
        q = self.get_query_argument("q", "").strip()[:20]
        items, total = await services.did_list(self.ctx.store.db, status or None, q, page, 50)
        self.render("operator/numbers.html", items=items, total=total, page=page, pages=max(1, -(-total // 50)),
                    status=status, q=q, error=error, errors=errors, form=form, notice=self.notice())

    async def post(self) -> None:
        db, action = self.ctx.store.db, self.arg("action")
        form = {"numbers": self.arg("numbers"), "number": self.arg("number"), "pbx_id": self.arg("pbx_id")}
        try:
            if action == "add":
                added = await services.did_add(db, form["numbers"], self.actor, self.lang)
                self.redirect(f"/operator/numbers?done=added&n={len(added)}")
                return
            if action == "assign":
                if not form["pbx_id"].isdigit():
                    raise services.refuse("pbx_id", N_("Enter the PBX number."))
                if not form["number"]:
                    raise services.refuse("number", N_("Enter the number."))
                await services.did_assign(db, form["number"], int(form["pbx_id"]), self.actor, self.lang)
                self.redirect("/operator/numbers?done=assigned")
                return
            if action == "release":
                await services.did_release(db, form["number"], self.actor, self.lang)
                self.redirect("/operator/numbers?done=released")
                return
            raise AppError(400, "bad_request", N_("The request is not valid."))
        except AppError as exc:
            error, errors = self.refusal(exc, (404, 409, 422))
            await self.show(error, errors, form)


# --- platform settings --------------------------------------------------------------------------
SUPPLIER_FIELDS = (("name", N_("Full name")), ("inn", N_("INN")), ("kpp", N_("KPP")), ("address", N_("Legal address")),
                   ("bank", N_("Bank")), ("bik", N_("BIK")), ("account", N_("Settlement account")),
                   ("corr_account", N_("Correspondent account")), ("head", N_("Head (signs invoices)")),
                   ("accountant", N_("Chief accountant")))
SETTING_TEXT = ("sip_base_domain", "offer_version", "support_contact", "smtp_host", "smtp_user", "mail_from",
                "sms_gateway_url")


@route("/operator/settings", access="operator", name="op_settings")
class SettingsPage(OperatorPage):
    section = "op_settings"

    async def get(self) -> None:
        await self.show(None, {}, None)

    async def show(self, error, errors, form) -> None:
        from jobs.billing.tariffs import list_tariffs

        stored = await get_platform_settings(self.ctx.store.db)
        self.render("operator/settings.html", stored=stored, form=form, supplier_fields=SUPPLIER_FIELDS,
                    tariffs=await list_tariffs(self.ctx.store.db),
                    effective=effective_platform_settings(stored, self.ctx.settings), secret_keys=SECRET_KEYS,
                    error=error, errors=errors, notice=self.notice())

    async def post(self) -> None:
        form: dict = {k: self.arg(k) for k in SETTING_TEXT}
        form["offer_text"] = self.get_body_argument("offer_text", "")
        for k in ("vat_rate", "captcha_after", "smtp_port"):
            raw = self.arg(k)
            form[k] = None if raw == "" else (int(raw) if raw.isdigit() else raw)
        form["captcha_mode"] = self.arg("captcha_mode") or None
        for k in ("smtp_starttls", "smtp_ssl"):
            raw = self.arg(k)
            form[k] = None if raw == "" else raw == "1"
        for k in SECRET_KEYS:
            form[k] = self.arg(k)
        form["supplier"] = {k: self.arg(f"supplier.{k}") for k in SUPPLIER_KEYS}
        form["default_tariff"] = self.arg("default_tariff")
        try:
            data = validate(SettingsIn, {k: v for k, v in form.items() if not (k == "offer_version" and v == "")})
            await services.save_settings(self.ctx.store.db, self.ctx.settings, data, self.actor)
        except AppError as exc:
            error, errors = self.refusal(exc)
            await self.show(error, errors, form)
            return
        self.redirect("/operator/settings?done=saved")


# --- FreeSWITCH nodes: SIP settings -------------------------------------------------------------
NODE_SIP_LABELS = {
    "sip_ip": N_("SIP address of the node"), "rtp_ip": N_("Media (RTP) address of the node"),
    "ext_sip_ip": N_("Public SIP address (NAT)"), "ext_rtp_ip": N_("Public media address (NAT)"),
    "internal_port": N_("SIP port for phones (profile internal)"),
    "external_port": N_("SIP port for trunks and SIP numbers (profile external)"),
    "rtp_start_port": N_("RTP ports from"), "rtp_end_port": N_("RTP ports to"),
}


@route("/operator/nodes", access="operator", name="op_nodes")
class NodesSipPage(OperatorPage):
    section = "op_nodes"

    async def get(self) -> None:
        db = self.ctx.store.db
        items = [await node_sip.node_sip_view(db, n) for n in (self.ctx.settings.nodes or [])]
        self.render("operator/nodes.html", items=items, labels=NODE_SIP_LABELS)


@route("/operator/nodes/{node}", access="operator", params={"node": "[^/]{1,64}"})
class NodeSipPage(OperatorPage):
    section = "op_nodes"

    async def get(self, node: str) -> None:
        found = node_sip.find_node(self.ctx.settings, node)
        await self.show(await node_sip.node_sip_view(self.ctx.store.db, found), None, {}, None)

    async def show(self, view: dict, error, errors, form) -> None:
        self.render("operator/node.html", view=view, form=form, labels=NODE_SIP_LABELS,
                    address_fields=node_sip.ADDRESS_FIELDS, port_fields=node_sip.PORT_FIELDS + node_sip.RTP_FIELDS,
                    error=error, errors=errors, notice=self.notice())

    async def post(self, node: str) -> None:
        found = node_sip.find_node(self.ctx.settings, node)
        db = self.ctx.store.db
        form = {k: self.arg(k) for k in node_sip.FIELDS}
        try:
            await node_sip.save_node_sip(db, found, form, self.actor)
        except AppError as exc:
            error, errors = self.refusal(exc)
            await self.show(await node_sip.node_sip_view(db, found), error, errors, form)
            return
        self.redirect(f"/operator/nodes/{url_escape(found.name, plus=False)}?done=saved")


# --- platform gateways (esl_control.model.platform_gateways: one use case, save_platform_gateways)
GATEWAY_LABELS = {
    "name": N_("Name"), "proxy": N_("Carrier address (host[:port])"), "realm": N_("Realm (empty: the address)"),
    "username": N_("User name"), "password": N_("Password"), "register": N_("Register with the carrier"),
    "transport": N_("Transport"), "caller_id_in_from": N_("Caller id in the From header"),
    "enabled": N_("Enabled"),
}


def _editable(g: dict) -> dict:
    """A stored gateway as the save use case takes it back (the password kept: left out)."""
    return {k: g.get(k) for k in platform_gateways.FIELDS if k != "password"}


@route("/operator/gateways", access="operator", name="op_gateways")
class PlatformGatewaysPage(OperatorPage):
    section = "op_gateways"

    async def get(self) -> None:
        await self.show(None)

    async def show(self, error) -> None:
        view = await platform_gateways.platform_gateways_view(self.ctx.store.db)
        self.render("operator/gateways.html", gateways=view["gateways"], error=error, errors={},
                    notice=self.notice())

    async def post(self) -> None:
        """Move a gateway up, or delete it: the whole list saved again, in its new order."""
        db = self.ctx.store.db
        items = [_editable(g) for g in (await platform_gateways.platform_gateways_view(db))["gateways"]]
        gid, action = self.arg("id"), self.arg("action")
        index = next((i for i, g in enumerate(items) if g["id"] == gid), None)
        if index is None or action not in ("up", "delete"):
            raise AppError(404, "not_found", N_("Nothing was found at this address."))
        if action == "delete":
            del items[index]
        elif index > 0:
            items[index - 1], items[index] = items[index], items[index - 1]
        try:
            await platform_gateways.save_platform_gateways(db, items, self.actor)
        except AppError as exc:
            error, _ = self.refusal(exc)
            await self.show(error)
            return
        self.redirect("/operator/gateways?done=" + ("deleted" if action == "delete" else "saved"))


@route("/operator/gateways/{gateway_id}", access="operator", params={"gateway_id": "[a-z0-9]{1,16}"})
class PlatformGatewayPage(OperatorPage):
    section = "op_gateways"

    async def _find(self, gateway_id: str) -> tuple[list[dict], int | None]:
        items = [_editable(g) for g in
                 (await platform_gateways.platform_gateways_view(self.ctx.store.db))["gateways"]]
        if gateway_id == "new":
            return items, None
        for i, g in enumerate(items):
            if g["id"] == gateway_id:
                return items, i
        raise AppError(404, "not_found", N_("There is no such gateway (it was deleted meanwhile?): reload the page."))

    async def get(self, gateway_id: str) -> None:
        items, index = await self._find(gateway_id)
        form = items[index] if index is not None else {"transport": "udp", "caller_id_in_from": True,
                                                        "enabled": True}
        self.show(gateway_id, form, None, {})

    def show(self, gateway_id: str, form: dict, error, errors) -> None:
        self.render("operator/gateway.html", gateway_id=gateway_id, form=form, labels=GATEWAY_LABELS,
                    transports=platform_gateways.TRANSPORTS, error=error, errors=errors, notice=self.notice())

    async def post(self, gateway_id: str) -> None:
        items, index = await self._find(gateway_id)
        form = {k: self.arg(k) for k in ("name", "proxy", "realm", "username", "transport")}
        form["password"] = self.get_body_argument("password", "")
        for flag in ("register", "caller_id_in_from", "enabled"):
            form[flag] = self.flag(flag)
        if index is None:
            index = len(items)
            items.append(form)
        else:
            form["id"] = gateway_id
            items[index] = form
        try:
            await platform_gateways.save_platform_gateways(self.ctx.store.db, items, self.actor)
        except AppError as exc:
            error, errors = self.refusal(exc, (409, 422))
            prefix = f"{index}."
            errors = {k[len(prefix):] if k.startswith(prefix) else k: v for k, v in errors.items()}
            form.pop("password", None)
            self.show(gateway_id, form, error, errors)
            return
        self.redirect("/operator/gateways?done=saved")


__all__ = ["money", "ZoneInfo"]

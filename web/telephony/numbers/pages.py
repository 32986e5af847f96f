"""Cabinet pages of numbers: the list (kind, status, comment, active scheme), adding a platform
DID from the operator's pool, connecting passive / active SIP numbers of other operators (the
registration status of active ones refreshes by itself), editing, moving numbers to another PBX
of the same account, and disconnecting.

Rights: section ``numbers``.
"""
from __future__ import annotations

import json

from esl_control.model.numbers.services import NumberService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.telephony import DidPool, Schemes, TelSettings
from storage.repos.tenants import Pbxes
from web.routes import route
from web.sections import Section, register_section
from web.telephony.api_common import OBJECT_ID
from web.telephony.dryrun.describe import now_headlines
from web.telephony.pages_common import Choices, DeletePage, TelPage, int_or_raw, object_pages

SECTION = "numbers"
ID = {"id": OBJECT_ID}
KINDS = {"platform": N_("Platform number"), "passive_sip": N_("SIP number, passive"),
         "active_sip": N_("SIP number, active")}
STATUS = {"up": (N_("Registered"), "pill-ok"), "down": (N_("Not registered"), "pill-bad"),
          "unknown": (N_("Checking…"), "pill-warn")}
POOL_SHOWN = 300

register_section(Section("tel_numbers", N_("Numbers"), "/telephony/numbers", order=110, audience="tenant",
                         right="numbers.view", icon="#"))


class NumberPage(TelPage):
    section = "tel_numbers"
    rights_key = SECTION
    list_url = "/telephony/numbers"
    object_type = "number"

    def svc(self) -> NumberService:
        return self.service(NumberService, box=self.secret_box())

    def status_of(self, n: dict) -> tuple[str, str] | None:
        if n.get("kind") != "active_sip":
            return None
        text, css = STATUS.get(n.get("status") or "unknown", STATUS["unknown"])
        return self._(text), css

    def get_template_namespace(self) -> dict:
        ns = super().get_template_namespace()
        ns.update(kinds=KINDS, status_of=self.status_of)
        return ns


@route("/telephony/numbers", access="tenant", section=SECTION, name="tel_numbers")
class NumbersPage(NumberPage):
    async def get(self) -> None:
        await self.page()

    async def page(self, which: str | None = None, values: dict | None = None, errors: dict | None = None,
                   status: int = 200, refs: list | None = None) -> None:
        numbers = await self.svc().list()
        scheme_ids = [n["scheme_id"] for n in numbers if n.get("scheme_id")]
        schemes = {s["_id"]: s["name"] for s in await Schemes(self.db, Scope.pbx(self.pbx_id)).find(
            {"_id": {"$in": scheme_ids}}, projection={"name": 1})}
        pool = [d["_id"] for d in await DidPool(self.db, Scope.platform()).find(
            {"status": "free"}, sort=[("_id", 1)], limit=POOL_SHOWN)] if self.can_edit() else []
        now_lines = await now_headlines(self, self.pbx_id, [n["number"] for n in numbers])
        self.show("telephony/numbers.html", status, numbers=numbers, schemes=schemes, pool=pool, now_lines=now_lines,
                  domains=await Choices(self).domains(), targets=await self.targets(), which=which,
                  values=values or {}, errors=(errors or {}) if which == "transfer" else {},
                  form_errors=errors or {}, refs=refs)

    async def targets(self) -> list[dict]:
        """The other working PBXs of the user's account (where numbers may move)."""
        mine = await Pbxes(self.db, Scope.pbx(self.pbx_id)).find_one()
        if not mine or not mine.get("account_id"):
            return []
        return [p for p in await Pbxes(self.db, Scope.account(mine["account_id"])).find(sort=[("pbx_id", 1)])
                if p["pbx_id"] != self.pbx_id and p.get("status", "active") == "active"]


@route("/telephony/numbers/status", access="tenant", section=SECTION, name="tel_numbers_status")
class NumbersStatusPage(NumberPage):
    """``{id: {text, css}}`` of the active SIP numbers (the list page refreshes its pills)."""

    async def get(self) -> None:
        out = {}
        for n in await self.svc().list():
            st = self.status_of(n)
            if st:
                out[n["id"]] = {"text": st[0], "css": st[1]}
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(json.dumps(out, ensure_ascii=False))


@route("/telephony/numbers/add", access="tenant", section=SECTION, level="edit", name="tel_numbers_add")
class NumberAddPage(NumbersPage):
    """One of three forms of the list page, told apart by ``kind``."""

    async def post(self) -> None:
        kind = self.field("kind")
        values = {k: self.field(k).strip() for k in ("number", "comment", "sip_user", "sip_domain_id",
                                                     "display_number", "gateway.host", "gateway.port",
                                                     "gateway.login", "gateway.sip_address")}
        svc = self.svc()
        try:
            if kind == "platform":
                await svc.assign_platform(values["number"], values["comment"])
            elif kind == "passive_sip":
                await svc.connect_passive({"number": values["number"], "comment": values["comment"],
                                           "sip_user": values["sip_user"] or None,
                                           "sip_domain_id": values["sip_domain_id"] or None,
                                           "display_number": values["display_number"] or None})
            elif kind == "active_sip":
                await svc.connect_active({"number": values["number"], "comment": values["comment"], "gateway": {
                    "host": values["gateway.host"], "port": int_or_raw(values["gateway.port"]),
                    "login": values["gateway.login"], "password": self.field("gateway.password"),
                    "sip_address": values["gateway.sip_address"] or None}})
            else:
                raise RuleError("value.choice", field="kind", value=kind, allowed=", ".join(KINDS))
        except RuleError as exc:
            await self.page(kind, values, self.rule_errors(exc), 422)
            return
        self.redirect("/telephony/numbers?done=added")


@route("/telephony/numbers/transfer", access="tenant", section=SECTION, level="edit", name="tel_numbers_transfer")
class NumberTransferPage(NumbersPage):
    async def post(self) -> None:
        ids = self.fields("ids")
        target = self.field("target_pbx_id")
        try:
            if not ids:
                raise RuleError("value.required", field="ids")
            await self.svc().transfer(ids, int(target) if target.isdigit() else -1)
        except RuleError as exc:
            refs = self.references(exc) if hasattr(exc, "references") else None
            await self.page("transfer", {"ids": ids, "target_pbx_id": target}, self.rule_errors(exc), 409 if refs else 422,
                            refs=refs)
            return
        self.redirect("/telephony/numbers?done=moved")


@route("/telephony/numbers/{id}", access="tenant", section=SECTION, params=ID, name="tel_number")
class NumberEditPage(NumberPage):
    async def get(self, id: str) -> None:
        await self.form_page(id, await self.svc().get(id))

    async def form_page(self, id: str, doc: dict, values: dict | None = None, errors: dict | None = None,
                        status: int = 200) -> None:
        gw = doc.get("gateway") or {}
        values = values or {"comment": doc.get("comment") or "", "sip_user": doc.get("sip_user") or "",
                            "sip_domain_id": doc.get("sip_domain_id") or "", "display_number": doc.get("display_number") or "",
                            "gateway.host": gw.get("host", ""), "gateway.port": str(gw.get("port", "")),
                            "gateway.login": gw.get("login", ""), "gateway.sip_address": gw.get("sip_address") or ""}
        values.setdefault("warning_sound", doc.get("warning_sound") or "")
        scheme = None
        if doc.get("scheme_id"):
            scheme = await Schemes(self.db, Scope.pbx(self.pbx_id)).find_one({"_id": doc["scheme_id"]})
        now_line = (await now_headlines(self, self.pbx_id, [doc["number"]])).get(doc["number"])
        self.show("telephony/number.html", status, id=id, doc=doc, values=values, errors=errors or {}, now_line=now_line,
                  domains=await Choices(self).domains(), scheme=scheme, readonly=not self.can_edit(),
                  line_warnings=await self.line_warnings(), warnings=await self.uploaded_sounds())

    async def line_warnings(self) -> bool:
        """Whether the PBX lets numbers play their own warning (call handling ``line_warnings``)."""
        doc = await TelSettings(self.db, Scope.pbx(self.pbx_id)).find_one({"_id": self.pbx_id}) or {}
        return bool((doc.get("call_handling") or {}).get("line_warnings"))

    async def uploaded_sounds(self) -> list[tuple[str, str]]:
        """The PBX's uploaded files (a line's warning cannot be a built-in melody, A §4.4.1.2)."""
        return [(sid, name) for sid, name in await Choices(self).sounds() if not sid.startswith("builtin:")]

    async def post(self, id: str) -> None:
        svc = self.svc()
        doc = await svc.get(id)
        values = {k: self.field(k).strip() for k in ("comment", "sip_user", "sip_domain_id", "display_number",
                                                     "gateway.host", "gateway.port", "gateway.login",
                                                     "gateway.sip_address")}
        data: dict = {"comment": values["comment"]}
        if "warning_sound" in self.request.body_arguments:  # the picker is shown only while allowed
            values["warning_sound"] = self.field("warning_sound")
            data["warning_sound"] = values["warning_sound"] or None
        if doc["kind"] == "passive_sip":
            data.update(sip_user=values["sip_user"] or None, sip_domain_id=values["sip_domain_id"] or None,
                        display_number=values["display_number"] or None)
        elif doc["kind"] == "active_sip":
            data["gateway"] = {"host": values["gateway.host"], "port": int_or_raw(values["gateway.port"]),
                               "login": values["gateway.login"], "sip_address": values["gateway.sip_address"] or None}
            if self.field("gateway.password"):
                data["gateway"]["password"] = self.field("gateway.password")
        try:
            await svc.update(id, data)
        except RuleError as exc:
            await self.form_page(id, doc, values, self.rule_errors(exc), 422)
            return
        self.redirect(f"/telephony/numbers/{id}?done=saved")


class NumberDeletePage(DeletePage, NumberPage):
    def warning(self, doc: dict) -> str | None:
        if doc["kind"] == "platform":
            return self._("The number goes back to the operator's pool; another customer may get it.")
        return None


object_pages("/telephony/numbers", "tel_number", SECTION, delete=NumberDeletePage)

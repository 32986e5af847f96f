"""The cabinet page of the LDAP directory sync (rights section ``integrations``): the connection,
attribute mapping, policies, exclusion list, defaults of imported cards, schedule and sign-in
settings in one form ("Show example" saves it and shows what the mapping reads), "Run sync now",
the matching (statistics, the matched cards with "stop sync" / "resume" / "delete the link", a
manual match), the latest runs and the incidents list. The same use cases as
``/api/v1/integrations/ldap…``."""
from __future__ import annotations

from typing import Any

from tornado.web import HTTPError

from esl_control.model.employees.schemas import RECEPTION_MODES
from esl_control.model.ldap.schemas import AD_MAPPING, CARD_FIELDS, OPENLDAP_MAPPING, SCHEDULE_HOURS
from esl_control.model.ldap.services import LdapService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.ldap.http import check_view, example_view, queue_sync
from web.telephony.pages_common import Choices, TelPage, int_or_raw

FIELD_TITLES = {"uid": N_("Permanent id"), "name": N_("Full name"), "extension": N_("Extension"),
                "email": N_("E-mail"), "mobile": N_("Mobile"), "position": N_("Position"),
                "department": N_("Department"), "login": N_("Login")}
SECURITY_TITLES = (("none", N_("No encryption")), ("ldaps", N_("LDAPS (TLS from the start)")),
                   ("starttls", N_("StartTLS")))
MODE_TITLES = (("manual", N_("Manually only")), ("interval", N_("Every few hours")), ("daily", N_("Daily at a time")))
RECEPTION_TITLES = {"main": N_("The main method only"), "sequential": N_("All methods in turn"),
                    "simultaneous": N_("All methods at once")}
STATUS_TITLES = {"running": N_("running"), "ok": N_("done"), "failed": N_("failed, nothing changed"),
                 "aborted": N_("aborted")}

register_section(Section("ldap", N_("LDAP directory"), "/integrations/ldap", order=401, audience="tenant",
                         right="integrations.view", icon="⇄"))


class LdapBase(TelPage):
    """The page and its POST-only actions (a GET of an action is answered 405, as any handler's)."""

    section = "ldap"
    rights_key = "integrations"
    template_values = {"FIELD_TITLES": FIELD_TITLES, "CARD_FIELDS": CARD_FIELDS, "SECURITY_TITLES": SECURITY_TITLES,
                       "MODE_TITLES": MODE_TITLES, "SCHEDULE_HOURS": SCHEDULE_HOURS, "STATUS_TITLES": STATUS_TITLES,
                       "AD_MAPPING": AD_MAPPING, "RECEPTION_MODES": RECEPTION_MODES,
                       "RECEPTION_TITLES": RECEPTION_TITLES}

    def svc(self) -> LdapService:
        return self.service(LdapService, box=self.secret_box())

    async def page(self, values: dict, errors: dict | None = None, status: int = 200, checked: dict | None = None,
                   example: dict | None = None, match: dict | None = None) -> None:
        svc = self.svc()
        if not values.get("configured") and "mapping" not in values:
            values = {**values, "mapping": dict(OPENLDAP_MAPPING), "filter": "(objectClass=inetOrgPerson)",
                      "policy": {"create": True, "update": True, "deactivate": False}, "enabled": True,
                      "schedule": {"mode": "manual"}, "extension_start": 100, "login": {"enabled": False},
                      "defaults": {"reception_mode": "simultaneous"}}
        links = await svc.links()
        linked = {i["employee_id"] for i in links["items"]}
        choices = Choices(self)
        unlinked = [e for e in await choices.employees() if e["id"] not in linked]
        queued = {"queued": self._("The sync is queued: its result appears below in a minute."),
                  "unqueued": self._("The job queue is unavailable. Please try again in a minute.")}
        self.show("telephony/ldap.html", status, values=values, errors=errors or {}, runs=await svc.list_runs(10),
                  incidents=await svc.list_incidents(self.lang, limit=100), readonly=not self.can_edit(),
                  queued=queued.get(self.get_query_argument("sync", "")), checked=checked,
                  fmt=lambda d: self.fmt_dt(d) if d else "", links=links, unlinked=unlinked,
                  lines=await choices.lines(), example=example, match=match or {})

    def form_values(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "enabled": self.checked("enabled"), "host": self.field("host"), "port": int_or_raw(self.field("port")) or None,
            "security": self.field("security") or "none", "ca_cert": self.field("ca_cert"),
            "timeout": int_or_raw(self.field("timeout")) or None, "bind_dn": self.field("bind_dn"),
            "base_dn": self.field("base_dn"), "filter": self.field("filter"),
            "mapping": {k: self.field(f"mapping.{k}").strip() for k in CARD_FIELDS},
            "policy": {k: self.checked(f"policy.{k}") for k in ("create", "update", "deactivate")},
            "notify_email": self.field("notify_email"), "login": {"enabled": self.checked("login.enabled")},
            "extension_start": int_or_raw(self.field("extension_start")) or None,
            "schedule": {"mode": self.field("schedule.mode") or "manual", "hours": self.field("schedule.hours"),
                         "time": self.field("schedule.time")},
            "exclusions": self.field("exclusions").splitlines(),
            "defaults": {"outgoing_number": self.field("defaults.outgoing_number") or None,
                         "reception_mode": self.field("defaults.reception_mode") or None},
            "auto_sip": self.checked("auto_sip"),
        }
        if self.field("password") or self.checked("password_clear"):
            out["password"] = self.field("password")
        return out

    async def shown(self, data: dict) -> dict:
        """The stored settings with the form's values over them (never the typed password)."""
        return {**await self.svc().get(), **{k: v for k, v in data.items() if k != "password"}}

    async def save_form(self) -> bool:
        """Save the form (Save, Show example); refused: the page again with the form's values, False."""
        self.require_edit()
        data = self.form_values()
        try:
            await self.svc().update(data)
        except RuleError as exc:
            await self.page(await self.shown(data), self.rule_errors(exc), 422)
            return False
        return True


@route("/integrations/ldap", access="tenant", section="integrations", name="ldap")
class LdapPage(LdapBase):
    async def get(self) -> None:
        await self.page(await self.svc().get())

    async def post(self) -> None:
        if await self.save_form():
            self.redirect("/integrations/ldap?done=saved")


@route("/integrations/ldap/sync", access="tenant", section="integrations", name="ldap_sync")
class LdapSyncPage(LdapBase):
    async def post(self) -> None:
        self.require_edit()
        doc = await self.svc().get()
        if not doc["configured"] or not doc.get("enabled"):
            code = "ldap.not_configured" if not doc["configured"] else "ldap.disabled"
            await self.page(doc, {"form": RuleError(code).message(self.lang)}, 409)
            return
        job_id = await queue_sync(self.pbx_id)
        self.redirect(f"/integrations/ldap?sync={'queued' if job_id else 'unqueued'}")


@route("/integrations/ldap/check", access="tenant", section="integrations", name="ldap_check")
class LdapCheckPage(LdapBase):
    """"Check connection" with what the form holds (not saved; an empty password: the stored one)."""

    async def post(self) -> None:
        self.require_edit()
        data = self.form_values()
        shown = await self.shown(data)
        try:
            result = await self.svc().check(data)
        except RuleError as exc:
            await self.page(shown, self.rule_errors(exc), 422)
            return
        await self.page(shown, checked=check_view(result, self.lang))


@route("/integrations/ldap/example", access="tenant", section="integrations", name="ldap_example")
class LdapExamplePage(LdapBase):
    """"Show example": saves the form (as Save does), then shows the first entries as the mapping
    reads them."""

    async def post(self) -> None:
        if not await self.save_form():
            return
        result = await self.svc().example()
        await self.page(await self.svc().get(), example=example_view(result, self.lang))


@route("/integrations/ldap/links", access="tenant", section="integrations", name="ldap_match")
class LdapMatchPage(LdapBase):
    """Manual matching: an employee of the PBX and a directory entry's DN, "Match"."""

    async def post(self) -> None:
        self.require_edit()
        match = {"employee_id": self.field("employee_id"), "dn": self.field("dn")}
        try:
            await self.svc().match(match["employee_id"] or None, match["dn"])
        except RuleError as exc:
            await self.page(await self.svc().get(), self.rule_errors(exc), 422, match=match)
            return
        self.redirect("/integrations/ldap?done=saved#matching")


@route("/integrations/ldap/links/{id}", access="tenant", section="integrations", name="ldap_link")
class LdapLinkPage(LdapBase):
    """One matched card: ``action`` = ``stop`` (stop sync, the link stays), ``resume`` or ``unlink``."""

    async def get(self, id: str) -> None:
        """The card's row on the page (another PBX's employee: not found)."""
        await self.svc().find_employee(id)
        self.redirect("/integrations/ldap#matching")

    async def post(self, id: str) -> None:
        self.require_edit()
        action = self.field("action")
        svc = self.svc()
        try:
            if action == "unlink":
                await svc.unlink(id)
            elif action in ("stop", "resume"):
                await svc.set_sync(id, action == "resume")
            else:
                raise HTTPError(400)
        except RuleError as exc:
            await self.page(await svc.get(), {"form": exc.message(self.lang)}, 422)
            return
        self.redirect("/integrations/ldap?done=saved#matching")

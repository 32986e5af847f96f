"""Cabinet pages of black / white lists (one mode switch: neither, black or white; entries with the
syntax explained next to the field) and of client-number rules (ordered; the first active rule
that matches the caller sends the call to its group, employee or number).

Rights: section ``call_handling``.
"""
from __future__ import annotations

from esl_control.model.lists.services import ClientRuleService, ListService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.pages_common import Choices, FormPage, TelPage, int_or_raw, object_pages

SECTION = "call_handling"
TABS = (("lists", "/telephony/lists", N_("Black and white lists")),
        ("rules", "/telephony/client-rules", N_("Forwarding by client number")))
LIST_TITLES = {"black": N_("Black list"), "white": N_("White list")}
TARGETS = (("group", N_("Group")), ("employee", N_("Employee")), ("external", N_("Number or SIP address")))

register_section(Section("tel_lists", N_("Client lists"), "/telephony/lists", order=140, audience="tenant",
                         right="call_handling.view", icon="☰"))


class ListsBase(TelPage):
    section = "tel_lists"
    rights_key = SECTION
    tabs = TABS
    template_values = {"list_titles": LIST_TITLES, "targets": TARGETS}
    tab = "lists"


@route("/telephony/lists", access="tenant", section=SECTION, name="tel_lists")
class ListsPage(ListsBase):
    async def get(self) -> None:
        await self.page()

    async def page(self, values: dict | None = None, errors: dict | None = None, status: int = 200,
                   mode_errors: dict | None = None) -> None:
        svc = self.service(ListService)
        shown = self.get_query_argument("list", "") or (values or {}).get("list") or "black"
        shown = shown if shown in LIST_TITLES else "black"
        self.show("telephony/lists.html", status, mode=await svc.mode(), entries=await svc.list(shown), shown=shown,
                  values=values or {"list": shown, "value": "", "exact": True, "comment": ""}, errors=errors or {},
                  mode_errors=mode_errors or {})

    async def post(self) -> None:
        """Add an entry."""
        values = {"list": self.field("list"), "value": self.field("value").strip(), "exact": self.checked("exact"),
                  "comment": self.field("comment").strip()}
        try:
            await self.service(ListService).create(values)
        except RuleError as exc:
            await self.page(values, self.rule_errors(exc), 422)
            return
        self.redirect(f"/telephony/lists?list={values['list']}&done=added")


@route("/telephony/lists/mode", access="tenant", section=SECTION, name="tel_lists_mode")
class ListModePage(ListsPage):
    async def get(self) -> None:
        self.redirect("/telephony/lists")

    async def post(self) -> None:
        try:
            await self.service(ListService).set_mode(self.field("mode") or None, self.checked("unknown_allowed"))
        except RuleError as exc:
            await self.page(mode_errors=self.rule_errors(exc), status=422)
            return
        self.redirect("/telephony/lists?done=saved")


class ListEntryPage(ListsBase):
    service_cls = ListService
    list_url = "/telephony/lists"
    object_type = "list_entry"


object_pages("/telephony/lists/entries", "tel_list_entry", SECTION, delete=ListEntryPage)


# --- client-number rules -------------------------------------------------------------------------
class RulesBase(ListsBase):
    tab = "rules"
    service_cls = ClientRuleService
    list_url = "/telephony/client-rules"
    object_type = "client_rule"


@route("/telephony/client-rules", access="tenant", section=SECTION, name="tel_client_rules")
class ClientRulesPage(RulesBase):
    async def get(self) -> None:
        await self.page()

    async def page(self, errors: dict | None = None, status: int = 200) -> None:
        ch = Choices(self)
        from esl_control.model.groups.services import GroupService

        from esl_control.model.names import group_name

        names = {g["id"]: group_name(g, self._) for g in await self.service(GroupService).list()}
        names.update({e["id"]: e["name"] for e in await ch.employees()})
        self.show("telephony/client_rules.html", status, rules=await self.service(ClientRuleService).list(),
                  names=names, errors=errors or {})

    async def post(self) -> None:
        """Save the order (the rows' Order fields, or the up/down buttons)."""
        ids = [r["id"] for r in self.rows("cr", "id")]
        try:
            await self.service(ClientRuleService).reorder(ids)
        except RuleError as exc:
            await self.page(self.rule_errors(exc), 422)
            return
        self.redirect("/telephony/client-rules?done=saved")


class ClientRuleForm(FormPage, RulesBase):
    form_template = "telephony/client_rule.html"

    async def blank(self) -> dict:
        return {"value": "", "exact": True, "target_kind": "group", "target": "", "contact_method": "",
                "ring_time": "", "active": True, "comment": ""}

    def values_of(self, doc: dict) -> dict:
        return {**doc, "ring_time": "" if doc.get("ring_time") is None else doc["ring_time"]}

    def redisplay(self, data: dict, errors: dict) -> dict:
        return self.values_of(data)

    async def form_context(self, id, values: dict) -> dict:
        from esl_control.model.groups.services import GroupService

        ch = Choices(self)
        from esl_control.model.names import group_name

        groups = [{**g, "name": group_name(g, self._)} for g in await self.service(GroupService).list()]
        return {"groups": groups, "employees": await ch.employees(),
                "accounts": {a["id"]: a["address"] for a in await ch.accounts()}}

    def form_values(self) -> dict:
        kind = self.field("target_kind")
        target = {"group": self.field("target_group"), "employee": self.field("target_employee"),
                  "external": self.field("target_external").strip()}.get(kind, "")
        return {"value": self.field("value").strip(), "exact": self.checked("exact"), "target_kind": kind,
                "target": target, "contact_method": self.field("contact_method") or None,
                "ring_time": int_or_raw(self.field("ring_time")), "active": self.checked("active"),
                "comment": self.field("comment").strip()}

    async def form_errors(self, exc: RuleError, data: dict) -> dict:
        errors = self.rule_errors(exc)
        if "target" in errors:  # the target is one of three inputs: the one of the chosen kind
            kind = data["target_kind"] if data["target_kind"] in dict(TARGETS) else "group"
            errors["target_" + kind] = errors.pop("target")
        return errors


object_pages("/telephony/client-rules", "tel_client_rule", SECTION, form=ClientRuleForm, delete=RulesBase)

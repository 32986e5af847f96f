"""Cabinet pages of SIP trunks (to the customer's own PBX): address and port, DTMF, codecs, lines,
OPTIONS ping, numbers with receive/call, the default outgoing number, the prefix; and the PBX's
ONE ordered list of routing masks with a "test a number" box: the route tester use case
(:mod:`esl_control.model.trunks.route_tester`), the same as the API's.

Rights: section ``trunks``.
"""
from __future__ import annotations

from esl_control.model.common import InUse
from esl_control.model.trunks.route_tester import run_route_test
from esl_control.model.trunks.schemas import CODECS, DTMF_MODES, clean_masks, trunk_errors
from esl_control.model.trunks.services import TrunkService
from esl_control.routing.errors import RuleError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.telephony import Numbers, Schemes
from web.rights import requires
from web.routes import route
from web.sections import Section, register_section
from web.telephony.pages_common import Choices, FormPage, ListPage, TelPage, int_or_raw, object_pages, yes

SECTION = "trunks"
TABS = (("trunks", "/telephony/trunks", N_("SIP trunks")), ("routing", "/telephony/trunks/routing", N_("Outgoing routing")))
STATUS = {"up": (N_("Reachable"), "pill-ok"), "down": (N_("Not reachable"), "pill-bad"),
          "unknown": (N_("Not checked yet"), "pill-warn")}
DTMF_TITLES = {"rfc2833": N_("RFC 2833 (recommended)"), "inband": N_("In the audio (inband)")}

#: the route tester's fields on the page
TEST_FIELDS = {"number": "test_number", "employee_id": "test_employee"}

register_section(Section("tel_trunks", N_("SIP trunks"), "/telephony/trunks", order=170, audience="tenant",
                         right="trunks.view", icon="⇄"))


class TrunkPage(TelPage):
    section = "tel_trunks"
    rights_key = SECTION
    tabs = TABS
    template_values = {"trunk_status": STATUS}
    tab = "trunks"
    service_cls = TrunkService
    list_url = "/telephony/trunks"
    object_type = "trunk"


@route("/telephony/trunks", access="tenant", section=SECTION, name="tel_trunks")
class TrunksPage(ListPage, TrunkPage):
    list_template = "telephony/trunks.html"


def _number_out(n: dict) -> dict:
    return {"number": n.get("number", ""), "receive": n.get("receive", True), "call": n.get("call", True),
            "comment": n.get("comment", ""), "scheme_id": n.get("scheme_id")}


class TrunkForm(FormPage, TrunkPage):
    form_template = "telephony/trunk.html"
    item_url = "/telephony/trunks/{id}"

    async def blank(self) -> dict:
        return {"name": "", "active": True, "host": "", "port": 5060, "dtmf_commands": True, "dtmf_mode": "rfc2833",
                "codecs": ["PCMA", "PCMU"], "lines": 5, "options_ping": True, "numbers": [],
                "default_number": "", "allow_number_change": False, "prefix": ""}

    def values_of(self, doc: dict) -> dict:
        return {**doc, "active": doc.get("active", True), "prefix": doc.get("prefix") or "",
                "default_number": doc.get("default_number") or "",
                "numbers": [_number_out(n) for n in doc.get("numbers", [])]}

    def redisplay(self, data: dict, errors: dict) -> dict:
        return {**data, "prefix": data["prefix"] or "", "numbers": [_number_out(n) for n in data["numbers"]]}

    async def form_context(self, id, values: dict) -> dict:
        platform = [n["number"] for n in await Numbers(self.db, Scope.pbx(self.pbx_id)).find(
            {"kind": "platform"}, sort=[("number", 1)])]
        schemes = {d["_id"]: d["name"] for d in await Schemes(self.db, Scope.pbx(self.pbx_id)).find(
            {}, projection={"name": 1})}
        return {"codecs": CODECS, "dtmf_modes": [(m, DTMF_TITLES[m]) for m in DTMF_MODES], "platform": platform,
                "scheme_names": schemes}

    def form_values(self) -> dict:
        numbers = [{"number": r.get("number", "").strip(), "receive": "receive" in r, "call": "call" in r,
                    "comment": r.get("comment", "").strip()} for r in self.rows("tn", "number")]
        return {"name": self.field("name"), "active": yes(self.field("active", "1")), "host": self.field("host").strip(),
                "port": int_or_raw(self.field("port")),
                "dtmf_commands": self.checked("dtmf_commands"), "dtmf_mode": self.field("dtmf_mode", "rfc2833"),
                "codecs": self.fields("codecs"), "lines": int_or_raw(self.field("lines")) or self.field("lines"),
                "options_ping": self.checked("options_ping"), "numbers": numbers,
                "default_number": self.field("default_number") or None,
                "allow_number_change": self.checked("allow_number_change"),
                "prefix": self.field("prefix").strip() or None}

    async def form_errors(self, exc: RuleError, data: dict) -> dict:
        if isinstance(exc, InUse):  # a removed number is someone's outgoing number
            return {"numbers": exc.message(self.lang)}
        return self.rule_errors(exc, trunk_errors(data))


@route("/telephony/trunks/routing", access="tenant", section=SECTION, name="tel_trunk_routing")
class TrunkRoutingPage(TrunkPage):
    """The ordered mask list and the route tester."""

    tab = "routing"

    async def get(self) -> None:
        masks = await self.service(TrunkService).masks()
        await self.page(masks, test={"number": "", "employee_id": ""})

    async def page(self, masks: list, errors: dict | None = None, status: int = 200, test: dict | None = None,
                   decision: dict | None = None, unsaved: bool = False) -> None:
        ch = Choices(self)
        trunks = await self.service(TrunkService).list()
        self.show("telephony/trunk_routing.html", status, masks=masks, errors=errors or {}, trunks=trunks,
                  employees=await ch.employees(), test=test or {}, decision=decision, unsaved=unsaved,
                  readonly=not self.can_edit())

    def form_masks(self) -> list[dict]:
        return [{"id": r.get("id") or None, "mask": r.get("mask", "").strip(),
                 "transformation": r.get("transformation", "").strip(), "trunk_id": r.get("trunk_id", ""),
                 "active": "active" in r} for r in self.rows("mk", ("mask", "transformation"))]

    @requires("view")  # testing changes nothing; saving checks the edit level itself
    async def post(self) -> None:
        masks = self.form_masks()
        test = {"number": self.field("test_number").strip(), "employee_id": self.field("test_employee")}
        svc = self.service(TrunkService)
        if self.field("action") == "test":  # the rows as they stand in the form, nothing saved
            trunks = await svc.list()
            try:
                clean = clean_masks(masks, [t["id"] for t in trunks])
            except RuleError as exc:
                await self.page(masks, self.rule_errors(exc), 422, test=test, unsaved=True)
                return
            try:
                decision = await self.decide(test, clean)
            except RuleError as exc:  # no number, or an employee deleted meanwhile
                exc.field = TEST_FIELDS.get(exc.field, exc.field)
                await self.page(clean, self.rule_errors(exc), 422, test=test, unsaved=clean != await svc.masks())
                return
            await self.page(clean, test=test, decision=decision, unsaved=clean != await svc.masks())
            return
        self.require_edit()
        try:
            await svc.set_masks(masks)
        except RuleError as exc:
            await self.page(masks, self.rule_errors(exc), 422, test=test)
            return
        self.redirect("/telephony/trunks/routing?done=saved")

    async def decide(self, test: dict, masks: list[dict]) -> dict:
        """What the route tester (the API's use case) says for ``test`` (number, optional employee)
        and these masks."""
        t = await run_route_test(self.db, self.pbx_id, test["number"], employee_id=test["employee_id"] or None,
                                 masks=masks)
        d = t.decision
        return {"kind": d.kind, "allowed": d.allowed, "number": d.number, "trunk": t.trunk_name,
                "reason": self._(t.reason, **t.reason_values), "caller_id": t.caller_id, "mask_index": d.mask_index,
                "direction": d.direction.value if d.direction else None}


object_pages("/telephony/trunks", "tel_trunk", SECTION, form=TrunkForm, delete=TrunkPage)

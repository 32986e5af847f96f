"""Cabinet pages of employees' telephony: the list, the card (card fields, extension, contact
methods, reception mode, outgoing number, allowed directions) and the new-employee wizard
(inventory B §1.3: card → telephony → SIP account; the welcome e-mail goes through the mail job).

Rights: section ``employees``.

The wizard is the use case :mod:`esl_control.model.employees.wizard`, the same as the API's: it
never leaves half an employee behind (everything is validated first, every wrong field shown at
once; the employee is written, then the SIP account; a failure takes the employee back), and the
welcome e-mail is the API's (:func:`web.telephony.employees.http.notify_new_employee`).
"""
from __future__ import annotations

import logging

from esl_control.model.employees.schemas import employee_errors
from esl_control.model.employees.services import EmployeeService
from esl_control.model.employees.wizard import NewEmployee, SameName, default_sip_login
from esl_control.model.reach import MANAGE_EMPLOYEES
from esl_control.routing.directions import ALL_DIRECTIONS, Direction
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from pult.i18n import N_
from web.routes import route
from web.sections import Section, register_section
from web.telephony.employees.http import ReachMixin, notify_new_employee
from web.telephony.pages_common import Choices, FormPage, ListPage, TelPage, int_or_raw, object_pages

log = logging.getLogger("pult.web.telephony")

SECTION = "employees"
RECEPTION = (("main", N_("Main number only"), N_("Rings the first active contact method.")),
             ("sequential", N_("All numbers in turn"), N_("Rings the active methods one after another, in the order of the list, each for its own ring time.")),
             ("simultaneous", N_("All numbers at once"), N_("Rings every active method at the same time; the first to answer takes the call.")))
CONTACT_KINDS = (("sip_account", N_("SIP account (IP phone, softphone)")), ("phone", N_("Phone number")),
                 ("sip_uri", N_("External SIP address")))
DIRECTIONS = (("local", N_("Local")), ("mobile", N_("Mobile")), ("long_distance", N_("Long distance")),
              ("international", N_("International")), ("service", N_("Service numbers")))
WIZARD_STEPS = (N_("Card"), N_("Telephony"), N_("SIP account"))
STEP_FIELDS = (("name", "email", "department", "position"),
               ("extension", "method", "phone", "outgoing_number", "contact_methods"),
               ("sip_login", "sip_domain_id", "sip_password", "sip"))

register_section(Section("tel_employees", N_("Employees"), "/telephony/employees", order=100, audience="tenant",
                         right="employees.view", icon="☺"))

assert {d for d, _t in DIRECTIONS} == {d.value for d in ALL_DIRECTIONS} and Direction.EMERGENCY.value == "emergency"


class EmployeePage(ReachMixin, TelPage):
    """Base of the employee pages. The reach of the user's role in ``employees`` applies as in the
    API (:class:`~web.telephony.employees.http.ReachMixin`): a Group leader opens and changes only
    the employees of the groups they supervise ("groups": of the groups they are a member of),
    and nobody whose reach is not everyone creates or deletes employees."""

    section = "tel_employees"
    rights_key = SECTION
    template_values = {"reception_modes": RECEPTION, "contact_kinds": CONTACT_KINDS, "directions": DIRECTIONS}
    service_cls = EmployeeService
    list_url = "/telephony/employees"
    object_type = "employee"

    def may_manage(self) -> bool:
        r = self.rights
        return r is None or r.operator or r.reach(SECTION) in (None, "all")

    def check_manage(self) -> None:
        if not self.may_manage():
            raise AppError(403, "forbidden", MANAGE_EMPLOYEES)

    async def load(self, id: str) -> dict:
        return await self.svc().get_reached(id, await self.reach())  # another PBX's id stays "not found"


@route("/telephony/employees", access="tenant", section=SECTION, name="tel_employees")
class EmployeesPage(ListPage, EmployeePage):
    """Every employee (the user reaches) with extension, reception mode, active methods and
    outgoing number; ``?q=`` finds by name, extension, e-mail, department, position or number."""

    list_template = "telephony/employees.html"

    async def items(self) -> list[dict]:
        return await self.svc().list_reached(await self.reach(), q=self.get_query_argument("q", "").strip())

    async def list_context(self, items: list[dict]) -> dict:
        return {"q": self.get_query_argument("q", "").strip(), "modes": {k: t for k, t, _h in RECEPTION},
                "accounts": {a["id"]: a["address"] for a in await Choices(self).accounts()}}


def _method_out(c: dict) -> dict:
    return {"kind": c.get("kind", "phone"), "account_id": c.get("account_id") or "", "value": c.get("value") or "",
            "active": c.get("active", True), "ring_time": "" if c.get("ring_time") is None else str(c["ring_time"]),
            "schedule_id": c.get("schedule_id") or "", "id": c.get("id") or ""}


# --- the card ------------------------------------------------------------------------------------
class EmployeeForm(FormPage, EmployeePage):
    """The employee card (new employees come from the wizard)."""

    form_template = "telephony/employee.html"
    item_url = "/telephony/employees/{id}"

    def values_of(self, doc: dict) -> dict:
        return {**doc, "contact_methods": [_method_out(c) for c in doc.get("contact_methods", ())],
                "directions_own": doc.get("directions") is not None,
                "directions": doc.get("directions") if doc.get("directions") is not None else [d for d, _t in DIRECTIONS]}

    def redisplay(self, data: dict, errors: dict) -> dict:
        return self.values_of(data)

    async def form_context(self, id, values: dict) -> dict:
        ch = Choices(self)
        accounts = await ch.accounts()
        return {"accounts": [a for a in accounts if a.get("employee_id") in (None, id)],
                "own_accounts": [a for a in accounts if a.get("employee_id") == id],
                "schedules": await ch.schedules(), "lines": await ch.lines(), "can_sip": self.can_edit("sip")}

    def form_values(self) -> dict:
        methods = []
        for r in self.rows("cm", ("value", "account_id")):
            kind = r.get("kind", "phone")
            m = {"kind": kind, "active": r.get("active", "1") == "1", "ring_time": int_or_raw(r.get("ring_time")),
                 "schedule_id": r.get("schedule_id") or None}
            if r.get("id"):
                m["id"] = r["id"]
            if kind == "sip_account":
                m["account_id"] = r.get("account_id", "")
            else:
                m["value"] = r.get("value", "").strip()
            methods.append(m)
        own = self.field("directions_mode") == "own"
        return {"name": self.field("name"), "email": self.field("email"), "department": self.field("department"),
                "position": self.field("position"), "extension": self.field("extension").strip(),
                "reception_mode": self.field("reception_mode", "main"), "contact_methods": methods,
                "outgoing_number": self.field("outgoing_number") or None,
                "directions": self.fields("directions") if own else None}

    async def form_errors(self, exc: RuleError, data: dict) -> dict:
        return self.rule_errors(exc, employee_errors(data))


object_pages("/telephony/employees", "tel_employee", SECTION, form=EmployeeForm, delete=EmployeePage, new=False)


# --- the wizard ----------------------------------------------------------------------------------
@route("/telephony/employees/new", access="tenant", section=SECTION, level="edit", name="tel_employee_new")
class EmployeeWizardPage(EmployeePage):
    """New employee in three steps (one form; the script shows one step at a time)."""

    async def get(self) -> None:
        self.check_manage()
        ext = await self.wizard(may_create_sip=True).next_extension()
        lines = await Choices(self).lines()
        await self.form_page({"name": "", "email": "", "department": "", "position": "", "extension": ext,
                              "method": "sip", "phone": "", "outgoing_number": lines[0][0] if len(lines) == 1 else "",
                              "sip": True, "sip_login": default_sip_login(ext), "sip_domain_id": "", "sip_password": "",
                              "welcome": True})

    async def form_page(self, values: dict, errors: dict | None = None, status: int = 200,
                        duplicate: dict | None = None) -> None:
        ch = Choices(self)
        errors = errors or {}
        bad_steps = {i for i, names in enumerate(STEP_FIELDS) for f in errors
                     if f.split("[")[0].split(".")[0] in names}
        self.show("telephony/employee_new.html", status, values=values, errors=errors, lines=await ch.lines(),
                  domains=await ch.domains(), steps=WIZARD_STEPS, bad_steps=bad_steps, duplicate=duplicate)

    def form_values(self) -> dict:
        return {k: self.field(k).strip() for k in ("name", "email", "department", "position", "extension", "method",
                                                   "phone", "outgoing_number", "sip_login", "sip_domain_id")} | {
            "sip_password": self.field("sip_password"), "sip": self.checked("sip"), "welcome": self.checked("welcome")}

    def request_of(self, v: dict) -> NewEmployee:
        """The wizard's input: the "method" radio is the reception (``none`` when it is the IP phone
        but no SIP account is asked for); the checkbox asks for the SIP account."""
        reception = "phone" if v["method"] == "phone" else ("sip" if v["sip"] else "none")
        return NewEmployee(name=v["name"], email=v["email"], department=v["department"], position=v["position"],
                           extension=v["extension"], reception=reception, phone=v["phone"],
                           outgoing_number=v["outgoing_number"], sip_account=v["sip"], sip_login=v["sip_login"],
                           sip_domain_id=v["sip_domain_id"], sip_password=v["sip_password"],
                           same_name_ok=self.checked("duplicate_ok"))

    async def post(self) -> None:
        self.check_manage()
        v = self.form_values()
        req = self.request_of(v)
        wizard = self.wizard(may_create_sip=self.can_edit("sip"))
        plan = await wizard.check(req)
        if plan.errors:  # every wrong field of the three steps at once; nothing written
            await self.form_page(v, self.rule_errors(plan.errors[0], plan.errors[1:]), 422)
            return
        try:
            made = await wizard.create(req, plan)
        except SameName as exc:  # soft check (B §1.3 step 1)
            await self.form_page(v, {}, 409, duplicate=exc.existing)
            return
        except RuleError as exc:
            await self.form_page(v, self.rule_errors(exc), 422)
            return
        mail = None
        if v["welcome"] and made.employee.get("email"):
            mail = "sent" if (await notify_new_employee(self, made.employee, made.sip_account))["queued"] else "failed"
        self.show("telephony/employee_created.html", 201, emp=made.employee, account=made.sip_account,
                  password=made.sip_password, mail=mail)

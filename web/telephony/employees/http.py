"""REST API of employees' telephony (``/api/v1/telephony/employees``) and the new-employee
wizard (``POST /api/v1/telephony/employees/wizard``).

Rights: section ``employees``, with its *reach*: a role whose reach is not "everyone" (a group
leader: the employees of the supervised groups; "groups": of the groups the user is a member of;
"own": the user's own card) sees and changes only those employees, and cannot create or delete
employees. An employee referred to by a group, a scheme, a client-number rule or a SIP account's
forwarding is not deleted (409 with the referrers).

The wizard creates, in one request, the employee (the next free extension from 10 unless given),
a SIP account with a generated password as the first contact method (or a forwarding number),
the outgoing number, optionally the cabinet login with a role (inventory B §1.3 step 3: needs the
right to change access settings, and no more rights than the creator has), and queues the
notification e-mail (``jobs.mail``) to the employee's address. The cabinet login gets no password:
the e-mail carries a single-use 24-hour link to set one (the code flow on the sign-in page works
too, by the card's e-mail or phone). Everything is validated before the first write; the SIP
password is in the answer only. Write order: employee, cabinet login, SIP account; a failure
removes what this request made.
"""
from __future__ import annotations

import logging

from pydantic import BaseModel, Field

from esl_control.model.common import (EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS, clean_bool, clean_choice,
                                      next_free_extension)
from esl_control.model.employees.services import EmployeeService
from esl_control.model.sip.schemas import clean_login, generate_sip_password
from esl_control.model.sip.services import SipAccountService, SipDomainService
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.telephony import RingGroups, SipAccounts
from web.access.enforce import request_rights
from web.api.base import Param, operation
from web.api.models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import CollectionApi, ItemApi, Out, TelApi, crud, matches

log = logging.getLogger("pult.web.telephony")

SECTION = "employees"
TAG = "telephony: employees"
FIRST_EXTENSION = 10
RECEPTIONS = ("sip", "phone", "none")


class ContactMethodIO(Strict):
    id: str | None = Field(None, description="Kept when given (an existing method), new otherwise")
    kind: str = Field(description="sip_account | phone | sip_uri")
    account_id: str | None = Field(None, description="sip_account: one of the PBX's SIP accounts")
    value: str | None = Field(None, description="phone: international number or short number; sip_uri: user@domain")
    active: bool = True
    ring_time: int | None = Field(None, description="Seconds; null = the PBX default (120), 0 = until the caller hangs up")
    schedule_id: str | None = Field(None, description="Rings only within this schedule")


class EmployeeIn(Strict):
    name: str
    extension: str = Field(description=f"{EXTENSION_MIN_DIGITS}-{EXTENSION_MAX_DIGITS} digits, unique in the PBX "
                                       "(shared with groups and conference rooms)")
    email: str | None = None
    department: str | None = None
    position: str | None = None
    reception_mode: str = Field("main", description="main (first active method) | sequential | simultaneous")
    contact_methods: list[ContactMethodIO] = Field(default_factory=list, description="In ringing order")
    outgoing_number: str | None = Field(None, description="A line of the PBX; null = no outbound calls")
    directions: list[str] | None = Field(None, description="Allowed directions; null = as the PBX")


class EmployeeOut(Out):
    id: str
    name: str
    extension: str
    email: str = ""
    department: str = ""
    position: str = ""
    reception_mode: str
    contact_methods: list[dict]
    outgoing_number: str | None = None
    directions: list[str] | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class WizardIn(Strict):
    name: str
    email: str | None = Field(None, description="Receives the notification; also the card's e-mail")
    extension: str | None = Field(None, description="Default: the next free extension from 10")
    department: str | None = None
    position: str | None = None
    reception: str = Field("sip", description="sip (a SIP account for an IP phone or softphone) | phone "
                                              "(forward to a number) | none (set up later)")
    phone: str | None = Field(None, description="reception=phone: the number, international form")
    sip_login: str | None = Field(None, description="reception=sip: default ext<extension>")
    outgoing_number: str | None = Field(None, description="A line of the PBX; null = no outbound calls")
    send_email: bool = True
    login: str | None = Field(None, description="Cabinet login (signs in as <PBX>/<login>, or by the card's "
                                                "e-mail, phone or SIP account); needs the e-mail, where the "
                                                "link to set the password is sent. Null: no cabinet access")
    role: str | None = Field(None, description="Role of the cabinet login: a base role key or a custom role id "
                                               "(default employee)")


class WizardUser(BaseModel):
    id: str
    login: str = Field(description="As typed on the sign-in form: <PBX>/<login>")
    role: str
    password_link_sent: bool = Field(description="Whether the e-mail with the set-password link was queued")


class WizardMail(BaseModel):
    queued: bool
    job_id: str | None = None
    error: str | None = None


class WizardOut(BaseModel):
    employee: EmployeeOut
    sip_account: dict | None = None
    sip_password: str | None = Field(None, description="The generated SIP password (shown only here)")
    user: WizardUser | None = Field(None, description="The cabinet login, when one was asked for")
    mail: WizardMail


class ReachMixin:
    """Which employees the user's role reaches (None: all of them)."""

    async def reachable_employees(self) -> set[str] | None:
        rights = await request_rights(self)
        reach = rights.reach(SECTION)
        if reach in (None, "all") or rights.operator:
            return None
        own = (self.current_user or {}).get("employee_id")
        if reach == "own":
            return {own} if own else set()
        groups = RingGroups(self.db, self.service(EmployeeService).scope)
        if reach == "supervised":
            docs = await groups.find({"_id": {"$in": list(rights.supervised_groups)}})
        else:  # "groups": the groups the user's employee is a member of
            docs = await groups.find({"members.employee_id": own}) if own else []
        ids = {m["employee_id"] for g in docs for m in g.get("members", ()) if m.get("employee_id")}
        return ids | ({own} if own else set())

    async def require_all(self) -> None:
        if await self.reachable_employees() is not None:
            raise AppError(403, "forbidden",
                           N_("Your role covers only some employees; creating and deleting employees needs access to all of them."))


class EmployeeCollection(ReachMixin, CollectionApi):
    async def filter_items(self, items):
        reach = await self.reachable_employees()
        q = self.text_arg("q")
        group_id = self.text_arg("group_id")
        members = None
        if group_id:
            group = await RingGroups(self.db, self.svc().scope).find_one({"_id": group_id})
            members = {m.get("employee_id") for m in (group or {}).get("members", ())}
        return [e for e in items if (reach is None or e["id"] in reach) and (members is None or e["id"] in members)
                and matches(e, q, ("name", "extension", "email", "department", "position", "outgoing_number"))]

    async def do_create(self, data):
        await self.require_all()
        return await self.svc().create(data)


class EmployeeItem(ReachMixin, ItemApi):
    async def check_reach(self, id, write):
        reach = await self.reachable_employees()
        if reach is not None and id not in reach:
            await self.svc().get(id)  # another PBX's id stays "not found"
            raise AppError(403, "forbidden", N_("This employee is outside the employees your role covers."))

    async def do_delete(self, id):
        await self.require_all()
        await self.svc().delete(id)


crud("/api/v1/telephony/employees", "Employee", section=SECTION, tag=TAG, service_cls=EmployeeService,
     in_model=EmployeeIn, out_model=EmployeeOut, id_name="Employee id",
     collection_base=EmployeeCollection, item_base=EmployeeItem,
     list_params=[Param("q", description="Text to find in the name, extension, e-mail, department, position"),
                  Param("group_id", description="Only members of this group")],
     summaries={"list": N_("Employees of the PBX with their telephony"), "create": N_("Create an employee"),
                "get": N_("One employee's telephony"), "put": N_("Replace an employee's telephony"),
                "patch": N_("Change some fields of an employee's telephony"),
                "delete": N_("Delete an employee (refused while something refers to them)")})


@route("/api/v1/telephony/employees/wizard", access="tenant", section=SECTION)
class EmployeeWizardApi(ReachMixin, TelApi):
    @operation(N_("New employee wizard: the employee, a SIP account or a forwarding number, the outgoing number and the notification e-mail in one request"),
               request=WizardIn, response=WizardOut, status=201, tags=[TAG], errors=(400, 401, 403, 409, 422))
    async def post(self) -> None:
        data = self.payload(WizardIn)
        await self.require_all()
        reception = clean_choice(data.get("reception"), "reception", RECEPTIONS, default="sip")
        send_email = clean_bool(data.get("send_email"), "send_email", default=True)
        employees = self.service(EmployeeService)
        extension = data.get("extension")
        if extension in (None, ""):
            extension = await next_free_extension(self.db, employees.scope, FIRST_EXTENSION)
        contacts = []
        sip_login = domain = None
        if reception == "phone":
            if data.get("phone") in (None, ""):
                raise RuleError("value.required", field="phone")
            contacts = [{"kind": "phone", "value": data.get("phone")}]
        elif reception == "sip":
            rights = await request_rights(self)
            if not rights.can("sip", "edit"):
                raise AppError(403, "forbidden", N_("Creating a SIP account needs the right to change SIP settings."))
            sip_login = data.get("sip_login") or f"ext{extension}"
            try:
                sip_login = clean_login(sip_login)
            except RuleError as exc:
                exc.field = "sip_login"
                raise
            domain = await SipDomainService(self.db, self.pbx_id, self.audit_actor(),
                                            base_domain=self.ctx.settings.sip_base_domain).ensure_default()
            if await SipAccounts(self.db, employees.scope).find_one({"domain_id": domain["_id"], "login": sip_login}):
                raise RuleError("sip_account.taken", field="sip_login", login=sip_login, domain=domain["name"])
        access, login, role = await self.check_cabinet_login(data, send_email)
        body = {"name": data.get("name"), "email": data.get("email"), "extension": extension,
                "department": data.get("department"), "position": data.get("position"),
                "reception_mode": "main", "contact_methods": contacts,
                "outgoing_number": data.get("outgoing_number")}
        employee = await employees.create(body)
        account = password = user = None
        try:
            if access is not None:
                user = await access.create_login(employee, login, role, language=self.lang,
                                                 account_id=(self.current_user or {}).get("account_id"))
            if reception == "sip":
                password = generate_sip_password()
                accounts = self.service(SipAccountService, box=self.secret_box())
                account = await accounts.create({"login": sip_login, "password": password, "domain_id": domain["_id"],
                                                 "employee_id": employee["id"]})
        except BaseException:  # nothing half-made stays behind
            if user is not None:
                await access.users.delete_one({"_id": user["_id"]})
            await employees.delete(employee["id"])
            raise
        if account is not None:
            employee = await employees.get(employee["id"])
        link = None
        if user is not None and send_email:
            from web.auth.codes import code_store

            token = await code_store(self).issue_link(user["_id"], user.get("account_id"), purpose="employee")
            link = f"{self.ctx.settings.public_url}/password/link/{token}"
        mail = await self.notify(employee, account, user, link) if send_email and employee.get("email") else \
            {"queued": False, "job_id": None, "error": None}
        user_out = None if user is None else {
            "id": user["_id"], "login": f"{self.pbx_id}/{user['login']}", "role": user["role"],
            "password_link_sent": bool(link and mail["queued"])}
        self.reply_model(WizardOut, {"employee": employee, "sip_account": account, "sip_password": password,
                                     "user": user_out, "mail": mail}, status=201)

    async def check_cabinet_login(self, data: dict, send_email: bool):
        """(access service, login, role) when the wizard is asked for a cabinet login, validated
        before any write; (None, None, None) otherwise."""
        login = data.get("login")
        if login in (None, ""):
            return None, None, None
        if not isinstance(login, str):
            raise RuleError("value.required", field="login")
        role = data.get("role") or "employee"
        if not isinstance(role, str):
            raise RuleError("value.required", field="role")
        if not data.get("email"):
            raise AppError(422, "validation_error", N_("Some fields are not filled in correctly."),
                           fields={"email": N_("A cabinet login needs the employee's e-mail: the link to set the password is sent there.")})
        from web.access.service import AccessService

        access = AccessService(self.db, self.pbx_id, await request_rights(self), self.audit_actor(),
                               user_id=(self.current_user or {}).get("_id"))
        await access.check_login(login.strip(), role)
        return access, login.strip(), role

    async def notify(self, employee: dict, account: dict | None, user: dict | None = None,
                     link: str | None = None) -> dict:
        """Queue the "new subscriber" e-mail (with the cabinet login and its set-password link,
        when one was made); a failure to queue is reported, not fatal."""
        from jobs.mail import send_mail_async

        lines = [self._(N_("New PBX subscriber successfully created!")),
                 self._(N_("Employee name: %(name)s"), name=employee["name"]),
                 self._(N_("Extension: %(extension)s"), extension=employee["extension"])]
        if account:
            lines.append(self._(N_("SIP account: %(address)s"), address=account["address"]))
        if user is not None:
            lines.append(self._(N_("Cabinet login: %(login)s (you can also sign in with this e-mail)"),
                                login=f"{self.pbx_id}/{user['login']}"))
            if link:
                lines.append(self._(N_("To set your cabinet password, open this link within 24 hours (it works once): %(url)s"),
                                    url=link))
        lines.append(self._(N_("You can change the employee and SIP account data, add and change call-reception methods, and configure other features in the employee card.")))
        try:
            job_id = await send_mail_async(employee["email"], self._(N_("New PBX subscriber")), "\n".join(lines),
                                           idempotency_key=f"employee-created:{employee['id']}")
        except Exception as exc:  # Redis down, jobs not configured: the employee exists anyway
            log.warning("new employee e-mail not queued: %s", exc)
            return {"queued": False, "job_id": None, "error": str(exc)}
        return {"queued": True, "job_id": job_id, "error": None}

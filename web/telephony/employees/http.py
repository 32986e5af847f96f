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

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from esl_control.model.common import EXTENSION_MAX_DIGITS, EXTENSION_MIN_DIGITS, clean_bool
from esl_control.model.employees.schemas import CONTACT_KINDS, MAX_CONTACTS, RECEPTION_MODES
from esl_control.model.employees.services import EmployeeService
from esl_control.routing.lists import MAX_RING_TIME
from esl_control.model.employees.wizard import EmployeeWizard, NewEmployee, SameName
from esl_control.model.reach import MANAGE_EMPLOYEES
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from pult.i18n import N_
from web.enforce import request_rights
from web.api_base import Param, operation
from web.api_fields import (UNIQUE_EXTENSION, Direction, Emails, Extension, Int, Name, Phone, RefId, SipUri, Text100,
                            choice)
from web.api_models import Strict, UtcDatetime
from web.routes import route
from web.telephony.api_common import Out, ReachedCrud, TelApi, TelError, crud

log = logging.getLogger("pult.web.telephony")

SECTION = "employees"
TAG = "telephony: employees"
WIZARD_FIELDS = ("name", "email", "department", "position", "extension", "reception", "phone", "outgoing_number",
                 "sip_account", "sip_login", "sip_domain_id", "sip_password")


class _ContactBase(Strict):
    id: RefId | None = Field(None, description="Kept when given (an existing method), new otherwise")
    active: bool = True
    ring_time: Int(0, MAX_RING_TIME) | None = Field(
        None, description="Seconds; null = the PBX default (120), 0 = until the caller hangs up")
    schedule_id: RefId | None = Field(None, description="Rings only within this schedule")


class SipAccountContactIO(_ContactBase):
    kind: Literal["sip_account"]
    account_id: RefId = Field(description="One of the PBX's SIP accounts")


class PhoneContactIO(_ContactBase):
    kind: Literal["phone"]
    value: Phone = Field(description="An international number (a short number of the platform is taken too)")


class SipUriContactIO(_ContactBase):
    kind: Literal["sip_uri"]
    value: SipUri = Field(description="user@domain")


#: one contact method; ``kind`` says which fields it has (the choices are CONTACT_KINDS)
ContactMethodIO = Annotated[SipAccountContactIO | PhoneContactIO | SipUriContactIO, Field(discriminator="kind")]
assert set(CONTACT_KINDS) == {"sip_account", "phone", "sip_uri"}


class EmployeeIn(Strict):
    # each contact method once (a rule the property-based run reads)
    model_config = ConfigDict(extra="forbid", regex_engine="python-re",
                              json_schema_extra={UNIQUE_EXTENSION: {"contact_methods": ["account_id", "value"]}})
    name: Name
    extension: Extension = Field(description=f"{EXTENSION_MIN_DIGITS}-{EXTENSION_MAX_DIGITS} digits, unique in the "
                                             "PBX (shared with groups and conference rooms); not an emergency number")
    email: Emails | None = None
    department: Text100 | None = None
    position: Text100 | None = None
    reception_mode: choice(RECEPTION_MODES) = Field("main", description="main (first active method) | sequential | "
                                                                        "simultaneous")
    contact_methods: list[ContactMethodIO] = Field(default_factory=list, max_length=MAX_CONTACTS,
                                                   description="In ringing order")
    outgoing_number: Phone | None = Field(None, description="A line of the PBX; null = no outbound calls")
    directions: list[Direction] | None = Field(None, description="Allowed directions; null = as the PBX")


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


def _wizard_schema(s: dict) -> None:
    """What the wizard's rules take (the employee's, the SIP account's and the cabinet login's), as
    the document states it: each field as the employee card and the SIP account document it, a
    forwarding number when the calls go to a phone, the e-mail when a cabinet login is asked for."""
    from pydantic import TypeAdapter

    from esl_control.model.employees.wizard import RECEPTIONS
    from esl_control.model.sip.schemas import SIP_LOGIN_PATTERN
    from storage.repos.users import LOGIN_PATTERN
    from web.api_fields import OBJECT_ID_PATTERN
    from web.rights import ASSIGNABLE
    from web.telephony.sip.http import SipPassword

    def of(t) -> dict:
        return TypeAdapter(t, config=ConfigDict(regex_engine="python-re")).json_schema()

    def kind(t, nullable=True):
        schema = of(t)
        return {"anyOf": [schema, {"type": "null"}]} if nullable else schema

    empty = {"type": "string", "maxLength": 0}
    props = s["properties"]
    desc = {k: v.get("description") for k, v in props.items() if v.get("description")}
    props.update(
        name=kind(Name, False), email=kind(Emails), department=kind(Text100), position=kind(Text100),
        extension={"anyOf": [of(Extension), empty, {"type": "null"}]},
        reception={"enum": list(RECEPTIONS)}, phone=kind(Phone), outgoing_number=kind(Phone),
        sip_login={"anyOf": [{"type": "string", "pattern": f"^({SIP_LOGIN_PATTERN})$"}, empty, {"type": "null"}]},
        sip_domain_id={"anyOf": [{"type": "string", "pattern": OBJECT_ID_PATTERN}, {"type": "null"}]},
        sip_password={"anyOf": [of(SipPassword), empty, {"type": "null"}]},
        login={"anyOf": [{"type": "string", "pattern": LOGIN_PATTERN}, empty, {"type": "null"}]},
        role={"anyOf": [{"enum": list(ASSIGNABLE)}, {"type": "string", "pattern": OBJECT_ID_PATTERN},
                        {"type": "null"}]})
    for k, text in desc.items():
        props[k]["description"] = text
    s["allOf"] = [
        {"oneOf": [{"title": "calls to a phone", "required": ["reception", "phone"],
                    "properties": {"reception": {"const": "phone"}, "phone": {"type": "string"}}},
                   {"title": "a SIP account or later", "properties": {"reception": {"enum": ["sip", "none"]}}}]},
        {"anyOf": [{"title": "no cabinet login", "properties": {"login": {"anyOf": [empty, {"type": "null"}]}}},
                   {"title": "a cabinet login", "required": ["email"], "properties": {"email": {"type": "string",
                                                                                              "minLength": 1}}}]}]


class WizardIn(Strict):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re", json_schema_extra=_wizard_schema)

    name: str
    email: str | None = Field(None, description="Receives the notification; also the card's e-mail")
    extension: str | None = Field(None, description="Default: the next free extension from 10")
    department: str | None = None
    position: str | None = None
    reception: str = Field("sip", description="sip (a SIP account for an IP phone or softphone) | phone "
                                              "(forward to a number) | none (set up later)")
    phone: str | None = Field(None, description="reception=phone: the number, international form")
    sip_account: bool | None = Field(None, description="Create a SIP account (default: when reception=sip)")
    sip_login: str | None = Field(None, description="The SIP account's login: default ext<extension>")
    sip_domain_id: str | None = Field(None, description="The SIP account's domain: default the PBX's own domain")
    sip_password: str | None = Field(None, description="The SIP account's password: default a generated one")
    outgoing_number: str | None = Field(None, description="A line of the PBX; null = no outbound calls")
    send_email: bool = True
    same_name_ok: bool = Field(False, description="Create the employee even if another card has the same name "
                                                  "(otherwise 409 same_name with that card's id)")
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


class ReachMixin(ReachedCrud):
    """The reach of the user's role in ``employees``, applied by the service (page and API alike)."""

    reach_section = SECTION
    manage_message = MANAGE_EMPLOYEES
    list_filters = ("group_id",)

    def wizard(self, *, may_create_sip: bool) -> EmployeeWizard:
        """The new-employee use case for this request's PBX and actor (page and API alike)."""
        return EmployeeWizard(self.db, self.pbx_id, self.audit_actor(), box=self.secret_box(),
                              base_domain=self.ctx.settings.sip_base_domain, may_create_sip=may_create_sip)


crud("/api/v1/telephony/employees", "Employee", section=SECTION, tag=TAG, service_cls=EmployeeService,
     in_model=EmployeeIn, out_model=EmployeeOut, id_name="Employee id",
     mixin=ReachMixin,
     list_params=[Param("q", description="Text to find in the name, extension, e-mail, department, position"),
                  Param("group_id", description="Only members of this group")],
     summaries={"list": N_("Employees of the PBX with their telephony"), "create": N_("Create an employee"),
                "get": N_("One employee's telephony"), "put": N_("Replace an employee's telephony"),
                "patch": N_("Change some fields of an employee's telephony"),
                "delete": N_("Delete an employee (refused while something refers to them)")})


def same_name_error(exc: SameName) -> AppError:
    return TelError(409, "same_name", N_("An employee with this name already exists; confirm to create another one."),
                    fields={"same_name_ok": N_("An employee with this name already exists; confirm to create another one.")},
                    extra={"existing": {"id": exc.existing["_id"], "name": exc.existing["name"]}})


@route("/api/v1/telephony/employees/wizard", access="tenant", section=SECTION)
class EmployeeWizardApi(ReachMixin, TelApi):
    @operation(N_("New employee wizard: the employee, a SIP account or a forwarding number, the outgoing number and the notification e-mail in one request"),
               request=WizardIn, response=WizardOut, status=201, tags=[TAG], errors=(400, 401, 403, 409, 422))
    async def post(self) -> None:
        data = self.payload(WizardIn)
        await self.require_all()
        send_email = clean_bool(data.get("send_email"), "send_email", default=True)
        same_name_ok = clean_bool(data.get("same_name_ok"), "same_name_ok", default=False)
        req = NewEmployee(**{k: data.get(k) for k in WIZARD_FIELDS}, same_name_ok=same_name_ok)
        wizard = self.wizard(may_create_sip=(await request_rights(self)).can("sip", "edit"))
        plan = await wizard.check(req)
        if plan.errors:  # every wrong field at once; nothing written
            raise self.rule_errors_error(plan.errors)
        access, login, role = await self.check_cabinet_login(data, send_email)

        async def make_login(employee: dict) -> dict:
            return await access.create_login(employee, login, role, language=self.lang,
                                             account_id=(self.current_user or {}).get("account_id"))

        async def undo_login(user: dict) -> None:
            await access.users.delete_one({"_id": user["_id"]})

        try:
            made = await wizard.create(req, plan, extra=make_login if access is not None else None,
                                       undo_extra=undo_login)
        except SameName as exc:
            raise same_name_error(exc) from None
        employee, account, user = made.employee, made.sip_account, made.extra
        link = None
        if user is not None and send_email:
            from web.auth.codes import code_store

            token = await code_store(self).issue_link(user["_id"], user.get("account_id"), purpose="employee")
            link = f"{self.ctx.settings.public_url}/password/link/{token}"
        mail = await notify_new_employee(self, employee, account, user, link) if send_email and employee.get("email") \
            else {"queued": False, "job_id": None, "error": None}
        user_out = None if user is None else {
            "id": user["_id"], "login": f"{self.pbx_id}/{user['login']}", "role": user["role"],
            "password_link_sent": bool(link and mail["queued"])}
        self.reply_model(WizardOut, {"employee": employee, "sip_account": account, "sip_password": made.sip_password,
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


async def notify_new_employee(handler, employee: dict, account: dict | None, user: dict | None = None,
                              link: str | None = None) -> dict:
    """Queue the "new subscriber" e-mail of the wizard (page and API alike), in the user's language,
    with the cabinet login and its set-password link when one was made; a failure to queue is
    reported, not fatal."""
    from jobs.mail import send_mail_async

    lines = [handler._(N_("New PBX subscriber successfully created!")),
             handler._(N_("Employee name: %(name)s"), name=employee["name"]),
             handler._(N_("Extension: %(extension)s"), extension=employee["extension"])]
    if account:
        lines.append(handler._(N_("SIP account: %(address)s"), address=account["address"]))
    if user is not None:
        lines.append(handler._(N_("Cabinet login: %(login)s (you can also sign in with this e-mail)"),
                               login=f"{handler.pbx_id}/{user['login']}"))
        if link:
            lines.append(handler._(N_("To set your cabinet password, open this link within 24 hours (it works once): %(url)s"),
                                   url=link))
    lines.append(handler._(N_("You can change the employee and SIP account data, add and change call-reception methods, and configure other features in the employee card.")))
    try:
        job_id = await send_mail_async(employee["email"], handler._(N_("New PBX subscriber")), "\n".join(lines),
                                       idempotency_key=f"employee-created:{employee['id']}")
    except Exception as exc:  # Redis down, jobs not configured: the employee exists anyway
        log.warning("new employee e-mail not queued: %s", exc)
        return {"queued": False, "job_id": None, "error": str(exc)}
    return {"queued": True, "job_id": job_id, "error": None}

"""The new-employee wizard (inventory B §1.3: card → telephony → SIP account), one use case for the
cabinet page and ``POST /api/v1/telephony/employees/wizard``.

What it does, for both:

- the extension: as given, else the next free one from :data:`FIRST_EXTENSION`;
- reception: ``sip`` (the SIP account becomes the first contact method), ``phone`` (forward to a
  number: the one contact method) or ``none`` (set up later); a SIP account is made when asked
  (by default when reception is ``sip``): login as given, else ``ext<extension>``; domain as
  given, else the PBX's own domain (made when missing); password as given, else generated;
- a soft duplicate check: another card with the same name is refused (:class:`SameName`) unless
  the caller confirms;
- everything is validated first and every wrong field is reported at once (:meth:`check`);
  nothing is written then. Write order: employee, the caller's extra step (the cabinet login,
  made by the web layer's access service), SIP account; a failure removes what was made.

Creating a SIP account needs the right to change SIP settings; the caller says whether the user
has it (``may_create_sip``). The welcome e-mail is the caller's (it needs the mail job).
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from esl_control.model.common import check_extension_free, clean_choice, next_free_extension, norm_name
from esl_control.model.crypto import SecretBox
from esl_control.model.employees.schemas import employee_errors
from esl_control.model.employees.services import EmployeeService
from esl_control.model.sip.schemas import clean_sip_account, generate_sip_password
from esl_control.model.sip.services import SipAccountService, SipDomainService
from esl_control.routing.errors import RuleError
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.telephony import Employees, SipAccounts, SipDomains

FIRST_EXTENSION = 10
RECEPTIONS = ("sip", "phone", "none")
NEEDS_SIP_RIGHT = N_("Creating a SIP account needs the right to change SIP settings.")


def default_sip_login(extension: str) -> str:
    return f"ext{extension}"


@dataclass
class NewEmployee:
    """The wizard's input, as typed (cleaned by :meth:`EmployeeWizard.check`)."""

    name: Any = None
    email: Any = None
    department: Any = None
    position: Any = None
    extension: Any = None          # empty: the next free extension
    reception: Any = "sip"         # sip | phone | none
    phone: Any = None              # reception=phone: the number
    outgoing_number: Any = None
    sip_account: bool | None = None  # None: when reception is sip
    sip_login: Any = None          # empty: ext<extension>
    sip_domain_id: Any = None      # empty: the PBX's own domain
    sip_password: Any = None       # empty: generated
    same_name_ok: bool = False


@dataclass
class Plan:
    """What :meth:`EmployeeWizard.create` writes, once :meth:`EmployeeWizard.check` found no error."""

    employee: dict
    sip: dict | None = None        # {login, domain_id, password}
    errors: list[RuleError] = field(default_factory=list)


@dataclass
class Created:
    employee: dict
    sip_account: dict | None
    sip_password: str | None
    extra: Any = None


class SameName(Exception):
    """Another card has this name (a soft check: the caller may confirm and create anyway)."""

    def __init__(self, existing: dict):
        super().__init__(existing.get("name"))
        self.existing = existing


class EmployeeWizard:
    def __init__(self, db, pbx_id: int, actor=None, *, box: SecretBox | None = None,
                 base_domain: str | None = None, may_create_sip: bool = True):
        self.employees = EmployeeService(db, pbx_id, actor)
        self.db, self.pbx_id, self.actor, self.box = db, pbx_id, actor, box
        self.domains = SipDomainService(db, pbx_id, actor, base_domain=base_domain)
        self.may_create_sip = may_create_sip

    @property
    def scope(self):
        return self.employees.scope

    async def next_extension(self) -> str:
        return await next_free_extension(self.db, self.scope, FIRST_EXTENSION)

    async def check(self, req: NewEmployee) -> Plan:
        """Every rule the input breaks (``plan.errors``, fields named as the wizard's inputs), and
        what to write when there is none. Writes nothing but the PBX's own SIP domain when a SIP
        account is asked for and the PBX has none yet."""
        errors: list[RuleError] = []
        try:
            reception = clean_choice(req.reception or None, "reception", RECEPTIONS, default="sip")
        except RuleError as exc:
            errors.append(exc)
            reception = None
        extension = req.extension if req.extension not in (None, "") else await self.next_extension()
        phone = req.phone  # reception=phone: an empty number is refused by the contact method's rule
        methods = [{"kind": "phone", "value": phone, "active": True}] if reception == "phone" else []
        employee = {"name": req.name, "email": req.email, "department": req.department, "position": req.position,
                    "extension": extension, "reception_mode": "main", "contact_methods": methods,
                    "outgoing_number": req.outgoing_number or None}
        for exc in employee_errors(employee):
            if (exc.field or "").startswith("contact_methods"):
                exc.field = "phone"
            errors.append(exc)
        if not any(e.field == "extension" for e in errors):
            try:
                await check_extension_free(self.db, self.scope, str(extension).strip())
            except RuleError as exc:
                errors.append(exc)
        plan = Plan(employee, errors=errors)
        wants_sip = req.sip_account if req.sip_account is not None else reception == "sip"
        if wants_sip:
            if not self.may_create_sip:
                raise AppError(403, "forbidden", NEEDS_SIP_RIGHT)
            try:
                plan.sip = await self._check_sip(req, str(extension).strip())
            except RuleError as exc:
                errors.append(exc)
        return plan

    async def _check_sip(self, req: NewEmployee, extension: str) -> dict:
        data = {"login": req.sip_login or default_sip_login(extension), "domain_id": req.sip_domain_id or None,
                "password": req.sip_password or generate_sip_password()}
        try:
            clean = clean_sip_account(data, password_required=True)
        except RuleError as exc:
            exc.field = "sip_" + (exc.field or "login")
            raise
        if clean["domain_id"]:
            domain = await SipDomains(self.db, self.scope).find_one({"_id": clean["domain_id"]})
            if domain is None:
                raise RuleError("ref.unknown", field="sip_domain_id", id=clean["domain_id"])
        else:
            domain = await self.domains.ensure_default()
        if await SipAccounts(self.db, self.scope).find_one({"domain_id": domain["_id"], "login": clean["login"]}):
            raise RuleError("sip_account.taken", field="sip_login", login=clean["login"], domain=domain["name"])
        return {"login": clean["login"], "domain_id": domain["_id"], "password": data["password"]}

    async def same_name(self, name: Any) -> dict | None:
        """Another card with this name, if any."""
        if not isinstance(name, str) or not name.strip():
            return None
        return await Employees(self.db, self.scope).find_one({"name_norm": norm_name(name)},
                                                             projection={"name": 1})

    async def create(self, req: NewEmployee, plan: Plan | None = None, *,
                     extra: Callable[[dict], Awaitable[Any]] | None = None,
                     undo_extra: Callable[[Any], Awaitable[None]] | None = None) -> Created:
        """Write the employee, ``extra(employee)`` (e.g. the cabinet login) and the SIP account.
        Raises the first :class:`RuleError` of :meth:`check` (see ``plan.errors`` for all of them),
        :class:`SameName` unless ``req.same_name_ok``; a failed write removes what was made."""
        plan = plan or await self.check(req)
        if plan.errors:
            raise plan.errors[0]
        if not req.same_name_ok:
            existing = await self.same_name(req.name)
            if existing is not None:
                raise SameName(existing)
        employee = await self.employees.create(plan.employee)
        made = account = None
        try:
            if extra is not None:
                made = await extra(employee)
            if plan.sip is not None:
                accounts = SipAccountService(self.db, self.pbx_id, self.actor, box=self.box)
                try:
                    account = await accounts.create({**plan.sip, "employee_id": employee["id"]})
                except RuleError as exc:  # lost a race for the login
                    exc.field = "sip_" + (exc.field or "login")
                    raise
        except BaseException:  # nothing half-made stays behind
            if made is not None and undo_extra is not None:
                await undo_extra(made)
            await self.employees.delete(employee["id"])
            raise
        if account is not None:
            employee = await self.employees.get(employee["id"])
        return Created(employee, account, plan.sip["password"] if plan.sip else None, made)


__all__ = ["FIRST_EXTENSION", "RECEPTIONS", "Created", "EmployeeWizard", "NewEmployee", "Plan", "SameName",
           "default_sip_login"]

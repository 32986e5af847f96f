"""Employees' telephony (PRODUCT.md §3 "Employee", §4.4; inventory B §3).

The employee document also carries the minimal card (name, e-mail, department, position) until
the access issue adds roles and logins to it. Writes:

- create: the extension claim first, then the employee (see ``TenantService._create_with_extension``);
- update: claim the new extension, replace the employee, release the old claim;
- delete: refused while a group, scheme, client-number rule or SIP account refers to the
  employee; then the employee, then its claim; then its cabinet users are unlinked.

Cabinet logins: after an update the e-mail and phone of the card are copied to the cabinet users
linked to the employee (``storage.repos.users.sync_employee_logins``), so they sign in by the
card's current e-mail / phone / SIP account.
"""
from __future__ import annotations

import logging
from typing import Any, Mapping

from esl_control.model.common import new_id
from esl_control.model.employees.schemas import clean_employee, refs_of_employee
from esl_control.model.quotas import check_creation
from esl_control.model.reach import EVERYTHING, OUTSIDE_EMPLOYEES, Reach, reached_employees
from esl_control.model.references import check_refs_exist
from esl_control.model.service import TenantService
from esl_control.model.webhooks.services import emit
from esl_control.routing.errors import RuleError
from storage.repos.telephony import Employees, Numbers, RingGroups, SipAccounts, Trunks
from storage.repos.users import sync_employee_logins, unlink_employee


SEARCH_FIELDS = ("name", "extension", "email", "department", "position", "outgoing_number")


log = logging.getLogger("pult.webhooks")

#: what ``employee.changed`` tells about the employee as changed
WEBHOOK_FIELDS = ("name", "extension", "email", "department", "position", "outgoing_number")


class EmployeeService(TenantService):
    repo_cls = Employees
    object_type = "employee"
    section = "telephony.employees"
    owns_extension = True

    async def _outgoing_ref(self, number: str | None) -> dict | None:
        """A line of this PBX that can call out: a platform / active SIP number, or a trunk number
        flagged "call" (inventory D §5.3.2). Passive SIP numbers are inbound only."""
        if number is None:
            return None
        n = await Numbers(self.db, self.scope).find_one({"number": number,
                                                         "kind": {"$in": ["platform", "active_sip"]}})
        if n:
            return {"type": "number", "id": n["_id"]}
        for t in await Trunks(self.db, self.scope).find({"numbers.number": number}):
            if any(x["number"] == number and x["call"] for x in t["numbers"]):
                return {"type": "trunk", "id": t["_id"]}
        raise RuleError("outgoing.unknown", field="outgoing_number", number=number)

    async def _resolve(self, doc: dict) -> None:
        doc["outgoing_ref"] = await self._outgoing_ref(doc["outgoing_number"])
        await check_refs_exist(self.db, self.scope, refs_of_employee(doc))
        ids = [c["account_id"] for c in doc["contact_methods"] if c["kind"] == "sip_account"]
        for acc in await SipAccounts(self.db, self.scope).find({"_id": {"$in": ids}}):
            if acc.get("employee_id") not in (None, doc["_id"]):
                raise RuleError("sip_account.employee_locked", field="contact_methods",
                                employee=f"{acc['login']}@{acc['domain']}")

    # --- role reach (esl_control.model.reach) ------------------------------------------------
    async def list_reached(self, reach: Reach = EVERYTHING, *, q: str = "", group_id: str | None = None) -> list[dict]:
        """The employees ``reach`` covers, optionally only the members of ``group_id`` and with
        ``q`` in the name, extension, e-mail, department, position or outgoing number."""
        within = None
        if group_id:
            group = await RingGroups(self.db, self.scope).find_one({"_id": group_id}, projection={"members": 1})
            within = {m["employee_id"] for m in (group or {}).get("members", ()) if m.get("employee_id")}
        return await self._find_reached(await reached_employees(self.db, self.scope, reach), q, SEARCH_FIELDS, within)

    async def get_reached(self, id: str, reach: Reach = EVERYTHING) -> dict:
        """One employee; another PBX's id is not found, an employee outside ``reach`` is refused (403)."""
        return await self._get_reached(id, await reached_employees(self.db, self.scope, reach), OUTSIDE_EMPLOYEES)

    async def _audit(self, operation: str, before: Mapping | None, after: Mapping | None, *,
                     object_type: str | None = None) -> None:
        """Every change of an employee is logged, and told to the PBX's webhooks (``employee.changed``)."""
        await super()._audit(operation, before, after, object_type=object_type)
        if (object_type or self.object_type) == "employee":
            ref = after or before or {}
            try:
                await emit(self.db, self.pbx_id, "employee.changed",
                           {"operation": operation, "employee_id": ref.get("_id"),
                            "employee": None if after is None else {k: after.get(k) for k in WEBHOOK_FIELDS}},
                           event_id=f"employee.changed:{ref.get('_id')}:{new_id()}")
            except Exception as exc:  # noqa: BLE001 — the change stands; the event is lost, and said so
                log.warning("employee.changed of %s not emitted: %s", ref.get("_id"), exc)

    async def create(self, data: Mapping[str, Any], *, ldap: Mapping[str, Any] | None = None) -> dict:
        """``ldap``: the directory link of a card the LDAP sync creates (``{uid, dn, ...}``; the
        card is then "managed by LDAP"); only the sync passes it."""
        return await super().create(data, extra=None if ldap is None else {"ldap": dict(ldap)})

    async def update(self, id: str, data: Mapping[str, Any], *, ldap: Mapping[str, Any] | None = None) -> dict:
        """``ldap``: a new directory link (the LDAP sync); None keeps the card's link as it is."""
        return await super().update(id, data, extra=None if ldap is None else {"ldap": dict(ldap)})

    cleaner = clean_employee

    async def _check(self, data: Mapping[str, Any], doc: dict, before: Mapping[str, Any] | None) -> None:
        await self._resolve(doc)
        if before is None:
            await check_creation(self.db, self.pbx_id, "employees")

    async def _after(self, operation: str, before: Mapping[str, Any] | None, doc: Mapping[str, Any] | None) -> None:
        """The cabinet logins follow the card: updated with it, unlinked when it is deleted."""
        if operation == "update":
            await sync_employee_logins(self.db, self.pbx_id, doc)
        elif operation == "delete":
            await unlink_employee(self.db, self.pbx_id, before["_id"])

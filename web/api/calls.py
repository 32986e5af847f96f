"""Call history, scoped: a PBX user sees their PBX's calls within the reach of their role in the
section «Call history» (``rights.reach("calls")``); an operator sees every call.

Which calls a reach covers (:func:`reach_filter`) — decided from what a call record carries
(``esl_control.cdr.record_from_event``: ``caller``, ``callee`` = the number dialled, and
``vars`` = every ``pult_*`` channel variable):

- ``all``: every call of the PBX;
- ``own``: calls where the user's employee (``users.employee_id``) is a party — the record's
  ``vars.pult_employee_id`` (set by the directory on a call the employee's SIP account makes) is
  the employee, or ``caller`` / ``callee`` is one of the employee's identities: the extension,
  the logins of the employee's SIP accounts (``login`` and ``login@domain``), the numbers of the
  employee's phone and SIP-URI contact methods (``79161234567`` and ``+79161234567`` alike);
- ``groups`` (the groups the user's employee is a member of) and ``supervised`` (the groups the
  user leads, ``Rights.supervised_groups``): the user's own calls, the calls of every employee
  member of those groups (as for ``own``), and the calls that rang a group — ``callee`` is the
  group's extension, or ``vars.pult_group_id`` names the group (when the dialplan sets it).

A user with no linked employee and no groups in reach sees no calls (rather than all of them).
A call outside the reach is "not found" (404), like another PBX's call.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from esl_control.model import vocabulary as vocab
from pult.errors import AppError
from pult.i18n import N_
from storage.paging import KeysetPage, list_page
from storage.repos.base import Scope
from storage.repos.calls import CallRecords
from web.api_base import AFTER_PARAM, PAGE_PARAMS, ApiHandler, Param, operation, page_of
from web.api_models import CallOut
from web.routes import route

NEWEST_FIRST = [("start", -1), ("uuid", -1)]
NOTHING = {"uuid": {"$in": []}}  # a filter no record matches


def call_out(rec: dict) -> CallOut:
    start, end = rec.get("start"), rec.get("end")
    duration = rec.get("duration")
    if duration is None and isinstance(start, datetime) and isinstance(end, datetime):
        duration = max(0, int((end - start).total_seconds()))
    billsec = rec.get("billsec")
    result = rec.get("result") or rec.get("hangup_cause")
    return CallOut(uuid=str(rec["uuid"]), pbx_id=rec.get("pbx_id"), start=start, end=end,
                   caller=rec.get("caller"), callee=rec.get("callee"),
                   direction=rec.get("direction"),
                   duration=int(duration) if duration is not None else None,
                   billsec=int(billsec) if billsec is not None else None,
                   result=result, node=rec.get("node"))


def _number_forms(value: str) -> set[str]:
    """A number as it may appear in a record: ``79161234567`` and ``+79161234567``."""
    value = (value or "").strip()
    if not value:
        return set()
    bare = value.lstrip("+")
    return {value, bare, "+" + bare} if bare.isdigit() else {value}


async def employee_identities(db, scope: Scope, employees: list[dict]) -> set[str]:
    """Every caller/callee value that means one of ``employees`` (see the module docstring)."""
    from storage.repos.telephony import SipAccounts

    out: set[str] = set()
    account_ids: list[str] = []
    for emp in employees:
        if emp.get("extension"):
            out.add(str(emp["extension"]))
        for method in emp.get("contact_methods") or ():
            if method.get("kind") == "sip_account" and method.get("account_id"):
                account_ids.append(method["account_id"])
            elif method.get("value"):
                out |= _number_forms(str(method["value"]))
    if account_ids:
        for acc in await SipAccounts(db, scope).find({"_id": {"$in": account_ids}},
                                                     projection={"login": 1, "domain": 1}):
            out.add(acc["login"])
            if acc.get("domain"):
                out.add(f"{acc['login']}@{acc['domain']}")
    return out


async def reach_filter(db, user: dict, rights: Any) -> dict:
    """The call-record filter of ``user``'s reach in «Call history» (``{}``: the whole scope)."""
    from storage.repos.telephony import Employees, RingGroups

    if rights is None or getattr(rights, "operator", False):
        return {}
    reach = rights.reach("calls")
    if reach is None:
        return dict(NOTHING)
    if reach == "all":
        return {}
    scope = Scope.pbx(user["pbx_id"])
    own = user.get("employee_id")
    employee_ids = {own} if own else set()
    groups: list[dict] = []
    if reach == "supervised" and rights.supervised_groups:
        groups = await RingGroups(db, scope).find({"_id": {"$in": list(rights.supervised_groups)}})
    elif reach == "groups" and own:
        groups = await RingGroups(db, scope).find({"members.employee_id": own})
    for g in groups:
        employee_ids |= {m["employee_id"] for m in g.get("members") or () if m.get("employee_id")}
    employees = await Employees(db, scope).find({"_id": {"$in": list(employee_ids)}}) if employee_ids else []
    numbers = await employee_identities(db, scope, employees)
    numbers |= {str(g["extension"]) for g in groups if g.get("extension")}
    clauses: list[dict] = []
    if numbers:
        values = sorted(numbers)
        clauses += [{"caller": {"$in": values}}, {"callee": {"$in": values}}]
    if employee_ids:
        clauses.append({f"vars.{vocab.EMPLOYEE_ID}": {"$in": sorted(employee_ids)}})
    if groups:
        clauses.append({f"vars.{vocab.GROUP_ID}": {"$in": sorted(str(g["_id"]) for g in groups)}})
    return {"$or": clauses} if clauses else dict(NOTHING)


async def request_calls_filter(handler) -> dict:
    """:func:`reach_filter` for the request's user (computed once per request)."""
    cached = getattr(handler, "_calls_filter", None)
    if cached is None:
        from web.enforce import request_rights

        user = handler.current_user or {}
        if user.get("kind") == "operator":
            cached = {}
        else:
            cached = await reach_filter(handler.ctx.store.db, user, await request_rights(handler))
        handler._calls_filter = cached
    return cached


async def call_page(handler, scope: Scope, page: int, per_page: int, pbx_id: int | None = None,
                    after: list | None = None, before: list | None = None) -> tuple[KeysetPage, int]:
    """One page of the call records in ``scope`` and the user's reach (newest first) and the
    total count — the API's and the cabinet's. ``after`` / ``before`` (decoded keyset cursors):
    the page after / before that record (the cabinet's «Older» / «Newer»); without them, page
    number ``page`` (the API)."""
    repo = CallRecords(handler.ctx.store.db, scope)
    flt = dict(await request_calls_filter(handler))
    if pbx_id is not None:
        flt["pbx_id"] = pbx_id
    total = await repo.count(flt)
    return await list_page(repo.find, flt, NEWEST_FIRST, per_page, page, after, before), total


@route("/api/v1/calls", access="user", section="calls")
class CallsApi(ApiHandler):
    @operation(N_("Call history, newest first"), response=page_of(CallOut), tags=["calls"],
               params=[*PAGE_PARAMS, AFTER_PARAM,
                       Param("pbx_id", schema={"type": "integer", "minimum": 1},
                             description="Operators: only this PBX (PBX users always see their own)")],
               errors=(400, 401, 403),
               description="A PBX user sees the calls within the reach of their role in «Call history»: "
                           "own calls, the calls of their groups or supervised groups, or all calls of the PBX.")
    async def get(self) -> None:
        page, per_page = self.pagination()
        pbx_id = self.int_arg("pbx_id", 0, minimum=0) or None
        after = self.after_arg(NEWEST_FIRST)
        res, total = await call_page(self, self.scope(), page, per_page, pbx_id, after)
        self.reply_page([call_out(d).model_dump(mode="json") for d in res.docs], page, per_page, total, res.older)


@route("/api/v1/calls/{uuid}", access="user", section="calls", params={"uuid": "[A-Za-z0-9._:-]{1,80}"})
class CallApi(ApiHandler):
    @operation(N_("One call record"), response=CallOut, tags=["calls"], errors=(401, 403, 404),
               params=[Param("uuid", "path", description="Channel uuid of the call", required=True)])
    async def get(self, uuid: str) -> None:
        reach = await request_calls_filter(self)
        flt = {"$and": [{"uuid": uuid}, reach]} if reach else {"uuid": uuid}
        rec = await CallRecords(self.ctx.store.db, self.scope()).find_one(flt)
        if rec is None:
            raise AppError(404, "not_found", N_("No such call."))
        self.reply(call_out(rec))

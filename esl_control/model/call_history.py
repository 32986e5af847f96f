"""Call history, within the reach of the user's role in «Call history» (PRODUCT.md §6): the use case
the API (``/api/v1/calls``), the cabinet's call history page and its dashboard all call, so they
agree on which calls a user sees; the web edge only turns the user's rights into a
:class:`~esl_control.model.reach.Reach` (or None: the role does not reach call history).

    history = CallHistory(db, scope, reach)
    res, total = await history.page(1, 25)   # res.docs, res.older / res.newer cursors
    rec = await history.get(uuid)            # AppError 404 outside the scope or the reach

Which calls a reach covers (:meth:`CallHistory.reach_filter`) — decided from what a call record
carries (``esl_control.cdr.record_from_event``: ``caller``, ``callee`` = the number dialled, and
``vars`` = every ``pult_*`` channel variable):

- everything (``all``; an operator): every call of the scope;
- ``own``: calls where the user's employee (``users.employee_id``) is a party — the record's
  ``vars.pult_employee_id`` (set by the directory on a call the employee's SIP account makes) is
  the employee, or ``caller`` / ``callee`` is one of the employee's identities: the extension,
  the logins of the employee's SIP accounts (``login`` and ``login@domain``), the numbers of the
  employee's phone and SIP-URI contact methods (``79161234567`` and ``+79161234567`` alike);
- ``groups`` (the groups the user's employee is a member of) and ``supervised`` (the groups the
  user leads): the user's own calls, the calls of every employee member of those groups (as for
  ``own``), and the calls that rang a group — ``callee`` is the group's extension, or
  ``vars.pult_group_id`` names the group (when the dialplan sets it).

A user with no linked employee and no groups in reach sees no calls (rather than all of them).
A call outside the reach is "not found" (404), like another PBX's call. The filter is part of
every query (counted and paged by the store, never filtered after a full load).
"""
from __future__ import annotations

import asyncio
import copy
import functools
import weakref
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cachetools import TTLCache

from esl_control.model import vocabulary as vocab
from esl_control.model.reach import Reach
from pult.errors import AppError
from pult.i18n import N_
from storage.paging import KeysetPage, list_page
from storage.repos.base import Scope
from storage.repos.calls import ANSWERED, CallRecords
from storage.repos.telephony import Employees, RingGroups, SipAccounts
from storage.versions import current_versions, is_versioned

#: The order of every list of calls (a keyset cursor names a record by these).
NEWEST_FIRST = [("start", -1), ("uuid", -1)]
#: A filter no record matches.
NOTHING = {"uuid": {"$in": []}}
NOT_FOUND = N_("No such call.")


def _number_forms(value: str) -> set[str]:
    """A number as it may appear in a record: ``79161234567`` and ``+79161234567``."""
    value = (value or "").strip()
    if not value:
        return set()
    bare = value.lstrip("+")
    return {value, bare, "+" + bare} if bare.isdigit() else {value}


async def employee_identities(db, scope: Scope, employees: list[dict]) -> set[str]:
    """Every caller/callee value that means one of ``employees`` (see the module docstring)."""
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


#: reach filters kept per store (see :func:`kept_reach_filter`): how many, and for how long at most
REACH_KEPT_SIZE = 2_000
REACH_MAX_AGE = 300.0
_kept_reach: "weakref.WeakKeyDictionary[Any, TTLCache]" = weakref.WeakKeyDictionary()


async def kept_reach_filter(db, scope: Scope, reach: Reach | None) -> dict:
    """:func:`reach_filter`, kept while the configuration it is built from stands still: the
    filter of a reach that is not everything (own calls, groups, supervised groups) is made of the
    PBX's employees, SIP accounts and call groups, whose every write bumps the PBX's change
    counter (:mod:`storage.versions`). The counters are read first (from this process's copy: no
    store read while it is complete), and a filter kept with the same counters is answered without
    reading the employees, their SIP accounts and groups again (two or three trips to the store
    per page of «own calls»); a change made behind Pult's back is seen after ``REACH_MAX_AGE``
    seconds at most, as the call engine's PBX snapshots are."""
    if reach is None or reach.everything or scope.field != "pbx_id" or not is_versioned(db):
        return await reach_filter(db, scope, reach)
    try:
        kept = _kept_reach.get(db)
        if kept is None:
            kept = _kept_reach[db] = TTLCache(maxsize=REACH_KEPT_SIZE, ttl=REACH_MAX_AGE)
    except TypeError:  # a database that cannot be referenced weakly: nothing is kept
        return await reach_filter(db, scope, reach)
    versions = await current_versions(db, scope.value)  # before the documents
    hit = kept.get((scope, reach))
    if hit is not None and hit[0] == versions.config:
        return copy.deepcopy(hit[1])
    flt = await reach_filter(db, scope, reach)
    kept[(scope, reach)] = (versions.config, copy.deepcopy(flt))
    return flt


async def reach_filter(db, scope: Scope, reach: Reach | None) -> dict:
    """The call-record filter of ``reach`` in ``scope`` (``{}``: the whole scope; None: nothing)."""
    if reach is None:
        return dict(NOTHING)
    if reach.everything:
        return {}
    own = reach.employee_id
    employee_ids = {own} if own else set()
    groups: list[dict] = []
    if reach.kind == "supervised" and reach.supervised_groups:
        groups = await RingGroups(db, scope).find({"_id": {"$in": sorted(reach.supervised_groups)}})
    elif reach.kind == "groups" and own:
        groups = await RingGroups(db, scope).find({"members.employee_id": own})
    for g in groups:
        employee_ids |= {m["employee_id"] for m in g.get("members") or () if m.get("employee_id")}
    employees = await Employees(db, scope).find({"_id": {"$in": sorted(employee_ids)}}) if employee_ids else []
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


class CallHistory:
    """The call records of ``scope`` that ``reach`` covers (None: the role does not reach call
    history, so none). The reach's filter is computed once per object (one request)."""

    def __init__(self, db, scope: Scope, reach: Reach | None):
        self.db = db
        self.scope = scope
        self.reach = reach
        self._filter: dict | None = None

    async def reach_filter(self) -> dict:
        if self._filter is None:
            self._filter = await kept_reach_filter(self.db, self.scope, self.reach)
        return self._filter

    async def within(self, flt: dict) -> dict:
        """``flt`` restricted to the reach."""
        reach = await self.reach_filter()
        if not reach:
            return dict(flt)
        return {"$and": [flt, reach]} if flt else dict(reach)

    def _repo(self) -> CallRecords:
        return CallRecords(self.db, self.scope)

    async def page(self, page: int, per_page: int, pbx_id: int | None = None, after: list | None = None,
                   before: list | None = None, fields: Iterable[str] | None = None,
                   newer: bool = True) -> tuple[KeysetPage, int]:
        """One page (newest first) and the total count — the API's and the cabinet's. ``after`` /
        ``before`` (decoded keyset cursors): the page after / before that record (the cabinet's
        «Older» / «Newer»); without them, page number ``page`` (the API). ``pbx_id``: only that
        PBX's calls (an operator's filter). ``fields``: only these top-level fields of each record
        are read (the sort's are always added: the cursors are made of them); None: whole records.
        ``newer=False``: no «Newer» cursor (see :func:`storage.paging.keyset_page`)."""
        flt = dict(await self.reach_filter())
        if pbx_id is not None:
            flt["pbx_id"] = pbx_id
        repo = self._repo()
        find = repo.find
        if fields is not None:
            find = functools.partial(repo.find, projection={**dict.fromkeys(fields, 1),
                                                            **{f: 1 for f, _ in NEWEST_FIRST}})
        # asked together: the embedded store runs them back to back in its thread (one trip there
        # and back instead of two; on a busy machine each trip waits for the scheduler)
        res, total = await asyncio.gather(list_page(find, flt, NEWEST_FIRST, per_page, page, after, before, newer),
                                          repo.count(flt))
        return res, total

    async def get(self, uuid: str) -> dict:
        """One call record (AppError 404 when it is not in the scope or the reach)."""
        rec = await self._repo().find_one(await self.within({"uuid": uuid}))
        if rec is None:
            raise AppError(404, "not_found", NOT_FOUND)
        return rec

    async def summary(self, since: datetime, recent: int = 5) -> tuple[dict, list[dict]]:
        """The dashboard's figures — calls since ``since`` (the user's midnight), answered and
        unanswered among them, every call — and the ``recent`` newest calls. The answered ones
        (:data:`ANSWERED`) are counted through the answered calls' own index (operator) or the
        PBX's calls of today (a PBX)."""
        repo = self._repo()
        today = {"start": {"$gte": since}}
        flt_today, flt_answered, flt_all = (await self.within(today),
                                            await self.within({**today, **copy.deepcopy(ANSWERED)}),
                                            await self.within({}))
        # asked together (one trip to the embedded store's thread, see page())
        n_today, n_answered, n_all, docs = await asyncio.gather(
            repo.count(flt_today), repo.count(flt_answered), repo.count(flt_all),
            repo.find(flt_all, sort=NEWEST_FIRST, limit=recent))
        stats = {"today": n_today, "answered": n_answered, "total": n_all}
        stats["unanswered"] = stats["today"] - stats["answered"]
        return stats, docs


# --- one call in detail (the API's GET /api/v1/calls/{uuid} and the cabinet's call page) ----------
#: a leg's hangup cause → what happened to it, when nobody answered it
LEG_CAUSES = {"NO_ANSWER": "no_answer", "NO_USER_RESPONSE": "no_answer", "ALLOTTED_TIMEOUT": "no_answer",
              "USER_BUSY": "busy", "CALL_REJECTED": "busy", "ORIGINATOR_CANCEL": "cancelled",
              "LOSE_RACE": "cancelled", "PICKED_OFF": "cancelled", "NODE_LOST": "lost"}
LEG_RESULTS = ("answered", "no_answer", "busy", "cancelled", "lost", "failed")
#: who ended a call: the caller, the other side (the leg that answered), or Pult / the switch
ENDED_BY = ("caller", "far_end", "pult")
_RECEIVED = ("recv_bye", "recv_cancel", "recv_refuse")
_SENT = ("send_bye", "send_cancel", "send_refuse")


def _seconds(a, b) -> int | None:
    if not isinstance(a, datetime) or not isinstance(b, datetime):
        return None
    return max(0, int(round((b - a).total_seconds())))


def leg_result(leg: dict) -> str:
    """What happened to a leg (:data:`LEG_RESULTS`): answered when it talked, else by its cause."""
    if (leg.get("billsec") or 0) > 0 or leg.get("answer"):
        return "answered"
    return LEG_CAUSES.get(str(leg.get("hangup_cause") or ""), "failed")


def leg_ringing(leg: dict) -> int | None:
    """Seconds a leg rang: to its answer, or to its end when nobody answered it."""
    return _seconds(leg.get("start"), leg.get("answer") or leg.get("end"))


def legs_in_order(rec: dict) -> list[dict]:
    """The call's legs in the order they were rung (by their start; a leg without one last)."""
    legs = [leg for leg in rec.get("legs") or () if isinstance(leg, dict) and leg.get("uuid")]
    return sorted(legs, key=lambda leg: (0, leg["start"]) if isinstance(leg.get("start"), datetime) else (1, 0))


def ended_by(rec: dict) -> str | None:
    """Who ended the call (:data:`ENDED_BY`), or None when the record cannot tell: the SIP
    disposition of the caller's channel (``recv_bye``: the caller hung up), else the leg that
    talked (``recv_bye`` on it: the other side), else the engine's own ``hangup`` step or a
    disposition Pult's side sent."""
    disposition = (rec.get("vars") or {}).get("sip_hangup_disposition")
    if disposition in _RECEIVED:
        return "caller"
    for leg in rec.get("legs") or ():
        if isinstance(leg, dict) and leg_result(leg) == "answered" \
                and (leg.get("vars") or {}).get("sip_hangup_disposition") in _RECEIVED:
            return "far_end"
    path = [e for e in rec.get("path") or () if isinstance(e, dict)]
    if path and path[-1].get("step") == "menu" and path[-1].get("result") == "caller_hung_up":
        return "caller"
    if disposition in _SENT or (path and path[-1].get("step") == "hangup"):
        return "pult"
    return None


def stages(rec: dict) -> dict:
    """The call's stage timings in seconds (None: the call had no such stage):

    - ``menu``: with Pult before anything rang (greeting, menu) — or the whole answered call when
      nothing rang (voice mail, fax, a menu the caller left);
    - ``ringing``: from the first leg rung to the answer (or to the last leg's end: nobody answered);
    - ``talk``: the conversation on the leg(s) that answered (a call without legs and without the
      engine's path: its own talk seconds)."""
    legs = legs_in_order(rec)
    answer, end = rec.get("answer"), rec.get("end")
    out: dict[str, int | None] = {"menu": None, "ringing": None, "talk": None}
    starts = [leg["start"] for leg in legs if isinstance(leg.get("start"), datetime)]
    if not starts:
        if rec.get("path"):
            out["menu"] = _seconds(answer, end)
        elif rec.get("billsec"):
            out["talk"] = int(rec["billsec"])
        return out
    first = min(starts)
    if isinstance(answer, datetime) and answer < first:
        out["menu"] = _seconds(answer, first)
    answered = [leg for leg in legs if leg_result(leg) == "answered"]
    if answered:
        out["ringing"] = _seconds(first, answered[0].get("answer"))
        out["talk"] = sum(int(leg.get("billsec") or 0) for leg in answered)
    else:
        ends = [leg["end"] for leg in legs if isinstance(leg.get("end"), datetime)]
        out["ringing"] = _seconds(first, max(ends)) if ends else None
    return out

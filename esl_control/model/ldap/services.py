"""The LDAP sync use cases of a PBX: settings, "run now", the runs and incidents lists, the
schedule, the matching (the matched cards and statistics, stop / resume sync of a card, deleting
a link, a manual match), "Show example", and sign-in by LDAP bind (PRODUCT.md §11, inventory D §4.6.7.5). The API, the cabinet
page and the Celery job call these; nothing else writes ``ldap_settings``, ``ldap_runs`` or
``ldap_incidents``.

A run (:func:`run_sync`): claim the PBX (one run at a time; a claim older than
:data:`STALE_RUN` is taken over), read the WHOLE directory in a worker thread, then compute and
apply the change set (:mod:`esl_control.model.ldap.sync`). A read that fails — the server is
away, refuses the bind or goes away mid-read — applies nothing: the run is ``failed`` with one
incident saying why. The schedule's next run is set when a run ends and when settings are saved.
"""
from __future__ import annotations

import asyncio
from datetime import datetime, time as dtime, timedelta
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo

from pymongo import ReturnDocument

from esl_control.model.common import NotFound, new_id, public
from esl_control.model.crypto import SecretBox, SecretError
from esl_control.model.employees.services import EmployeeService
from esl_control.model.ldap.directory import (DirectoryEntry, DirectoryError, authenticate, check_connection,
                                              read_entries, read_entry, read_sample)
from esl_control.model.ldap.schemas import MESSAGES as _MESSAGES  # noqa: F401  (registers the codes)
from esl_control.model.ldap.schemas import _clean_dn, clean_password, clean_settings, norm_dn
from esl_control.model.ldap.sync import Incident, apply_plan, compute_plan, current_employees, is_excluded
from esl_control.model.quotas import require_feature
from esl_control.model.service import TenantService
from esl_control.routing.errors import RuleError
from pult import clock
from pult.errors import AppError
from pult.i18n import N_
from storage.repos.base import Scope
from storage.repos.telephony import LdapIncidents, LdapRuns, LdapSettings
from storage.repos.tenants import get_pbx

STALE_RUN = timedelta(hours=1)
#: the incidents that leave a directory entry without a card ("not matched: other/errors")
UNMATCHED_CODES = ("ldap.create_off", "ldap.create_failed", "ldap.entry_no_uid", "ldap.entry_no_name",
                   "ldap.entry_duplicate")
EXAMPLE_SIZE = 5
FEATURE_MESSAGE = N_("LDAP synchronisation is not included in your PBX edition.")
#: what a PBX keeps (the oldest go when a run ends)
INCIDENTS_KEPT = 1000
RUNS_KEPT = 100


def _owner(pbx_id: int) -> str:
    return f"ldap_settings:{pbx_id}"


def next_run_at(schedule: Mapping[str, Any], after: datetime, tz: str | None) -> datetime | None:
    """When the schedule runs next after ``after`` (aware UTC); None for manual."""
    mode = schedule.get("mode")
    if mode == "interval":
        return after + timedelta(hours=int(schedule["hours"]))
    if mode == "daily":
        zone = ZoneInfo(tz or "UTC")
        local = after.astimezone(zone)
        hh, mm = (int(x) for x in schedule["time"].split(":"))
        at = datetime.combine(local.date(), dtime(hh, mm), tzinfo=zone)
        if at <= local:
            at = datetime.combine(local.date() + timedelta(days=1), dtime(hh, mm), tzinfo=zone)
        return at.astimezone(after.tzinfo)
    return None


class LdapService(TenantService):
    repo_cls = LdapSettings
    object_type = "ldap_settings"
    section = "integrations.ldap"


    # --- settings ----------------------------------------------------------------------------
    @staticmethod
    def _shown(doc: Mapping[str, Any] | None) -> dict:
        if not doc:
            return {"configured": False}
        out = {k: v for k, v in public(doc).items()
               if k not in ("id", "running_since", "pbx_id")}
        out.update(configured=True, has_password=bool(doc.get("password_enc")))
        return out

    async def get(self) -> dict:
        """The settings (never the password: ``has_password`` says whether one is stored)."""
        return self._shown(await self.repo.find_one({"_id": self.pbx_id}))

    async def _tz(self) -> str | None:
        return ((await get_pbx(self.db, self.pbx_id)) or {}).get("time_zone")

    async def update(self, data: Mapping[str, Any]) -> dict:
        """Replace the settings (a field left out takes its default; ``password`` left out or
        null keeps the stored one). Refused unless the edition includes LDAP."""
        clean = clean_settings(data)
        password = clean_password(data.get("password") if isinstance(data, Mapping) else None)
        if password and not clean["bind_dn"]:
            raise RuleError("ldap.password_without_dn", field="password")
        if clean["defaults"]["outgoing_number"]:
            try:  # one of this PBX's lines that can call out, as on a card
                await EmployeeService(self.db, self.pbx_id)._outgoing_ref(clean["defaults"]["outgoing_number"])
            except RuleError as exc:
                exc.field = "defaults.outgoing_number"
                raise
        await require_feature(self.db, self.pbx_id, "ldap", FEATURE_MESSAGE)
        before = await self.repo.find_one({"_id": self.pbx_id})
        doc = {**clean, "_id": self.pbx_id, "updated_at": clock.now()}
        if password is None:
            if before and before.get("password_enc") and clean["bind_dn"]:
                doc["password_enc"] = before["password_enc"]
        elif password:
            doc["password_enc"] = self.box.encrypt(password, _owner(self.pbx_id))
        doc["last_run_at"] = (before or {}).get("last_run_at")
        doc["next_run_at"] = next_run_at(clean["schedule"], clock.now(), await self._tz()) if clean["enabled"] else None
        if before:
            await self.repo.update_one({"_id": self.pbx_id}, {"$set": {k: v for k, v in doc.items() if k != "_id"},
                                                              **({"$unset": {"password_enc": ""}}
                                                                 if "password_enc" not in doc else {})})
        else:
            await self.repo.insert_one(doc)
        await self._audit("update", {**self._shown(before), "_id": self.pbx_id, "name": "LDAP"} if before else None,
                          {**self._shown(doc), "_id": self.pbx_id, "name": "LDAP"})
        return self._shown(doc)

    async def _config(self) -> tuple[dict, str | None]:
        doc = await self.repo.find_one({"_id": self.pbx_id})
        if not doc:
            raise AppError(409, "ldap_not_configured", RuleError("ldap.not_configured").message())
        try:
            password = self.box.decrypt(doc["password_enc"], _owner(self.pbx_id)) if doc.get("password_enc") else None
        except SecretError:
            password = None
        return doc, password

    async def check(self, data: Mapping[str, Any] | None = None) -> dict:
        """"Check connection": bind with ``data`` (unsaved settings; no ``password``: the stored
        one) or with the stored settings. ``{ok, code, detail}``; changes nothing."""
        if data:
            cfg = clean_settings(data)
            password = clean_password(data.get("password"))
            if password is None:
                _doc, password = await self._config() if await self.repo.find_one({"_id": self.pbx_id}) else ({}, None)
        else:
            cfg, password = await self._config()
        try:
            await asyncio.to_thread(check_connection, cfg, password)
        except DirectoryError as exc:
            return {"ok": False, "code": exc.code, "detail": exc.detail[:500]}
        return {"ok": True, "code": None, "detail": ""}

    # --- runs --------------------------------------------------------------------------------
    async def start_run(self, trigger: str) -> dict:
        """Claim the PBX for one run: ``{run_id, cfg, password}``; 409 when not set up, turned off
        or another run holds the claim."""
        doc, password = await self._config()
        if not doc.get("enabled"):
            raise AppError(409, "ldap_disabled", RuleError("ldap.disabled").message())
        await require_feature(self.db, self.pbx_id, "ldap", FEATURE_MESSAGE)
        now = clock.now()
        claimed = await self.repo.find_one_and_update(
            {"_id": self.pbx_id, "$or": [{"running_since": None}, {"running_since": {"$lt": now - STALE_RUN}}]},
            {"$set": {"running_since": now}})
        if claimed is None:
            raise AppError(409, "ldap_running", RuleError("ldap.running").message())
        run_id = new_id()
        await LdapRuns(self.db, self.scope).insert_one({"_id": run_id, "trigger": trigger, "started_at": now,
                                                         "finished_at": None, "status": "running", "counters": {}})
        return {"run_id": run_id, "cfg": doc, "password": password}

    async def _end_run(self, run_id: str, status: str, counters: dict, incidents: list[Incident]) -> dict:
        now = clock.now()
        if incidents:
            await LdapIncidents(self.db, self.scope).coll.insert_many(
                [{"_id": new_id(), "pbx_id": self.pbx_id, "run_id": run_id, "at": now, **i.doc()} for i in incidents])
        await LdapRuns(self.db, self.scope).update_one({"_id": run_id}, {"$set": {
            "finished_at": now, "status": status, "counters": counters, "incidents": len(incidents)}})
        await self._prune(LdapIncidents(self.db, self.scope), "at", INCIDENTS_KEPT)
        await self._prune(LdapRuns(self.db, self.scope), "started_at", RUNS_KEPT)
        doc = await self.repo.find_one({"_id": self.pbx_id}) or {}
        nxt = next_run_at(doc.get("schedule") or {}, now, await self._tz()) if doc.get("enabled") else None
        await self.repo.update_one({"_id": self.pbx_id}, {"$set": {"running_since": None, "last_run_at": now,
                                                                   "last_status": status, "next_run_at": nxt}})
        return {"run_id": run_id, "status": status, "counters": counters,
                "incidents": [i.doc() for i in incidents], "notify_email": doc.get("notify_email", "")}

    @staticmethod
    async def _prune(repo, field: str, keep: int) -> None:
        old = await repo.find({}, sort=[(field, -1)], skip=keep, projection={"_id": 1})
        if old:
            await repo.delete_many({"_id": {"$in": [d["_id"] for d in old]}})

    async def fail_run(self, run_id: str, exc: DirectoryError) -> dict:
        """The read failed: nothing applied, one incident."""
        return await self._end_run(run_id, "failed", {}, [Incident(exc.code, {"detail": exc.detail[:500]})])

    async def finish_run(self, run_id: str, cfg: Mapping[str, Any], entries: list[DirectoryEntry]) -> dict:
        """The read is complete: compute the change set, apply it, record the incidents."""
        try:
            plan = compute_plan(entries, await current_employees(self.db, self.pbx_id), cfg)
            counters = await apply_plan(self.db, self.pbx_id, plan, cfg, box=self.box)
        except BaseException:
            await self.release(run_id)
            raise
        return await self._end_run(run_id, "ok", counters, plan.incidents)

    async def release(self, run_id: str) -> None:
        """A run that broke off (not a directory failure): free the claim, mark the run."""
        await LdapRuns(self.db, self.scope).update_one({"_id": run_id}, {"$set": {"status": "aborted",
                                                                                   "finished_at": clock.now()}})
        await self.repo.update_one({"_id": self.pbx_id}, {"$set": {"running_since": None}})

    async def list_runs(self, limit: int = 20) -> list[dict]:
        return [public(d) for d in await LdapRuns(self.db, self.scope).find({}, sort=[("started_at", -1)], limit=limit)]

    # --- incidents ---------------------------------------------------------------------------
    @staticmethod
    def incident_view(doc: Mapping[str, Any], lang: str = "en") -> dict:
        out = public(doc)
        params = {k: (v.get(lang) or v.get("en", "")) if isinstance(v, dict) else v
                  for k, v in (doc.get("params") or {}).items()}  # a reason kept in both languages
        out["message"] = RuleError(doc["code"], **params).message(lang)
        out.pop("pbx_id", None)
        return out

    async def list_incidents(self, lang: str = "en", limit: int = 200, run_id: str | None = None) -> list[dict]:
        flt = {"run_id": run_id} if run_id else {}
        docs = await LdapIncidents(self.db, self.scope).find(flt, sort=[("at", -1)], limit=limit)
        return [self.incident_view(d, lang) for d in docs]

    async def get_incident(self, id: str, lang: str = "en") -> dict:
        doc = await LdapIncidents(self.db, self.scope).find_one({"_id": id}) if isinstance(id, str) else None
        if doc is None:
            raise NotFound("ldap_incident", id)
        return self.incident_view(doc, lang)

    # --- matching (inventory D §4.6.7.5 step 3) ----------------------------------------------
    @staticmethod
    def _link_view(emp: Mapping[str, Any]) -> dict:
        link = emp.get("ldap") or {}
        return {"employee_id": emp["_id"], "name": emp.get("name", ""), "extension": emp.get("extension", ""),
                "dn": link.get("dn", ""), "uid": link.get("uid", ""), "sync": link.get("sync") is not False,
                "absent": bool(link.get("absent"))}

    async def links(self) -> dict:
        """The matched cards (``items``: employee, entry, whether it syncs) and the LDAP tab's
        statistics: matched (syncing / not syncing) and, as the last finished run saw the
        directory, not matched (excluded / other: entries with no card)."""
        emps = EmployeeService(self.db, self.pbx_id).repo
        items = [self._link_view(d) for d in await emps.find({"ldap.uid": {"$nin": [None, ""]}},
                                                             sort=[("name_norm", 1)])]
        last = next(iter(await LdapRuns(self.db, self.scope).find({"status": "ok"}, sort=[("started_at", -1)],
                                                                  limit=1)), None)
        excluded = other = None
        if last:
            excluded = (last.get("counters") or {}).get("excluded", 0)
            other = await LdapIncidents(self.db, self.scope).count(
                {"run_id": last["_id"], "code": {"$in": list(UNMATCHED_CODES)}})
        synced = sum(1 for i in items if i["sync"])
        return {"items": items, "stats": {"matched": len(items), "synced": synced, "not_synced": len(items) - synced,
                                          "unmatched": None if last is None else excluded + other,
                                          "excluded": excluded, "other": other}}

    async def find_employee(self, employee_id: Any) -> tuple[Any, dict]:
        emps = EmployeeService(self.db, self.pbx_id).repo
        doc = await emps.find_one({"_id": employee_id}) if isinstance(employee_id, str) else None
        if doc is None:
            raise NotFound("employee", employee_id)
        return emps, doc

    async def set_sync(self, employee_id: str, enabled: Any) -> dict:
        """"Stop sync" (``enabled`` False) of one matched card, or resume it: the link stays."""
        if not isinstance(enabled, bool):
            raise RuleError("value.bool", field="sync")
        emps, doc = await self.find_employee(employee_id)
        if not (doc.get("ldap") or {}).get("uid"):
            raise RuleError("ldap.not_linked", field="employee_id", employee=doc.get("name"))
        after = await emps.find_one_and_update({"_id": doc["_id"]}, {"$set": {"ldap.sync": enabled}},
                                               return_document=ReturnDocument.AFTER)
        await self._audit("update", doc, after, object_type="employee")
        return self._link_view(after)

    async def unlink(self, employee_id: str) -> None:
        """Delete a card's link: it is no longer managed by LDAP (the next sync may match the
        entry again by e-mail, or create a card for it: the exclusion list keeps it out)."""
        emps, doc = await self.find_employee(employee_id)
        if not (doc.get("ldap") or {}).get("uid"):
            raise RuleError("ldap.not_linked", field="employee_id", employee=doc.get("name"))
        after = await emps.find_one_and_update({"_id": doc["_id"]}, {"$unset": {"ldap": ""}}, return_document=ReturnDocument.AFTER)
        await self._audit("update", doc, after, object_type="employee")

    async def match(self, employee_id: Any, dn: Any) -> dict:
        """Manual matching: link the card to the directory entry at ``dn`` (read from the
        server now); the next sync fills the card from it (the directory wins, empty values don't)."""
        dn = _clean_dn(dn, "dn")
        emps, doc = await self.find_employee(employee_id)
        if (doc.get("ldap") or {}).get("uid"):
            raise RuleError("ldap.employee_linked", field="employee_id", employee=doc.get("name"),
                            dn=doc["ldap"].get("dn", ""))
        cfg, password = await self._config()
        try:
            entry = await asyncio.to_thread(read_entry, cfg, password, dn)
        except DirectoryError as exc:
            raise RuleError(exc.code, field="dn", detail=exc.detail[:300]) from exc
        if entry is None:
            raise RuleError("ldap.entry_not_found", field="dn", dn=dn)
        uid = entry.values.get("uid")
        if not uid:
            raise RuleError("ldap.entry_no_uid", field="dn", dn=entry.dn, attribute=cfg["mapping"]["uid"])
        if is_excluded(entry, {norm_dn(x) for x in cfg.get("exclusions") or ()}):
            raise RuleError("ldap.entry_excluded", field="dn", dn=entry.dn)
        other = await emps.find_one({"ldap.uid": uid})
        if other is not None:
            raise RuleError("ldap.entry_linked", field="dn", dn=entry.dn, employee=other.get("name"))
        after = await emps.find_one_and_update(
            {"_id": doc["_id"], "ldap.uid": {"$in": [None, ""]}},
            {"$set": {"ldap": {"uid": uid, "dn": entry.dn, "managed": True, "sync": True}}}, return_document=ReturnDocument.AFTER)
        if after is None:  # matched by someone else meanwhile
            raise RuleError("ldap.employee_linked", field="employee_id", employee=doc.get("name"), dn="")
        await self._audit("update", doc, after, object_type="employee")
        return self._link_view(after)

    async def example(self, limit: int = EXAMPLE_SIZE) -> dict:
        """"Show example": the first entries as the saved mapping reads them
        (``{ok, items: [{dn, values}], code, detail}``); changes nothing."""
        cfg, password = await self._config()
        try:
            entries = await asyncio.to_thread(read_sample, cfg, password, limit)
        except DirectoryError as exc:
            return {"ok": False, "items": [], "code": exc.code, "detail": exc.detail[:500]}
        return {"ok": True, "items": [{"dn": e.dn, "values": e.values} for e in entries], "code": None, "detail": ""}

    # --- sign-in by LDAP bind ----------------------------------------------------------------
    async def login_entry(self, login: str, user_password: str) -> dict | None:
        """The LDAP-managed employee whose directory entry accepts ``user_password`` for
        ``login`` (None: sign-in by LDAP is off, or the directory says no). The bind runs in a
        thread; a directory that cannot be reached is also None (the caller falls back)."""
        doc = await self.repo.find_one({"_id": self.pbx_id})
        if not doc or not doc.get("enabled") or not (doc.get("login") or {}).get("enabled"):
            return None
        _doc, password = await self._config()
        try:
            entry = await asyncio.to_thread(authenticate, doc, password, login, user_password)
        except DirectoryError:
            return None
        if entry is None or not entry.values.get("uid"):
            return None
        emp = await self.db["employees"].find_one({"pbx_id": self.pbx_id, "ldap.uid": entry.values["uid"]})
        return public(emp) if emp else None


async def run_sync(db, pbx_id: int, trigger: str = "manual", *, box: SecretBox | None = None,
                   on_page: Callable[[int], None] | None = None) -> dict:
    """One complete run (see the module docstring); the directory is read in a worker thread."""
    svc = LdapService(db, pbx_id, box=box)
    run = await svc.start_run(trigger)
    try:
        entries = await asyncio.to_thread(read_entries, run["cfg"], run["password"], on_page=on_page)
    except DirectoryError as exc:
        return await svc.fail_run(run["run_id"], exc)
    except BaseException:
        await svc.release(run["run_id"])
        raise
    return await svc.finish_run(run["run_id"], run["cfg"], entries)


async def due_pbxes(db, now: datetime | None = None) -> list[int]:
    """The PBXs whose scheduled sync is due (enabled, ``next_run_at`` passed, not running)."""
    now = now or clock.now()
    docs = await LdapSettings(db, Scope.platform()).find(
        {"enabled": True, "next_run_at": {"$lte": now}, "running_since": None}, projection={"pbx_id": 1})
    return sorted(d["pbx_id"] for d in docs)

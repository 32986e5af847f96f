"""The PBX lifecycle beat job (PRODUCT.md §2, inventory A §4 "Demo version", "Blocking for traffic
abuse"): every :data:`INTERVAL` seconds :func:`run_lifecycle` does, in this order:

1. **demo → blocked**: a demo PBX whose 14 days are over gets ``demo.blocked_at`` (= the end of
   the demo, when :func:`storage.repos.tenants.pbx_state` started calling it blocked) and
   ``demo.delete_at`` 14 days later;
2. **blocked demo → deleted**: when ``delete_at`` has come (and it was not converted), the PBX is
   marked ``status: "deleted"`` (its SIP domain and id stay reserved; every lookup treats it as
   gone) with ``purge_at`` = now + :data:`~storage.repos.tenants.PURGE_SAFETY_DAYS` (30 days);
   an account administrator whose current PBX it was is moved to another live PBX of the account;
3. **purge**: when ``purge_at`` has come, the PBX's tenant data is removed from every PBX-scoped
   collection (employees, numbers, schemes, users, call records, ...) except the PBX document
   itself (a tombstone) and the action log. The safety period is there so an operator can still
   restore a PBX deleted by mistake (set ``status`` back, clear ``deleted_at``/``purge_at``);
   numbers go back to the DID pool at this point, not before;
4. **operator blocks that ran out** are lifted (``operator_block: null``).

Each step is an idempotent single-document update guarded by the state it expects, so a rerun or
two beats at once converge to the same state. Every change is written to the action log as the
"System" actor. ``now`` is a parameter: tests drive the whole lifecycle with a fake clock.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from jobs import context, schedules
from jobs.app import app
from pult import clock
from storage.repos.audit import audit
from storage.repos.base import Scope
from storage.repos.telephony import DidPool
from storage.repos.tenants import DEMO_DELETE_DAYS, PURGE_SAFETY_DAYS, Pbxes, demo_dates
from storage.repos.users import Users

log = logging.getLogger("pult.jobs.lifecycle")

INTERVAL = 300  # seconds between runs
SYSTEM = {"kind": "system", "login": None, "ip": None}
#: collections never purged: the PBX tombstone and the action log (kept for disputes)
KEEP = {"pbxes", "audit_log"}


def _public(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "_id"}


async def _log(db, pbx: dict, operation: str, before: dict, after: dict) -> None:
    await audit(db, Scope.pbx(pbx["pbx_id"]), actor=SYSTEM, section="lifecycle", operation=operation,
                object={"type": "pbx", "id": pbx["pbx_id"], "name": pbx.get("name")}, before=before, after=after)


def pbx_repositories() -> dict[str, type]:
    """Collection -> a repository of it, for every collection that holds PBX-scoped tenant data
    (from the repository registry)."""
    from storage.indexes import load_repositories
    from storage.repos.base import _REGISTRY

    load_repositories()
    out: dict[str, type] = {}
    for cls in _REGISTRY:
        if "pbx_id" in cls.scopes and cls.collection not in KEEP:
            out.setdefault(cls.collection, cls)
    return dict(sorted(out.items()))


async def _block_expired_demos(db, now: datetime) -> list[int]:
    done = []
    for pbx in await Pbxes(db, Scope.platform()).find({"status": "demo", "demo.blocked_at": None}):
        d = demo_dates(pbx)
        if d["ends_at"] is None or now < d["ends_at"]:
            continue
        demo = {**(pbx.get("demo") or {}), "blocked_at": d["ends_at"],
                "delete_at": d["ends_at"] + timedelta(days=DEMO_DELETE_DAYS)}
        if await Pbxes(db, Scope.pbx(pbx["pbx_id"])).update_one({"status": "demo", "demo.blocked_at": None},
                                                                {"$set": {"demo": demo, "updated_at": now}}):
            await _log(db, pbx, "demo_blocked", {"demo": pbx.get("demo")}, {"demo": demo})
            done.append(pbx["pbx_id"])
    return done


async def _delete_blocked_demos(db, now: datetime) -> list[int]:
    done = []
    for pbx in await Pbxes(db, Scope.platform()).find({"status": "demo", "demo.delete_at": {"$lte": now}}):
        if (pbx.get("demo") or {}).get("converted_at"):
            continue
        purge_at = now + timedelta(days=PURGE_SAFETY_DAYS)
        if not await Pbxes(db, Scope.pbx(pbx["pbx_id"])).update_one(
                {"status": "demo"},
                {"$set": {"status": "deleted", "deleted_at": now, "purge_at": purge_at, "updated_at": now}}):
            continue
        await _repoint_account_admin(db, pbx)
        await _log(db, pbx, "demo_deleted", {"status": "demo"},
                   {"status": "deleted", "deleted_at": now, "purge_at": purge_at})
        done.append(pbx["pbx_id"])
    return done


async def _repoint_account_admin(db, pbx: dict) -> None:
    """An account administrator whose cabinet points at a deleted PBX moves to another live one."""
    live = await Pbxes(db, Scope.account(pbx["account_id"])).find(
        {"pbx_id": {"$ne": pbx["pbx_id"]}, "status": {"$nin": ["deleted"]}}, sort=[("pbx_id", 1)], limit=1)
    other = live[0] if live else None
    # the account realm's users carry the PBX they are looking at: a platform-wide write
    await Users(db, Scope.platform()).update_one(
        {"realm": "account", "account_id": pbx["account_id"], "pbx_id": pbx["pbx_id"]},
        {"$set": {"pbx_id": other["pbx_id"] if other else None}})


async def _purge_deleted(db, now: datetime) -> dict[int, dict[str, int]]:
    done: dict[int, dict[str, int]] = {}
    for pbx in await Pbxes(db, Scope.platform()).find({"status": "deleted", "purge_at": {"$lte": now},
                                                       "purged_at": None}):
        pid = pbx["pbx_id"]
        await _repoint_account_admin(db, pbx)
        counts: dict[str, int] = {}
        for coll, repo_cls in pbx_repositories().items():
            flt: dict[str, Any] = {"realm": {"$ne": "account"}} if coll == "users" else {}
            removed = await repo_cls(db, Scope.pbx(pid)).delete_many(flt)
            if removed:
                counts[coll] = removed
        # the DID pool is platform data: the PBX's numbers become free again
        pool_repo = DidPool(db, Scope.platform())
        pool = await pool_repo.find({"pbx_id": pid})
        for entry in pool:
            await pool_repo.update_one({"_id": entry["_id"], "pbx_id": pid},
                                       {"$set": {"status": "free"}, "$unset": {"pbx_id": "", "assigned_at": ""}})
        if pool:
            counts["did_pool_freed"] = len(pool)
        await Pbxes(db, Scope.pbx(pid)).update_one({}, {"$set": {"purged_at": now}})
        await _log(db, pbx, "purged", {"status": "deleted"}, {"purged_at": now, "removed": counts})
        done[pid] = counts
    return done


async def _lift_operator_blocks(db, now: datetime) -> list[int]:
    done = []
    for pbx in await Pbxes(db, Scope.platform()).find({"operator_block.until": {"$lte": now}}):
        block = pbx.get("operator_block")
        if await Pbxes(db, Scope.pbx(pbx["pbx_id"])).update_one({"operator_block.until": block["until"]},
                                                                {"$set": {"operator_block": None, "updated_at": now}}):
            await _log(db, pbx, "unblock", {"operator_block": block}, {"operator_block": None})
            done.append(pbx["pbx_id"])
    return done


async def run_lifecycle(db, now: datetime | None = None) -> dict:
    """One pass of the lifecycle over the async database ``db``; returns what it changed."""
    now = now or clock.now()
    return {"demo_blocked": await _block_expired_demos(db, now),
            "demo_deleted": await _delete_blocked_demos(db, now),
            "purged": await _purge_deleted(db, now),
            "unblocked": await _lift_operator_blocks(db, now)}


@app.task(bind=True, name="jobs.lifecycle.run")
def run(self) -> dict:
    """The beat job: :func:`run_lifecycle` on the worker's store."""
    result = context.call_store(lambda store: run_lifecycle(store.db))
    if any(result.values()):
        log.info("PBX lifecycle: %s", result)
    return {k: (list(v) if not isinstance(v, dict) else {str(p): c for p, c in v.items()})
            for k, v in result.items()}


schedules.register("tenants.lifecycle", "jobs.lifecycle.run", INTERVAL)

"""Call-record retention (issue 11): keep the call history for as many months as the operator set.

The platform setting ``call_retention_months`` (operator console / ``PATCH
/api/v1/operator/settings``) is empty by default: every record is kept. When set to N, a daily job
removes the call records that started before the first day of the month N months back (UTC) —
but never what an open period still needs:

- nothing from a billing month that is not closed yet (the previous month until the monthly close
  marks it ``done``, a month whose close started and did not finish, always the current month) —
  its invoice, act and expense statistics are still to be made;
- nothing from the period of a document still queued or rendering;
- no record still waiting to be rated (``rating_pending``);

each bound widened by 14 hours, the largest time-zone offset, since periods are cut in the
account's local time. Records are removed in batches of :data:`BATCH` (oldest first, through the
``start_uuid`` index) so the store is never held for long.

The same job also removes, whatever the setting, the *stubs* of legs whose call never came (a leg
that ends before its call is kept in a stub document with no PBX; see
:func:`storage.repos.calls.remove_stale_stubs`) a day after their first leg.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone

from celery.schedules import crontab

from jobs import context, schedules
from jobs.app import app
from pult import clock

log = logging.getLogger("pult.jobs.retention")

BATCH = 1000
TZ_MARGIN = timedelta(hours=14)


def _month_start(d: date) -> datetime:
    return datetime(d.year, d.month, 1, tzinfo=timezone.utc)


def _months_back(d: date, months: int) -> date:
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    return date(y, m + 1, 1)


async def retention_cutoff(db, now: datetime) -> datetime | None:
    """Records that started before this may go (None: keep everything)."""
    from storage.repos.tenants import get_platform_settings

    months = (await get_platform_settings(db)).get("call_retention_months")
    if not months:
        return None
    today = now.astimezone(timezone.utc).date()
    cutoff = _month_start(_months_back(today, int(months)))
    previous = _months_back(today, 1)
    closed = await db["billing_periods"].find_one({"_id": f"{previous:%Y-%m}", "state": "done"})
    open_from = _month_start(today if closed else previous)
    bounds = [cutoff, open_from - TZ_MARGIN]
    async for period in db["billing_periods"].find({"state": {"$ne": "done"}}, {"_id": 1}):
        try:  # a monthly close that started and did not finish: its month is still open
            bounds.append(_month_start(date.fromisoformat(f"{period['_id']}-01")) - TZ_MARGIN)
        except (TypeError, ValueError):
            continue
    async for doc in db["billing_documents"].find({"status": {"$in": ["queued", "rendering"]}},
                                                   {"since": 1}):
        if doc.get("since"):
            since = date.fromisoformat(doc["since"])
            bounds.append(datetime.combine(since, time.min, tzinfo=timezone.utc) - TZ_MARGIN)
    return min(bounds)


async def run_retention(db, now: datetime | None = None) -> dict:
    """One pass; returns ``{"cutoff": iso or None, "removed": n}``."""
    now = now or clock.now()
    cutoff = await retention_cutoff(db, now)
    if cutoff is None:
        return {"cutoff": None, "removed": 0}
    flt = {"start": {"$lt": cutoff}, "rating_pending": {"$ne": True}}
    removed = 0
    while True:
        batch = await db["call_records"].find(flt, {"_id": 1}).sort([("start", 1), ("uuid", 1)]) \
            .limit(BATCH).to_list(None)
        if not batch:
            break
        res = await db["call_records"].delete_many({"_id": {"$in": [d["_id"] for d in batch]}})
        removed += res.deleted_count
        if len(batch) < BATCH:
            break
    return {"cutoff": cutoff.isoformat(), "removed": removed}


async def run_all(db, now: datetime | None = None) -> dict:
    """What the daily job does: the stale stubs, then :func:`run_retention`; returns the latter's
    answer with ``stubs_removed``."""
    from storage.repos.calls import remove_stale_stubs

    stubs = await remove_stale_stubs(db, now)
    return {**await run_retention(db, now), "stubs_removed": stubs}


@app.task(bind=True, name="jobs.retention.run")
def run(self) -> dict:
    """The beat job: :func:`run_all` on the worker's store."""
    result = context.call_store(lambda store: run_all(store.db))
    if result["removed"]:
        log.info("call-record retention: removed %d records that started before %s",
                 result["removed"], result["cutoff"])
    if result["stubs_removed"]:
        log.info("call-record retention: removed %d legs whose call never came", result["stubs_removed"])
    return result


schedules.register("storage.call-retention", "jobs.retention.run", crontab(minute=40, hour=2))

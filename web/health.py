"""Liveness, readiness and metrics.

- ``GET /healthz`` — 200 whenever the event loop answers (for the process supervisor).
- ``GET /readyz``  — whether this instance can serve: the store and Redis must answer a ping
  (each within ``ctx.readiness_timeout``), and — when a job system is configured — at least one
  job worker must be alive (documents, mail, conversions, billing wait for one); else 503
  naming which and why. FreeSWITCH nodes are reported too, but a node being down does not make
  the instance unready: the cabinet still works and shows the problem.
- ``GET /metrics`` — Prometheus text format, only to addresses in ``ctx.metrics_allow`` (else the
  ``metrics_allow`` setting, else loopback): metrics name tenants' traffic and must not be public.
"""
from __future__ import annotations

import asyncio
import time

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from pult.errors import AppError

from web.formats import iso

from pult.i18n import N_
from web.handlers import BaseHandler
from web.routes import route
from web.security import address_allowed


async def _timed(coro, timeout: float) -> dict:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        return {"ok": False, "error": f"no answer within {timeout:g} s"}
    except Exception as exc:  # report any failure of a dependency, never crash the probe
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


async def _workers(ctx) -> dict:
    if ctx.jobs_health is None:
        return {"ok": None, "status": "not configured"}
    try:
        result = await asyncio.wait_for(ctx.jobs_health(), ctx.readiness_timeout)
    except asyncio.TimeoutError:
        return {"ok": False, "error": f"no answer within {ctx.readiness_timeout:g} s"}
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return dict(result)


async def _nodes(ctx) -> list[dict] | dict:
    try:
        snapshot = await ctx.node_snapshot()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if snapshot is None:
        return {"ok": None, "status": "not configured"}
    return [{"name": n.get("name"), "state": n.get("state"), "error": n.get("last_error") or n.get("error"),
             "since": iso(n.get("since"))} for n in snapshot]


async def _spool(ctx) -> dict:
    """Voice mail/fax files waiting in the spool and kept in quarantine (an operator must look at
    those: their call is unknown). Informative: it never makes the instance unready."""
    from jobs.spool import spool_counts

    try:
        counts = await asyncio.wait_for(asyncio.to_thread(spool_counts, ctx.settings), ctx.readiness_timeout)
    except Exception as exc:  # an unreadable spool is reported, not fatal here
        return {"ok": False, "dir": str(ctx.settings.spool_dir), "error": str(exc) or type(exc).__name__}
    return {"ok": not counts["quarantined"], **counts}


async def readiness(ctx) -> tuple[bool, dict]:
    """(ready, report) — the report is what ``/readyz`` returns."""
    store, redis, workers, nodes, spool = await asyncio.gather(
        _timed(ctx.store.ping(), ctx.readiness_timeout),
        _timed(ctx.redis.ping(), ctx.readiness_timeout),
        _workers(ctx), _nodes(ctx), _spool(ctx))
    store["kind"] = ctx.store.kind
    failing = [name for name, check in (("store", store), ("redis", redis)) if not check["ok"]]
    if workers.get("ok") is False:  # None: no job system configured here
        failing.append("workers")
    report = {"status": "unready" if failing else "ready", "failing": failing,
              "checks": {"store": store, "redis": redis, "workers": workers, "nodes": nodes,
                         "spool": spool}}
    usage = ctx.store.usage() if hasattr(ctx.store, "usage") else None
    if usage is not None:  # a warning, not unreadiness: the store still serves
        store["capacity"] = usage
        if usage["warning"]:
            report["warnings"] = [f"the embedded store holds {usage['documents']} documents, "
                                  f"{usage['ratio']:.0%} of its capacity ({usage['capacity']}): plan the move "
                                  "to MongoDB (pult store export, then mongorestore)"]
    return not failing, report


@route("/healthz", access="public", kind="system", name="healthz")
class HealthHandler(BaseHandler):
    async def prepare(self) -> None:  # no session lookup: must answer even with Redis down
        pass

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish({"status": "ok"})


@route("/readyz", access="public", kind="system", name="readyz")
class ReadyHandler(BaseHandler):
    async def prepare(self) -> None:
        pass

    async def get(self) -> None:
        ok, report = await readiness(self.ctx)
        self.set_status(200 if ok else 503)
        self.set_header("Content-Type", "application/json")
        self.finish(report)


@route("/metrics", access="public", kind="system", name="metrics")
class MetricsHandler(BaseHandler):
    async def prepare(self) -> None:
        if not address_allowed(self.request.remote_ip or "", self.application.settings["metrics_networks"]):
            raise AppError(403, "forbidden", N_("You do not have access to this page."))

    async def get(self) -> None:
        if self.ctx.jobs_health is not None:  # refreshes the job queue length gauges
            try:
                await asyncio.wait_for(self.ctx.jobs_health(), self.ctx.readiness_timeout)
            except Exception:  # queues unknown right now: the gauges keep their last values
                pass
        try:  # refreshes the spool gauges (waiting / quarantined)
            await _spool(self.ctx)
        except Exception:
            pass
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest(REGISTRY))

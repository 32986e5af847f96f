"""Benchmark: call history on the embedded store, next to /healthz and xml_curl on the same server.

Run: ``.venv/bin/python -m tests.bench.bench_store_history [--total 200000] [--pbx 50000]
[--clients 50] [--seconds 15] [--pace 0]`` (needs Redis: ``REDIS_URL``, default redis://127.0.0.1:6379/0).
Issue 11's full size — a PBX of 100 000 calls in a store of 1 000 000, 50 clients — is
``--full`` (about 6 GB of RAM for the serving process and 2 GB of disk; building takes tens of
minutes); ``--small`` (2 000 in 10 000, 10 clients, 5 s) only checks that everything works; an
explicit ``--clients`` / ``--seconds`` overrides those of ``--full`` / ``--small``.
``--data DIR`` keeps the built store in DIR and serves a copy of it on the next run of the same
size, so that runs of the code before and after a change compare on one build.

1. **build** (its own process): PBX 1 (SIP domain, 20 employees with SIP accounts, an administrator
   ``boss`` and an employee ``own`` whose reach is "own calls"), then ``--pbx`` call records of PBX 1
   and ``--total`` − ``--pbx`` of 99 other PBXs, spread over the last 100 days, written through the
   store's normal insert path (journal), then closed (snapshot). Figures: RSS per record, time.
2. **reopen** (a second process, which then serves): the time to open the store, the steady RSS
   after it and the peak RSS while opening (``VmHWM``): the reopen/steady ratio.
3. **load**: ``--clients`` concurrent clients page call history for ``--seconds``: the first page
   (administrator), a filtered page (the employee's reach, an ``$or`` of their numbers), a deep page
   (keyset cursor half-way down PBX 1's history) and, fewer, a deep page by number (``page=``, an
   offset) and the operator's dashboard ("calls today" over every PBX). **The client model**
   (``--pace``): with ``--pace 0`` (the default) each client sends its next request the moment
   the previous one is answered (a closed loop with no think time: the server saturated, so its
   pages/s is the capacity figure); with ``--pace S`` each client first waits a think time drawn
   from an exponential distribution of mean S seconds (one seeded RNG per client), as a person
   paging a cabinet or an integrator's script polling does: 50 clients at ``--pace 1`` offer
   about 50 pages/s. The report names the model and gives the pages/s offered (clients / S)
   against those served. Meanwhile probers (a
   process of their own per port) ask ``/healthz`` and an xml_curl directory lookup every 10 ms on
   the FreeSWITCH port (``PULT_FS_PORT``, fs_config/server.py: its own loop in its own thread, as
   ``pult serve`` runs it), and with ``--probe-main-port`` also on the main port (the loop the
   cabinet runs on: the figures before the FreeSWITCH port; off by default since FreeSWITCH never
   asks it, and its 200 requests/s are load on the very loop that serves the pages). Figures: p50/p95/p99 of each; the serving process's CPU time per
   request one at a time (``quiet_server_cpu_ms``) and under the load (with the probes' requests
   and the writes in it): on a busy machine these compare runs better than the wall clock.
4. **writes during a compaction**: meanwhile the serving process stores a call record every 20 ms
   (the call side's ``save_call_record``) and, a third of the way in, starts a compaction of the
   whole store (the journal closed as a segment, the snapshot rewritten by a separate process):
   the latency of the writes made while it ran against the others, and how long it took.

Every answer is checked (status 200, a full page, the a1-hash of the SIP user asked for).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.bench.bench_xml_curl import DOMAIN, SECRET, Client, _template, password, user_id

USERS = 20
PER_PAGE = 50
OPERATOR = ("root", "operator-pass-1")
TENANT_PASSWORD = "tenant-pass-1"


def _rss() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in bytes."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0]) * 1024
    return out["VmRSS"], out["VmHWM"]


def _settings(data_dir: Path):
    from pult.settings import load_settings, set_settings

    s = load_settings(data_dir=data_dir, xml_curl_secret=SECRET, xml_curl_allow="127.0.0.0/8",
                      outbound_host="127.0.0.1", outbound_port=8084, log_level="WARNING",
                      redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
                      sip_base_domain=DOMAIN.split(".", 1)[1])
    set_settings(s)
    return s


def _call(i: int, pbx: int, start: datetime, caller: str) -> dict:
    return {"uuid": f"{pbx}-{i:08d}", "pbx_id": pbx, "node": "fs1", "direction": "outbound",
            "caller": caller, "callee": f"7916{i % 10_000_000:07d}", "start": start, "answer": start,
            "end": start + timedelta(seconds=60), "duration": 65, "billsec": 60 if i % 4 else 0,
            "hangup_cause": "NORMAL_CLEARING", "rating_pending": False, "stored_at": start,
            "vars": {"pult_destination_number": f"7916{i % 10_000_000:07d}"}}


def build(data_dir: Path, total: int, pbx_calls: int) -> dict:
    from storage.client import open_store
    from storage.repos.tenants import Pbxes
    from storage.repos.base import Scope
    from storage.repos.users import create_operator_admin, create_tenant_user, link_employee
    from esl_control.model.bootstrap import ensure_pbx_defaults
    from esl_control.model.crypto import SecretBox
    from esl_control.model.employees.services import EmployeeService
    from esl_control.model.sip.services import SipAccountService
    from pult.passwords import set_hash_profile

    set_hash_profile("cheapest")
    settings = _settings(data_dir)

    async def main() -> dict:
        store = open_store(settings)
        await store.start()
        db = store.db
        await Pbxes(db, Scope.platform()).insert_one({"pbx_id": 1, "account_id": 1, "name": "Bench",
                                                      "status": "active", "sip_domain": DOMAIN})
        await ensure_pbx_defaults(db, 1, base_domain=DOMAIN.split(".", 1)[1])
        box = SecretBox.from_settings(settings)
        employees, accounts = EmployeeService(db, 1), SipAccountService(db, 1, box=box)
        first = None
        for i in range(USERS):
            emp = await employees.create({"name": f"Employee {i}", "extension": str(2000 + i)})
            await accounts.create({"login": user_id(i), "password": password(i), "employee_id": emp["id"]})
            first = first or emp
        await create_tenant_user(store, 1, "boss", TENANT_PASSWORD, role="administrator", language="en")
        own = await create_tenant_user(store, 1, "own", TENANT_PASSWORD, role="employee", language="en")
        await link_employee(store, own["_id"], first["id"])
        await create_operator_admin(store, *OPERATOR, "root@pult.test", language="en")
        rss0, _ = _rss()
        now = datetime.now(timezone.utc).replace(microsecond=0)
        span = timedelta(days=100).total_seconds()
        rnd = random.Random(5)
        sync = store.sync_db["call_records"]
        started = time.perf_counter()
        batch: list[dict] = []
        done = 0
        for i in range(total):
            if i < pbx_calls:
                pbx, start = 1, now - timedelta(seconds=span * (i + 0.5) / pbx_calls)
                caller = "2000" if i % 50 == 0 else str(2001 + i % (USERS - 1))  # 2 % of them: "own"
            else:
                pbx, start = 2 + i % 99, now - timedelta(seconds=rnd.random() * span)
                caller = "1001"
            batch.append(_call(i, pbx, start, caller))
            if len(batch) == 5000:
                await asyncio.to_thread(sync.insert_many, batch)
                done += len(batch)
                batch = []
        if batch:
            await asyncio.to_thread(sync.insert_many, batch)
        took = time.perf_counter() - started
        rss1, hwm = _rss()
        started = time.perf_counter()
        await store.close()
        closed = time.perf_counter() - started
        snapshot = (data_dir / "store" / "snapshot.bson").stat().st_size
        return {"records": total, "insert_s": round(took, 1), "inserts_per_s": round(total / took),
                "rss_mb": round(rss1 / 2**20), "bytes_per_record": round((rss1 - rss0) / total),
                "peak_rss_mb": round(hwm / 2**20), "close_snapshot_s": round(closed, 1),
                "snapshot_mb": round(snapshot / 2**20, 1)}

    return asyncio.run(main())


def serve(data_dir: Path, write_seconds: float) -> None:
    """Second process: reopen the store (timed, with peak memory), then serve HTTP until killed;
    meanwhile store a call record every 20 ms for ``write_seconds`` with a compaction forced a
    third of the way in, and leave the write latencies in ``writes.json``."""
    import fs_config
    from fs_config.server import FS_SWITCH_INTERVAL, FsHttpServer, switch_routes
    from fs_config.tenant_providers import tenant_providers
    from storage.client import open_store
    from storage.repos.calls import save_call_record
    from web.app import make_app
    from web.context import AppContext
    from esl_control.model.crypto import SecretBox
    from pult.passwords import set_hash_profile
    from pult.runtime import settle_heap

    set_hash_profile("cheapest")
    settings = _settings(data_dir)
    from tests.bench import _fstrace
    if _fstrace.PREFIX:
        _fstrace.install_server()
    sys.setswitchinterval(FS_SWITCH_INTERVAL)  # as `pult serve` does (pult/cli.py start_fs_server)

    async def writer(store) -> None:
        engine = store.engine
        flag = data_dir / "load.started"  # written by the main process when its clients start
        while not flag.exists():
            await asyncio.sleep(0.1)
        started_at = time.perf_counter()
        during, outside = [], []
        compaction = None
        compact_started = compact_took = None
        i = 0
        while time.perf_counter() < started_at + write_seconds:
            if compaction is None and time.perf_counter() > started_at + write_seconds / 3:
                compact_started = _fstrace.marks["compaction started"] = time.perf_counter()
                compaction = await asyncio.to_thread(engine.compact_in_background, True)
            running = compaction is not None and compaction.is_alive()
            now = datetime.now(timezone.utc)
            t = time.perf_counter()
            await save_call_record(store.db, _call(90_000_000 + i, 1, now, "2001"))
            (during if running else outside).append(time.perf_counter() - t)
            if compaction is not None and not running and compact_took is None:
                compact_took = time.perf_counter() - compact_started
                _fstrace.marks["compaction ended"] = time.perf_counter()
            i += 1
            await asyncio.sleep(0.02)
        if compaction is not None:
            await asyncio.to_thread(compaction.join)
            compact_took = compact_took or time.perf_counter() - compact_started
        (data_dir / "writes.json").write_text(json.dumps({
            "writes": i, "while_compacting": _summary(during), "otherwise": _summary(outside),
            "compaction_s": round(compact_took, 1) if compact_took else None,
            "compaction_started": compaction is not None,
            # time.perf_counter() is CLOCK_MONOTONIC: the main process places its requests in it
            "compaction_window": [compact_started, compact_started + compact_took] if compact_took else None}))

    async def main() -> None:
        rss0, _ = _rss()
        started = time.perf_counter()
        store = open_store(settings)
        await store.start()
        took = time.perf_counter() - started
        rss, hwm = _rss()
        providers = tenant_providers(settings, store.db, box=SecretBox.from_settings(settings))
        ctx = AppContext.create(settings, store, extra_routes=fs_config.routes(settings, providers))
        app = make_app(ctx)
        server = app.listen(0, "127.0.0.1")
        port = next(iter(server._sockets.values())).getsockname()[1]
        # the FreeSWITCH port as `pult serve` runs it: its own loop and thread, the same store
        fs_server = FsHttpServer(switch_routes(settings, store, box=SecretBox.from_settings(settings)),
                                 host="127.0.0.1", port=0)
        await asyncio.to_thread(fs_server.start)
        settle_heap()  # as `pult serve` does once everything has started (pult/cli.py)
        print(json.dumps({"port": port, "fs_port": fs_server.port, "reopen_s": round(took, 1),
                          "steady_rss_mb": round(rss / 2**20),
                          "reopen_peak_rss_mb": round(hwm / 2**20), "base_rss_mb": round(rss0 / 2**20)}),
              flush=True)
        task = asyncio.create_task(writer(store))
        if _fstrace.PREFIX:
            tick = asyncio.create_task(_fstrace.ticker("main"))
            fs_server.loop.call_soon_threadsafe(lambda: fs_server.loop.create_task(_fstrace.ticker("fs")))
            await task
            _fstrace.dump_server()
        await asyncio.Event().wait()
        task.cancel()

    asyncio.run(main())


def bare() -> None:
    """The machine's floor: ``/healthz`` of a Tornado process doing nothing else."""
    from tornado.web import Application, RequestHandler

    class Health(RequestHandler):
        def get(self):
            self.finish({"status": "ok"})

    async def main() -> None:
        server = Application([("/healthz", Health)]).listen(0, "127.0.0.1")
        print(json.dumps({"port": next(iter(server._sockets.values())).getsockname()[1]}), flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return round(values[min(len(values) - 1, int(len(values) * p))] * 1000, 1)


def _summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": _pct(values, 0.5), "p95_ms": _pct(values, 0.95), "p99_ms": _pct(values, 0.99),
            "max_ms": _pct(values, 1.0)}


async def probe(ports: dict[str, int], seconds: float, started_flag: Path) -> dict:
    """The probers (their own process, so that the cabinet clients' work does not stretch their
    figures): once ``started_flag`` exists, ``/healthz`` and an xml_curl directory lookup every
    10 ms on each of ``ports`` ({"main port": …, "FreeSWITCH port": …}) for ``seconds``."""
    import httpx

    from fs_config.directory import a1_hash

    lat: dict[str, list[float]] = {f"{what} ({where})": [] for where in ports
                                   for what in ("/healthz", "xml_curl lookup") if where != BARE or what == "/healthz"}
    raw: dict[str, list] = {}
    while not started_flag.exists():
        await asyncio.sleep(0.05)
    stop = time.perf_counter() + seconds

    async def healthz(where: str, on_port: int):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{on_port}", timeout=30) as c:
            await c.get("/healthz")  # not measured: the prober's own first request (httpx's set-up, the connection)
            while time.perf_counter() < stop:
                t = time.perf_counter()
                r = await c.get("/healthz")
                t1 = time.perf_counter()
                lat[f"/healthz ({where})"].append(t1 - t)
                raw.setdefault(f"/healthz ({where})", []).append((t, t1))
                assert r.status_code == 200
                await asyncio.sleep(0.01)

    async def xml_curl(where: str, on_port: int):
        template, expected = _template(), [a1_hash(user_id(i), DOMAIN, password(i)) for i in range(USERS)]
        client = Client(on_port, template, keepalive=False)
        rnd = random.Random(1)
        while time.perf_counter() < stop:
            i = rnd.randrange(USERS)
            t = time.perf_counter()
            await client.lookup(i, expected[i])
            t1 = time.perf_counter()
            lat[f"xml_curl lookup ({where})"].append(t1 - t)
            raw.setdefault(f"xml_curl lookup ({where})", []).append((t, t1))
            await asyncio.sleep(0.01)

    await asyncio.gather(*(fn(where, p) for where, p in ports.items() for fn in (healthz, xml_curl)
                           if where != BARE or fn is healthz))
    from tests.bench import _fstrace
    if _fstrace.PREFIX and "FreeSWITCH port" in ports:
        Path(_fstrace.PREFIX + ".probe.json").write_text(json.dumps(raw))
    return {k: _summary(v) for k, v in lat.items()}


async def load(port: int, pbx_calls: int, clients: int, seconds: float, started_flag: Path | None = None,
               server_pid: int | None = None, quiet_rounds: int | None = None, pace: float = 0.0) -> dict:
    """``pace``: the clients' mean think time in seconds (0: a closed loop without think time,
    the capacity run; see the module docstring)."""
    import httpx

    from storage.paging import encode_cursor
    from web.api.calls import NEWEST_FIRST

    base = f"http://127.0.0.1:{port}"
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)

    async def signed_in(login: str, pw: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=base, timeout=120, limits=limits)
        r = await c.get("/api/v1/session")
        r = await c.post("/api/v1/session", json={"login": login, "password": pw},
                         headers={"X-XSRFToken": c.cookies.get("_xsrf") or ""})
        assert r.status_code == 200, r.text
        return c

    boss = await signed_in("1/boss", TENANT_PASSWORD)
    own = await signed_in("1/own", TENANT_PASSWORD)
    op = await signed_in(*OPERATOR)
    # the record half-way down PBX 1's history (the build wrote them newest first)
    probe = (await boss.get("/api/v1/calls", params={"per_page": 1})).json()["items"][0]
    newest = datetime.fromisoformat(probe["start"])
    i = pbx_calls // 2
    span = timedelta(days=100).total_seconds()
    mid_start = newest + timedelta(seconds=span * 0.5 / pbx_calls) - timedelta(seconds=span * (i + 0.5) / pbx_calls)
    cursor = encode_cursor({"start": mid_start.replace(microsecond=mid_start.microsecond // 1000 * 1000),
                            "uuid": f"1-{i:08d}"}, NEWEST_FIRST)
    kinds = {
        "first page": (boss, "/api/v1/calls", {"per_page": PER_PAGE}),
        "filtered page (own reach)": (own, "/api/v1/calls", {"per_page": PER_PAGE}),
        "deep page (keyset, half-way)": (boss, "/api/v1/calls", {"per_page": PER_PAGE, "after": cursor}),
    }
    rare = {
        "deep page by number (offset, half-way)": (boss, "/api/v1/calls",
                                                   {"per_page": PER_PAGE, "page": max(1, pbx_calls // 2 // PER_PAGE)}),
        "operator dashboard (calls today)": (op, "/", {}),
    }
    lat: dict[str, list[float]] = {k: [] for k in [*kinds, *rare]}
    spans: dict[str, list[tuple[float, float]]] = {k: [] for k in lat}  # (sent, answered) of each
    errors: list[str] = []
    stop = 0.0

    last = 0.0

    async def one(name, client, path, params):
        nonlocal last
        t = time.perf_counter()
        r = await client.get(path, params=params)
        last = time.perf_counter()
        lat[name].append(last - t)
        spans[name].append((t, last))
        if r.status_code != 200:
            errors.append(f"{name}: {r.status_code}")
        elif path != "/" and len(r.json()["items"]) != min(PER_PAGE, r.json()["total"]):
            errors.append(f"{name}: {len(r.json()['items'])} items of {r.json()['total']}")

    async def think(rnd: random.Random) -> bool:
        """A client's think time before its next request (none in the closed loop); False when
        the run ends meanwhile (the request is not sent)."""
        if pace > 0:  # cut at the end of the run: no client idles past it
            await asyncio.sleep(min(rnd.expovariate(1 / pace), max(0.0, stop - time.perf_counter())))
        return time.perf_counter() < stop

    async def worker(n: int):
        names = list(kinds)
        k = n
        rnd = random.Random(PACE_SEED + n)
        while await think(rnd):
            name = names[k % len(names)]
            await one(name, *kinds[name])
            k += 1

    async def rare_worker():
        k = 0
        rnd = random.Random(PACE_SEED - 1)
        while await think(rnd):
            name = list(rare)[k % len(rare)]
            await one(name, *rare[name])
            k += 1

    # quiet figures first (one request at a time), then under load; with the server's pid, the
    # CPU time the server spent per request of each kind (robust to a busy machine, unlike the
    # wall-clock figures)
    quiet, quiet_cpu = {}, {}
    rounds = quiet_rounds or QUIET_ROUNDS
    for name, spec in {**kinds, **rare}.items():
        times = []
        for _ in range(3):  # warm: the first request of a kind reads what later ones find kept
            await spec[0].get(spec[1], params=spec[2])
        cpu0 = _cpu_seconds(server_pid)
        for _ in range(rounds):
            t = time.perf_counter()
            r = await spec[0].get(spec[1], params=spec[2])
            times.append(time.perf_counter() - t)
            assert r.status_code == 200, (name, r.status_code, r.text[:200])
        quiet[name] = round(statistics.median(times) * 1000, 1)
        if server_pid is not None:
            quiet_cpu[name] = round((_cpu_seconds(server_pid) - cpu0) / rounds * 1000, 2)
    stop = time.perf_counter() + seconds
    if started_flag is not None:
        started_flag.touch()
    cpu0, own0 = _cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(clients)), rare_worker())
    took = max(last, stop) - started  # the window and the answers to what was sent in it
    cpu_load, cpu_clients = _cpu_seconds(server_pid) - cpu0, time.process_time() - own0
    for c in (boss, own, op):
        await c.aclose()
    pages = sum(len(lat[k]) for k in kinds)
    out = {"_spans": spans, "client_model": client_model(clients, pace),
           "quiet_median_ms": quiet, "under_load": {k: _summary(v) for k, v in lat.items()},
           "pages_per_s": round(pages / seconds, 1), "errors": errors[:10],
           "error_count": len(errors)}
    # history pages (the three frequent kinds) offered and served; the rare client's requests
    # (by number, the operator's dashboard) are beside them, as before
    out["pages_offered_per_s"] = round(clients / pace, 1) if pace > 0 else None
    out["pages_served_per_s"] = round(pages / took, 1)
    out["all_requests_served_per_s"] = round(sum(map(len, lat.values())) / took, 1)
    if server_pid is not None:
        out["quiet_server_cpu_ms"] = quiet_cpu
        out["server_cpu_under_load"] = {"cpu_s": round(cpu_load, 2), "share_of_one_core": round(cpu_load / seconds, 2),
                                        "ms_per_page_with_probes_and_writes": round(cpu_load * 1000 / max(1, sum(map(len, lat.values()))), 2),
                                        # the clients are Python too, on the same cores
                                        "clients_process_share_of_one_core": round(cpu_clients / seconds, 2)}
    return out


#: requests of each kind measured one at a time before the load
QUIET_ROUNDS = 40
#: client n's think times come from random.Random(PACE_SEED + n) (the rare client's: PACE_SEED - 1)
PACE_SEED = 11


def client_model(clients: int, pace: float) -> str:
    """What the load's clients do, in words (the report says which model ran)."""
    if pace > 0:
        return (f"paced: {clients} clients (and one for the rare kinds), each waiting an exponential think "
                f"time of mean {pace:g} s (seeded) before each request; about {clients / pace:g} pages/s offered")
    return (f"closed loop without think time: {clients} clients (and one for the rare kinds), each sending its "
            f"next request the moment the previous one is answered; the server saturated, so pages/s is "
            f"its capacity (pages/s at saturation)")


def _split(spans: dict[str, list[tuple[float, float]]], c0: float, c1: float) -> dict:
    """Per kind: the summary of the requests that overlapped ``[c0, c1]`` and of the others."""
    out = {}
    for name, pairs in spans.items():
        during = [t1 - t0 for t0, t1 in pairs if t0 < c1 and t1 > c0]
        other = [t1 - t0 for t0, t1 in pairs if not (t0 < c1 and t1 > c0)]
        out[name] = {"while_compacting": _summary(during), "otherwise": _summary(other)}
    return out


def _when() -> str:
    """The UTC time and the machine's load average (1 min), for the report."""
    return f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} UTC (load average {os.getloadavg()[0]:.2f})"


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 without one)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: the probe of a process doing nothing else (the machine's floor)
BARE = "a bare Tornado process"

SIZES = {"full": (1_000_000, 100_000, 50, 60.0), "small": (10_000, 2_000, 10, 5.0)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--total", type=int, default=200_000, help="call records in the store")
    ap.add_argument("--pbx", type=int, default=50_000, help="of them, PBX 1's (the one paged)")
    ap.add_argument("--clients", type=int, help="concurrent history clients (default 50)")
    ap.add_argument("--seconds", type=float, help="length of the load (default 15 s)")
    ap.add_argument("--pace", type=float, default=0.0, metavar="SECONDS",
                    help="each client's mean think time before a request, exponentially distributed (seeded): "
                         "50 clients at --pace 1 offer about 50 pages/s; 0 (default): a closed loop without think "
                         "time, the server saturated (its pages/s is the capacity figure)")
    ap.add_argument("--probe-main-port", action="store_true",
                    help="probe /healthz and xml_curl on the main port too (the cabinet's loop: the figures "
                         "before the FreeSWITCH port; 200 more requests/s on the loop that serves the pages)")
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--full", action="store_true", help="issue 11's size: 100 000 in 1 000 000, 50 clients, 60 s")
    size.add_argument("--small", action="store_true", help="10 000 / 2 000, 10 clients, 5 s: checks it works")
    ap.add_argument("--data", help="keep the built store in DATA and reuse it on the next run of the same size "
                                   "(each run serves a copy): before/after runs of the code then share one build")
    ap.add_argument("--quiet-rounds", type=int, default=QUIET_ROUNDS,
                    help="requests of each kind measured one at a time (the server's CPU per request is "
                         "read in clock ticks: more rounds, finer figures)")
    ap.add_argument("--role", choices=["main", "build", "serve", "probe", "bare"], default="main")
    ap.add_argument("--dir")
    ap.add_argument("--ports", help="probe role: JSON {where: port}")
    args = ap.parse_args(argv)
    if args.pace < 0:
        ap.error("--pace: a think time is 0 or more seconds")
    total, pbx, clients, seconds = SIZES["full"] if args.full else SIZES["small"] if args.small else \
        (args.total, args.pbx, 50, 15.0)
    args.total, args.pbx = total, pbx
    args.clients = clients if args.clients is None else args.clients  # an explicit one wins
    args.seconds = seconds if args.seconds is None else args.seconds
    if args.clients < 1 or args.seconds <= 0:
        ap.error("--clients must be at least 1 and --seconds more than 0")
    if args.role == "build":
        print(json.dumps(build(Path(args.dir), args.total, args.pbx)), flush=True)
        return 0
    if args.role == "serve":
        serve(Path(args.dir), args.seconds)
        return 0
    if args.role == "bare":
        bare()
        return 0
    if args.role == "probe":
        import gc
        gc.freeze()  # what the prober imported is not walked again by its own collections
        print(json.dumps(asyncio.run(probe(json.loads(args.ports), args.seconds,
                                           Path(args.dir) / "load.started"))), flush=True)
        return 0
    data_dir = Path(tempfile.mkdtemp(prefix="pult-bench-history-"))
    me = [sys.executable, "-m", "tests.bench.bench_store_history", "--dir", str(data_dir)]
    try:
        kept = Path(args.data) / f"{args.total}-{args.pbx}" if args.data else None
        if kept is not None and (kept / "build.json").exists():
            shutil.rmtree(data_dir)
            shutil.copytree(kept, data_dir)
            built = {**json.loads((kept / "build.json").read_text()), "reused": str(kept)}
        else:
            out = subprocess.run([*me, "--role", "build", "--total", str(args.total), "--pbx", str(args.pbx)],
                                 check=True, capture_output=True, text=True)
            built = json.loads(out.stdout.strip().splitlines()[-1])
            if kept is not None:
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(data_dir, kept, ignore=shutil.ignore_patterns("LOCK"))
                (kept / "build.json").write_text(json.dumps(built))
        print("build:", json.dumps(built), flush=True)
        server = subprocess.Popen([*me, "--role", "serve", "--seconds", str(args.seconds)], stdout=subprocess.PIPE,
                                  text=True)
        try:
            opened = json.loads(server.stdout.readline())
            opened["reopen_peak_over_steady"] = round(opened["reopen_peak_rss_mb"] / opened["steady_rss_mb"], 2)
            print("reopen:", json.dumps(opened), flush=True)
            # the probes: the FreeSWITCH port, the machine's floor, and on request the main port
            # (the cabinet's loop: the figures before the FreeSWITCH port)
            floor = subprocess.Popen([*me, "--role", "bare"], stdout=subprocess.PIPE, text=True)
            ports = {"FreeSWITCH port": opened["fs_port"], BARE: json.loads(floor.stdout.readline())["port"]}
            if args.probe_main_port:
                ports = {"main port": opened["port"], **ports}
            # one prober process per port: a prober's own loop turns (its other probes' requests)
            # are not added to the latency of the port it measures
            probers = [subprocess.Popen([*me, "--role", "probe", "--seconds", str(args.seconds),
                                         "--ports", json.dumps({where: p})], stdout=subprocess.PIPE, text=True)
                       for where, p in ports.items()]
            result = {"measured": _when()}
            result.update(asyncio.run(load(opened["port"], args.pbx, args.clients, args.seconds,
                                           data_dir / "load.started", server.pid, args.quiet_rounds, args.pace)))
            result["measured"] += f" → {_when()}"
            for prober in probers:
                probed, _ = prober.communicate(timeout=120)
                result["under_load"].update(json.loads(probed.strip().splitlines()[-1]))
            floor.terminate()
            floor.wait(30)
            print(f"load ({args.clients} clients, {args.seconds:g} s, PBX of {args.pbx} calls in a store of "
                  f"{args.total}; {client_model(args.clients, args.pace)}):")
            spans = result.pop("_spans")
            print(json.dumps(result, indent=1, ensure_ascii=False), flush=True)
            writes = data_dir / "writes.json"
            deadline = time.monotonic() + max(600.0, args.total / 1000)  # the compaction may outlast the load
            while not writes.exists() and time.monotonic() < deadline and server.poll() is None:
                time.sleep(0.5)
            print("call records stored every 20 ms meanwhile, a whole-store compaction a third of the way in:")
            written = json.loads(writes.read_text()) if writes.exists() else None
            window = written.pop("compaction_window", None) if written else None
            print(json.dumps(written or "no figures", indent=1), flush=True)
            if window:
                print("the load's requests that overlapped the compaction (its merge process takes a core of the "
                      "machine's) and the others:")
                print(json.dumps(_split(spans, *window), indent=1, ensure_ascii=False), flush=True)
            from tests.bench import _fstrace
            if _fstrace.PREFIX:
                time.sleep(1)
                raw = json.loads(Path(_fstrace.PREFIX + ".probe.json").read_text())
                _fstrace.report({k: v for k, v in raw.items() if "FreeSWITCH" in k})
        finally:
            server.terminate()
            server.wait(30)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

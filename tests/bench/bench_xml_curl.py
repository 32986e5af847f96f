"""Benchmark: mod_xml_curl directory lookups through the real handler over loopback.

Run: ``.venv/bin/python -m tests.bench.bench_xml_curl [--seconds 5] [--rate 500] [--backend both]``

Two directories of 1000 SIP users, each served by ``fs_config.routes`` (HTTP Basic secret and
address check on) in its own process:

- ``memory``: a provider over a dict (what the handler and the XML writer cost);
- ``store``: Pult's real provider (:mod:`fs_config.tenant_providers`) over the embedded store,
  the PBX, its 1000 employees and their SIP accounts created through the telephony services;
  a kept answer is checked against the process's copy of the change counters (no store read:
  one process owns the embedded store), and when they moved or the answer is not kept yet, each
  document is read once (domain, account, employee, telephony settings). Every user
  is looked up once before the measurements and nothing is written during them, so answers are
  kept: the figures are those of the steady state (phones re-register every few minutes; a
  cabinet write costs one rebuild per user of that PBX, the provider-only "rebuilt" figure). The
  provider-only figure is given both ways: kept answers, and no cache (every lookup rebuilt).

This process plays FreeSWITCH with a small
HTTP/1.1 client on asyncio streams, sending the recorded ``sip_auth`` lookup shape
(``xml_curl_requests.jsonl``) for random users. Like mod_xml_curl (one curl handle per fetch), it
opens a new TCP connection for every lookup, unless connections are kept alive (what an nginx
upstream with ``keepalive`` does). Figures:

1. throughput: closed loop, ``--concurrency`` workers each sending its next lookup as soon as the
   answer arrives → lookups per second, with a new connection per lookup and with keep-alive;
2. latency at a fixed offered load: open loop, a lookup is *due* every 1/rate s whether or not
   earlier ones finished; latency counts from the due time (a stall is not hidden) → p50/p99;
3. calibration: the same closed loop against a bare Tornado handler answering a same-size body,
   so the figures can be read on a slow or busy machine (the ratio is what Pult's code costs).

Every answer is checked: status 200 and the a1-hash of the user asked for.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

TRACE = Path("/work/shared/freeswitch/traces/xml_curl_requests.jsonl")
DOMAIN = "vpbx1.pult.local"
USERS = 1000
SECRET = "bench-secret"


def password(i: int) -> str:
    return f"Pw{i:04d}secret"


def user_id(i: int) -> str:
    return f"u{1000 + i}"  # a tenant SIP login starts with a letter


def _directory_user(i: int):
    from fs_config.directory import DirectoryUser
    return DirectoryUser(user_id(i), password=password(i), extension=str(2000 + i), employee_id=f"e{i}",
                         user_context="vpbx1", caller_id_name=f"Employee {i}", caller_id_number=str(2000 + i))


# --- server processes ------------------------------------------------------------------------
def _listen(app, conn) -> None:
    import socket

    from tornado.httpserver import HTTPServer
    from tornado.netutil import bind_sockets

    sockets = bind_sockets(0, "127.0.0.1", family=socket.AF_INET, backlog=1024)
    HTTPServer(app).add_sockets(sockets)
    conn.send(sockets[0].getsockname()[1])


def _serve(conn) -> None:
    """Child process: the xml_curl routes with an in-memory directory provider."""
    import logging

    from tornado.web import Application

    from fs_config import Providers, XmlCurlRequest, routes
    from fs_config.directory import DirectoryDomain, build_directory
    from pult.settings import load_settings

    logging.basicConfig(level=logging.WARNING)
    domain = DirectoryDomain(DOMAIN, pbx_id=1)
    users = {user_id(i): _directory_user(i) for i in range(USERS)}

    async def directory(req: XmlCurlRequest) -> str | None:
        if req.domain != DOMAIN:
            return None
        user = users.get(req.user)
        return build_directory(domain, [user]) if user else None

    async def main() -> None:
        settings = load_settings(xml_curl_secret=SECRET, xml_curl_allow="127.0.0.0/8",
                                 outbound_host="127.0.0.1", outbound_port=8084)
        _listen(Application(routes(settings, Providers(directory=directory))), conn)
        await asyncio.Event().wait()

    asyncio.run(main())


async def _seed_store(db, box) -> None:
    """PBX 1 with its defaults, then per user an employee and a SIP account, through the services."""
    from storage.repos.base import Scope
    from storage.repos.tenants import Pbxes
    from esl_control.model.bootstrap import ensure_pbx_defaults
    from esl_control.model.employees.services import EmployeeService
    from esl_control.model.sip.services import SipAccountService

    await Pbxes(db, Scope.platform()).insert_one({"pbx_id": 1, "account_id": 1, "name": "Bench", "status": "active",
                                                  "sip_domain": DOMAIN})
    await ensure_pbx_defaults(db, 1, base_domain=DOMAIN.split(".", 1)[1])
    employees, accounts = EmployeeService(db, 1), SipAccountService(db, 1, box=box)
    for i in range(USERS):
        emp = await employees.create({"name": f"Employee {i}", "extension": str(2000 + i)})
        await accounts.create({"login": user_id(i), "password": password(i), "employee_id": emp["id"]})


def _serve_store(conn, data_dir: str) -> None:
    """Child process: the xml_curl routes with Pult's store-backed providers (embedded store)."""
    import logging
    import time as _time

    from tornado.web import Application

    from fs_config import routes
    from fs_config.tenant_providers import tenant_providers
    from storage.client import open_store
    from pult.settings import load_settings, set_settings
    from esl_control.model.crypto import SecretBox

    logging.basicConfig(level=logging.WARNING)

    async def main() -> None:
        settings = load_settings(data_dir=Path(data_dir), xml_curl_secret=SECRET, xml_curl_allow="127.0.0.0/8",
                                 outbound_host="127.0.0.1", outbound_port=8084, log_level="WARNING")
        set_settings(settings)
        store = open_store(settings)
        await store.start()
        box = SecretBox.from_settings(settings)
        started = _time.perf_counter()
        await _seed_store(store.db, box)
        conn.send(round(_time.perf_counter() - started, 1))
        providers = tenant_providers(settings, store.db, box=box)
        await _warm(providers.directory)
        _listen(Application(routes(settings, providers)), conn)
        await asyncio.Event().wait()

    asyncio.run(main())


async def _warm(directory) -> None:
    """Look every user up once (the steady state: phones re-register every few minutes, so their
    answers are kept; the cost of a first lookup is the provider-only "rebuilt" figure)."""
    template = _template()
    for i in [0, *range(USERS)]:
        req = _request(template, i)
        if await directory(req) is None:
            raise RuntimeError(f"user {user_id(i)} not found")


def _request(template: dict[str, str], i: int):
    from fs_config.request import XmlCurlRequest
    return XmlCurlRequest.from_fields(dict(template, user=user_id(i), domain=DOMAIN, key_value=DOMAIN))


def _provider_only(data_dir: str, seconds: float) -> dict:
    """Child process body: the store-backed directory provider called directly (no HTTP), so the
    store's share of a lookup can be read apart from Tornado's: with its cache, and without (every
    lookup reads each document once)."""
    from fs_config.request import XmlCurlRequest
    from fs_config.tenant_providers import TenantDirectory
    from storage.client import open_store
    from pult.settings import load_settings, set_settings
    from esl_control.model.crypto import SecretBox

    async def main() -> dict:
        settings = load_settings(data_dir=Path(data_dir), log_level="WARNING")
        set_settings(settings)
        store = open_store(settings)
        await store.start()
        await _seed_store(store.db, SecretBox.from_settings(settings))
        template = _template()
        out = {}
        for name, directory in (("cached", TenantDirectory(store.db)), ("uncached", TenantDirectory(store.db, cache_size=0))):
            await _warm(directory)
            rnd = random.Random(3)
            done, deadline = 0, time.perf_counter() + seconds
            started = time.perf_counter()
            while time.perf_counter() < deadline:
                i = rnd.randrange(USERS)
                req = XmlCurlRequest.from_fields(dict(template, user=user_id(i), domain=DOMAIN, key_value=DOMAIN))
                if await directory(req) is None:
                    raise RuntimeError(f"user {user_id(i)} not found")
                done += 1
            elapsed = time.perf_counter() - started
            out[name] = {"lookups": done, "per_second": round(done / elapsed),
                         "mean_ms": round(elapsed / done * 1000, 3)}
        await store.close()
        return out

    return asyncio.run(main())


def _provider_only_child(conn, data_dir: str, seconds: float) -> None:
    conn.send(_provider_only(data_dir, seconds))


def _serve_bare(conn) -> None:
    """Child process: a bare Tornado handler answering a fixed directory-sized document."""
    from tornado.web import Application, RequestHandler

    from fs_config.directory import DirectoryDomain, build_directory

    body = build_directory(DirectoryDomain(DOMAIN, pbx_id=1), [_directory_user(0)])

    class Bare(RequestHandler):
        def post(self) -> None:
            self.set_header("Content-Type", "text/xml")
            self.finish(body)

    async def main() -> None:
        _listen(Application([("/fs/xml-curl", Bare)]), conn)
        await asyncio.Event().wait()

    asyncio.run(main())


def _start(ctx, target, *args, timeout: float = 30, messages: int = 1):
    """Start ``target(child_end, *args)`` in a process; returns (process, its messages)."""
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *args), daemon=True)
    proc.start()
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < messages:
        if parent.poll(0.2):
            got.append(parent.recv())
        elif not proc.is_alive() or time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError(f"bench process {target.__name__} did not start (exit code {proc.exitcode})")
    return proc, got[0] if messages == 1 else got


# --- client ----------------------------------------------------------------------------------
def _template() -> dict[str, str]:
    for line in TRACE.read_text().splitlines():
        form = json.loads(line)["form"]
        if form["section"] == "directory":
            return form
    raise SystemExit("no directory lookup in the trace")


class Client:
    """Sends xml_curl POSTs the way mod_xml_curl does; one connection, reused if ``keepalive``."""

    def __init__(self, port: int, template: dict[str, str], keepalive: bool = False, check: bool = True):
        self.port = port
        self.template = template
        self.keepalive = keepalive
        self.check = check
        self.auth = "Basic " + base64.b64encode(f"freeswitch:{SECRET}".encode()).decode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def request(self, i: int) -> bytes:
        form = dict(self.template, user=user_id(i), domain=DOMAIN, key_value=DOMAIN,
                    sip_auth_username=user_id(i), sip_auth_realm=DOMAIN)
        body = "&".join(f"{quote(k, safe=',/')}={quote(v, safe=',/')}" for k, v in form.items()).encode()
        head = (f"POST /fs/xml-curl HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"User-Agent: freeswitch-xml/1.0\r\nAccept: */*\r\nAuthorization: {self.auth}\r\n"
                f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
        return head.encode() + body

    async def lookup(self, i: int, expect: str) -> None:
        """One lookup; connects when not connected, and closes after unless keep-alive."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.request(i))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await self.reader.readexactly(length)
        if not self.keepalive:
            await self.close()
        if status != b"200" or (self.check and expect.encode() not in body):
            raise RuntimeError(f"bad answer for user {user_id(i)}: {status!r} {body[:200]!r}")

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass


def _expected() -> list[str]:
    from fs_config.directory import a1_hash
    return [a1_hash(user_id(i), DOMAIN, password(i)) for i in range(USERS)]


async def throughput(port: int, seconds: float, concurrency: int, *, keepalive: bool = False,
                     check: bool = True) -> dict:
    """Closed loop: ``concurrency`` workers, each sending its next lookup when the answer is in."""
    template, expect = _template(), _expected()
    clients = [Client(port, template, keepalive, check) for _ in range(concurrency)]
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(n: int, c: Client) -> None:
        nonlocal done
        rnd = random.Random(n)
        while time.perf_counter() < deadline:
            i = rnd.randrange(USERS)
            await c.lookup(i, expect[i])
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(n, c) for n, c in enumerate(clients)))
    elapsed = time.perf_counter() - started
    for c in clients:
        await c.close()
    return {"lookups": done, "seconds": round(elapsed, 2), "per_second": round(done / elapsed)}


async def fixed_rate(port: int, rate: float, seconds: float, *, check: bool = True) -> dict:
    """Open-loop load with a new connection per lookup; latency from each lookup's due time."""
    template, expect = _template(), _expected()
    latencies: list[float] = []
    errors = 0
    total = int(rate * seconds)
    rnd = random.Random(1)

    async def one(due: float, i: int) -> None:
        nonlocal errors
        client = Client(port, template, check=check)
        try:
            await client.lookup(i, expect[i])
            latencies.append(time.perf_counter() - due)
        except Exception:
            errors += 1
            await client.close()

    for i in range(20):  # warm-up
        await one(time.perf_counter(), i)
    latencies.clear()
    start = time.perf_counter() + 0.05
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due, rnd.randrange(USERS))))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    ms = sorted(x * 1000 for x in latencies)

    def pct(p: float) -> float:
        return round(ms[min(len(ms) - 1, int(p / 100 * len(ms)))], 2)

    return {"offered_per_second": rate, "sent": total, "completed": len(ms), "errors": errors,
            "achieved_per_second": round(len(ms) / elapsed),
            "p50_ms": pct(50), "p90_ms": pct(90), "p99_ms": pct(99), "max_ms": round(ms[-1], 2),
            "mean_ms": round(statistics.fmean(ms), 2)}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _with_cpu(pid: int, run) -> dict:
    """``run()``'s figures plus the server process's CPU time per answer: on a busy machine the
    wall-clock figures mostly show the other load; CPU per lookup is what this code costs."""
    before = _cpu_seconds(pid)
    out = run()
    done = out.get("completed", out.get("lookups", 0))
    out["server_cpu_ms_per_lookup"] = round((_cpu_seconds(pid) - before) / max(1, done) * 1000, 3)
    return out


def _measure(pid: int, port: int, seconds: float, rate: float, concurrency: int) -> dict:
    return {"throughput": _with_cpu(pid, lambda: asyncio.run(throughput(port, seconds, concurrency))),
            "throughput_keepalive": asyncio.run(throughput(port, seconds, concurrency, keepalive=True)),
            "fixed_rate": _with_cpu(pid, lambda: asyncio.run(fixed_rate(port, rate, seconds * 2)))}


def run(seconds: float = 5.0, rate: float = 500.0, concurrency: int = 16, backend: str = "both") -> dict:
    """Start the server processes, run the measurements, stop them; returns the figures
    (``memory`` and/or ``store``, each with throughput, keep-alive throughput and fixed rate)."""
    import tempfile

    ctx = multiprocessing.get_context("spawn")
    procs = []
    figures: dict = {"users": USERS, "cpus": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="pult-bench-xml-curl-") as tmp:
        try:
            bare_proc, bare_port = _start(ctx, _serve_bare)
            procs.append(bare_proc)
            figures["bare_tornado"] = _with_cpu(bare_proc.pid, lambda: asyncio.run(
                throughput(bare_port, seconds, concurrency, check=False)))
            # the same open-loop load on the bare handler: what the machine alone does to p99 now
            figures["bare_tornado"]["fixed_rate"] = _with_cpu(bare_proc.pid, lambda: asyncio.run(
                fixed_rate(bare_port, rate, seconds * 2, check=False)))
            if backend in ("memory", "both"):
                proc, port = _start(ctx, _serve)
                procs.append(proc)
                figures["memory"] = _measure(proc.pid, port, seconds, rate, concurrency)
            if backend in ("store", "both"):
                proc, (seed_s, port) = _start(ctx, _serve_store, os.path.join(tmp, "served"), timeout=300,
                                              messages=2)
                procs.append(proc)
                figures["store_seed_seconds"] = seed_s
                figures["store"] = _measure(proc.pid, port, seconds, rate, concurrency)
                proc.terminate()
                proc.join(5)
                child, direct = _start(ctx, _provider_only_child, os.path.join(tmp, "direct"), seconds, timeout=300)
                procs.append(child)
                figures["store_provider_only"] = direct
        finally:
            for proc in procs:
                proc.terminate()
                proc.join(5)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    for name in ("memory", "store"):
        if name in figures:
            figures[name]["share_of_bare_tornado"] = round(
                figures[name]["throughput"]["per_second"] / max(1, figures["bare_tornado"]["per_second"]), 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="length of each throughput run (the fixed-rate run is twice as long)")
    parser.add_argument("--rate", type=float, default=500.0, help="offered load of the latency run, lookups/s")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent workers in the throughput runs")
    parser.add_argument("--backend", choices=("memory", "store", "both"), default="both",
                        help="which directory to measure: in-memory dict, embedded store, or both")
    args = parser.parse_args(argv)
    figures = run(args.seconds, args.rate, args.concurrency, args.backend)
    b = figures["bare_tornado"]
    print(f"xml_curl directory lookups: {figures['users']} users, Basic auth + address check, one Tornado "
          f"process; {figures['cpus']} CPUs, load average {figures['load_average_at_start']} at start")
    bf = b["fixed_rate"]
    print(f"  bare Tornado, same body   : {b['per_second']} requests/s, server CPU "
          f"{b['server_cpu_ms_per_lookup']} ms each; {bf['offered_per_second']:.0f}/s offered: "
          f"p50 {bf['p50_ms']} ms, p90 {bf['p90_ms']} ms, p99 {bf['p99_ms']} ms (load average "
          f"{figures['load_average_at_end']} at the end)")
    ok = True
    for name, label in (("memory", "in-memory directory"), ("store", "embedded store, Pult's providers")):
        if name not in figures:
            continue
        t, k, f = figures[name]["throughput"], figures[name]["throughput_keepalive"], figures[name]["fixed_rate"]
        print(f"  {label}:")
        print(f"    new connection per lookup : {t['per_second']} lookups/s ({args.concurrency} concurrent, "
              f"{figures[name]['share_of_bare_tornado']:.0%} of bare Tornado), server CPU "
              f"{t['server_cpu_ms_per_lookup']} ms each ({f['server_cpu_ms_per_lookup']} ms at the fixed rate)")
        print(f"    keep-alive connections    : {k['per_second']} lookups/s")
        print(f"    {f['offered_per_second']:.0f}/s offered, new connection each: p50 {f['p50_ms']} ms, "
              f"p90 {f['p90_ms']} ms, p99 {f['p99_ms']} ms, max {f['max_ms']} ms; "
              f"achieved {f['achieved_per_second']}/s, {f['errors']} errors")
        ok = ok and f["errors"] == 0 and f["completed"] == f["sent"]
    if "store_provider_only" in figures:
        d = figures["store_provider_only"]
        print(f"  store provider alone (no HTTP): {d['cached']['per_second']} lookups/s, {d['cached']['mean_ms']} ms "
              f"each with kept answers; {d['uncached']['per_second']} lookups/s, {d['uncached']['mean_ms']} ms each "
              f"rebuilt every time; seeding {USERS} employees + SIP accounts through the services took "
              f"{figures['store_seed_seconds']} s")
    print(json.dumps(figures))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    sys.exit(main())

"""Benchmark: the server's CPU per call-history request of two checkouts side by side.

Run: ``.venv/bin/python -m tests.bench.bench_history_ab --a /path/to/main --b . --data DIR
[--blocks 16] [--per-block 40]`` (needs Redis: ``REDIS_URL``) after ``bench_store_history --data DIR``
of the size wanted (``--total``/``--pbx``, default 10 000 / 2 000) has built the store once.

Each checkout serves a copy of the same build (``bench_store_history --role serve`` of that
checkout, in its own process); the same requests as ``bench_store_history``'s (first page,
"own calls" page, deep keyset page, deep page by number, the operator's dashboard, ``/healthz``)
go one at a time to each server in turn, in blocks of ``--per-block``, and each block's CPU time
of the serving process (``/proc/PID/stat``) is summed per kind. The two servers so share whatever
else the machine is doing, which a before/after of two separate runs on a busy machine does not.
The pages' answers (items, total, next) of the two are compared first.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.bench.bench_store_history import OPERATOR, PER_PAGE, TENANT_PASSWORD, _cpu_seconds


async def _kinds(port: int, pbx_calls: int) -> dict:
    import httpx

    from storage.paging import encode_cursor
    from web.api.calls import NEWEST_FIRST

    base = f"http://127.0.0.1:{port}"

    async def signed_in(login: str, pw: str) -> httpx.AsyncClient:
        c = httpx.AsyncClient(base_url=base, timeout=120)
        await c.get("/api/v1/session")
        r = await c.post("/api/v1/session", json={"login": login, "password": pw},
                         headers={"X-XSRFToken": c.cookies.get("_xsrf") or ""})
        assert r.status_code == 200, r.text
        return c

    boss, own, op = (await signed_in("1/boss", TENANT_PASSWORD), await signed_in("1/own", TENANT_PASSWORD),
                     await signed_in(*OPERATOR))
    probe = (await boss.get("/api/v1/calls", params={"per_page": 1})).json()["items"][0]
    newest = datetime.fromisoformat(probe["start"])
    i = pbx_calls // 2
    span = timedelta(days=100).total_seconds()
    mid = newest + timedelta(seconds=span * 0.5 / pbx_calls) - timedelta(seconds=span * (i + 0.5) / pbx_calls)
    cursor = encode_cursor({"start": mid.replace(microsecond=mid.microsecond // 1000 * 1000), "uuid": f"1-{i:08d}"},
                           NEWEST_FIRST)
    return {"first page": (boss, "/api/v1/calls", {"per_page": PER_PAGE}),
            "filtered page (own reach)": (own, "/api/v1/calls", {"per_page": PER_PAGE}),
            "deep page (keyset, half-way)": (boss, "/api/v1/calls", {"per_page": PER_PAGE, "after": cursor}),
            "deep page by number (offset, half-way)": (boss, "/api/v1/calls",
                                                       {"per_page": PER_PAGE, "page": max(1, i // PER_PAGE)}),
            "operator dashboard (calls today)": (op, "/", {}),
            "/healthz": (boss, "/healthz", {})}


async def measure(servers: dict, pbx_calls: int, blocks: int, per_block: int) -> dict:
    kinds = {n: await _kinds(s["port"], pbx_calls) for n, s in servers.items()}
    names = list(servers)
    answers: dict[str, set] = {}
    for n in names:  # warm, and the answers of the two
        for k, (c, path, params) in kinds[n].items():
            for _ in range(3):
                r = await c.get(path, params=params)
            if path.startswith("/api"):
                answers.setdefault(k, set()).add(r.text)
    cpu = {n: {k: [] for k in kinds[n]} for n in names}
    wall = {n: {k: [] for k in kinds[n]} for n in names}
    for b in range(blocks):
        for k in kinds[names[0]]:
            for n in (names if b % 2 == 0 else names[::-1]):
                c, path, params = kinds[n][k]
                c0, t0 = _cpu_seconds(servers[n]["pid"]), time.perf_counter()
                for _ in range(per_block):
                    r = await c.get(path, params=params)
                    assert r.status_code == 200, (k, r.status_code)
                wall[n][k].append((time.perf_counter() - t0) / per_block * 1000)
                cpu[n][k].append((_cpu_seconds(servers[n]["pid"]) - c0) / per_block * 1000)
    for n in names:
        for c, _, _ in {id(v[0]): v for v in kinds[n].values()}.values():
            await c.aclose()
    return {"same_answers": {k: len(v) == 1 for k, v in answers.items()},
            "server_cpu_ms_per_request": {k: {n: round(statistics.mean(cpu[n][k]), 2) for n in names}
                                          for k in kinds[names[0]]},
            "wall_ms_median_one_at_a_time": {k: {n: round(statistics.median(wall[n][k]), 2) for n in names}
                                             for k in kinds[names[0]]}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", help="checkout A (e.g. a worktree of main)")
    ap.add_argument("--b", default=".", help="checkout B (default: this one)")
    ap.add_argument("--data", help="bench_store_history's --data directory")
    ap.add_argument("--total", type=int, default=10_000)
    ap.add_argument("--pbx", type=int, default=2_000)
    ap.add_argument("--blocks", type=int, default=16)
    ap.add_argument("--per-block", type=int, default=40)
    args = ap.parse_args(argv)
    if not args.a or not args.data:  # `make bench` runs every bench without arguments
        print("bench_history_ab compares two checkouts: give --a CHECKOUT and --data DIR (skipped)")
        return 0
    built = Path(args.data) / f"{args.total}-{args.pbx}"
    if not (built / "build.json").exists():
        ap.error(f"no build in {built}: run bench_store_history --total {args.total} --pbx {args.pbx} --data {args.data}")
    servers, dirs = {}, []
    try:
        for name, checkout in (("a", args.a), ("b", args.b)):
            d = Path(tempfile.mkdtemp(prefix=f"pult-bench-ab-{name}-"))
            shutil.rmtree(d)
            shutil.copytree(built, d, ignore=shutil.ignore_patterns("LOCK"))
            dirs.append(d)
            p = subprocess.Popen([sys.executable, "-m", "tests.bench.bench_store_history", "--dir", str(d),
                                  "--role", "serve", "--seconds", "0.1"], stdout=subprocess.PIPE, text=True,
                                 cwd=os.path.abspath(checkout))
            servers[name] = {"proc": p, "pid": p.pid, "port": json.loads(p.stdout.readline())["port"],
                             "checkout": os.path.abspath(checkout)}
        load = os.getloadavg()
        out = asyncio.run(measure(servers, args.pbx, args.blocks, args.per_block))
        out.update({"a": servers["a"]["checkout"], "b": servers["b"]["checkout"], "blocks": args.blocks,
                    "per_block": args.per_block, "load_average_before_after": [round(load[0], 2),
                                                                               round(os.getloadavg()[0], 2)]})
        print(json.dumps(out, indent=1, ensure_ascii=False))
    finally:
        for s in servers.values():
            s["proc"].terminate()
            s["proc"].wait(30)
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

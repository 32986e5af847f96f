"""Benchmark: call rating throughput (pure ``rate_call``) and rating + ledger posting (embedded store).

Run: ``.venv/bin/python -m tests.bench.bench_rating [N]``
"""
from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from datetime import datetime, timezone

from jobs.billing.ledger import rate_and_charge_call, run_sync
from jobs.billing.rating import BillingStep, CallToRate, Destination, Tariff, rate_call


def big_tariff() -> Tariff:
    """~1 300 destinations: Russian area codes, mobile ranges and countries."""
    dests = [Destination("7", "long_distance"), Destination("7495", "local"), Destination("7499", "local"),
             Destination("112", "service", exact=True), Destination("7800", "free")]
    dests += [Destination(f"79{i:02d}", "mobile") for i in range(100)]
    dests += [Destination(f"7{i:03d}", "long_distance") for i in range(300, 900) if i not in (495, 499, 800)]
    countries = ["DE", "FR", "US", "GB", "CN", "BY", "KZ", "UA", "TR", "IT"]
    used = set()
    for i in range(20, 999):
        p = str(i)
        if p.startswith("7") or any(p.startswith(u) for u in used if len(u) < len(p)):
            continue
        used.add(p)
        dests.append(Destination(p, "international", country=countries[i % len(countries)]))
    prices = {"local": 120, "mobile": 190, "long_distance": 350, "international": 2500, "international:DE": 1500}
    return Tariff("bench", "Bench", tuple(dests), prices, step=BillingStep(60, 1), free_minutes=300)


def calls(n: int):
    rnd = random.Random(3)
    at = datetime(2025, 11, 3, 10, tzinfo=timezone.utc)
    numbers = ["8495{:07d}", "8916{:07d}", "8343{:07d}", "+49301{:06d}", "+1212{:07d}", "8800{:07d}"]
    return [CallToRate("outbound", rnd.choice(numbers).format(rnd.randint(0, 999999)), rnd.randint(0, 900), at)
            for _ in range(n)]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    tariff = big_tariff()
    batch = calls(n)
    t = time.perf_counter()
    total = 0
    for c in batch:
        total += rate_call(c, tariff, free_seconds_left=0).cost
    dt = time.perf_counter() - t
    print(f"rate_call: {n} calls, {len(tariff.destinations)} destinations: {n / dt:,.0f} calls/s "
          f"({dt / n * 1e6:.1f} µs/call), total {total / 100:,.2f} RUB")

    from storage.client import open_store
    from pult.settings import load_settings

    m = min(n, 5000)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(load_settings(data_dir=tmp))
        asyncio.run(store.start())
        t = time.perf_counter()
        for i, c in enumerate(batch[:m]):
            run_sync(rate_and_charge_call(store.sync_db, 100001 + i % 50, f"bench-{i}", c, tariff))
        dt = time.perf_counter() - t
        print(f"rate_and_charge_call (embedded store, journaled): {m} calls: {m / dt:,.0f} calls/s")
        asyncio.run(store.close())


if __name__ == "__main__":
    main()

"""Benchmark: the "Now: …" line of the scheme list and the number pages — one snapshot load and
one dry run per number (no digits) through the same engine over the recording fake, then the
line in words — for a PBX with 10, 100 and 500 numbers (half on the inventory-A scheme with a
greeting and a menu, half without a scheme: the default group, then voice mail). The figure is
what a page load adds.

Run: ``.venv/bin/python -m tests.bench.bench_check_call``
"""
from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path

ROUNDS = 5


async def main() -> None:
    from pult.settings import load_settings
    from storage.client import open_store
    from tests.bench.bench_call_flow import seed
    from tests.unit.flow_data import PBX_ID, WORK_TIME
    from web.telephony.dryrun.check import what_now
    from web.telephony.dryrun.describe import headline

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="pult-bench-check-") as tmp:
        store = open_store(load_settings(data_dir=Path(tmp) / "data"))
        await store.start()
        await seed(store)
        have = 2
        for count in (10, 100, 500):
            for i in range(have, count):
                await store.db["numbers"].insert_one({"_id": f"nb{i}", "pbx_id": PBX_ID, "number": f"7495100{i:04d}",
                                                      "kind": "did", "scheme_id": "s1" if i % 2 else None})
            have = count
            numbers = [d["number"] for d in await store.db["numbers"].find({"pbx_id": PBX_ID}).to_list(None)]
            times = []
            for _ in range(ROUNDS):
                t = time.perf_counter()
                snapshot, results = await what_now(store.db, PBX_ID, numbers, now=WORK_TIME)
                lines = {n: headline(r, snapshot, lambda m, **kw: m % kw if kw else m) for n, r in results.items()}
                times.append(time.perf_counter() - t)
            assert len(lines) == count, (len(lines), count)
            best, med = min(times), statistics.median(times)
            print(f"{count:4d} numbers: page adds {med * 1e3:7.1f} ms (median of {ROUNDS}; best {best * 1e3:.1f} ms), "
                  f"{med / count * 1e3:.2f} ms per number")
        print("e.g.:", next(iter(lines.values())))
        await store.close()


if __name__ == "__main__":
    asyncio.run(main())

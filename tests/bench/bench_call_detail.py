"""Benchmark: call detail for N calls (default 100 000) in XLSX, XLS, TXT and PDF.

Run: ``.venv/bin/python -m tests.bench.bench_call_detail [N] [--chunk 2280] [--workers 2]``

Prints wall time per format and peak memory: the peak RSS of this process (ru_maxrss, sampled
RSS too) and the largest single wkhtmltopdf child (RUSAGE_CHILDREN), plus the sampled sum of
this process and its live children (the figure the 300 MB target is about).
Targets: XLSX ≤ 10 s, PDF ≤ 60 s, peak memory ≤ 300 MB.
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import threading
import time
from datetime import date, datetime, timedelta

from reports.call_detail import CallRow, Header, render_call_detail


def rss_tree_kb(pid: int) -> int:
    """RSS of ``pid`` plus its direct children (from /proc), in KB."""
    total = 0
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except OSError:
            pass
    return total


class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak_kb = 0
        self.stop = threading.Event()

    def run(self):
        me = os.getpid()
        while not self.stop.is_set():
            self.peak_kb = max(self.peak_kb, rss_tree_kb(me))
            self.stop.wait(0.05)


def make_rows(n: int, seed: int = 7):
    rnd = random.Random(seed)
    t0 = datetime(2025, 11, 2)
    zones = [("local", ""), ("mobile", ""), ("long_distance", ""), ("international", "Германия")]
    for i in range(n):
        d = rnd.randint(0, 1800)
        zone, name = zones[i % 4]
        yield CallRow(t0 + timedelta(seconds=i * 25), "+74951234567", f"+7916{rnd.randint(0, 9999999):07d}",
                      "outbound", zone, d, -(-d // 60) * 60, rnd.randint(0, 9000), name)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument("--chunk", type=int, default=2280, help="calls per wkhtmltopdf process (whole pages of 76)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--formats", default="xlsx,txt,xls,pdf")
    a = ap.parse_args()
    header = Header(100001, date(2025, 11, 2), date(2025, 11, 30), datetime(2025, 12, 2, 9), "ООО «Ромашка»")
    sampler = Sampler()
    sampler.start()
    print(f"call detail, {a.n} calls, {os.cpu_count()} CPUs")
    for fmt in a.formats.split(","):
        t = time.perf_counter()
        kw = {"chunk_rows": a.chunk, "workers": a.workers} if fmt == "pdf" else {}
        data = render_call_detail(fmt, header, make_rows(a.n), **kw)
        print(f"  {fmt:5s} {time.perf_counter() - t:7.2f} s  {len(data) / 1e6:7.1f} MB output")
    sampler.stop.set()
    sampler.join()
    self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    child_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  peak RSS: python {self_mb:.0f} MB; largest wkhtmltopdf child {child_mb:.0f} MB; "
          f"sampled python+children {sampler.peak_kb / 1024:.0f} MB")


if __name__ == "__main__":
    main()

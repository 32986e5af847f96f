"""Run every ``tests/bench/bench_*.py`` and print their figures one after the other.

    .venv/bin/python -m tests.bench              # all
    .venv/bin/python -m tests.bench esl xml      # those whose name contains one of the words

Each benchmark runs in its own interpreter (``python -m tests.bench.<name>``) so one cannot
skew another through leftover threads, loops or caches. The exit status is non-zero when any
benchmark failed.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def main(argv: list[str]) -> int:
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if argv:
        names = [n for n in names if any(word in n for word in argv)]
        if not names:
            print(f"no benchmark matches {' '.join(argv)!r}", file=sys.stderr)
            return 2
    failed = []
    for name in names:
        print(f"=== {name}", flush=True)
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", f"tests.bench.{name}"], cwd=ROOT)
        took = time.perf_counter() - started
        if proc.returncode:
            failed.append(name)
            print(f"--- {name} FAILED (exit {proc.returncode}) after {took:.1f} s\n", flush=True)
        else:
            print(f"--- {name} done in {took:.1f} s\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Benchmark: making the default prompt set (both languages, every phrase and say file, 8 and
16 kHz) from nothing, running the generation again over a complete set (what every
``scripts/setup.sh`` does), checking every file, and resolving a phrase on the call path.

Run: ``.venv/bin/python -m tests.bench.bench_prompts``
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from esl_control.prompts import DEFAULT_VOICES, LANGS, PHRASES, PromptSet
from esl_control.prompts.generate import check_voice, generate, synthesizer, texts


def main() -> None:
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="pult-bench-prompts-") as tmp:
        for lang in LANGS:
            print(f"{lang}: {len(texts(lang))} files x 2 rates, synthesizer {synthesizer(lang)}")
        t = time.perf_counter()
        reports = generate(tmp)
        made = time.perf_counter() - t
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*.wav"))
        print(f"generate from nothing: {made:.1f} s ({sum(r.made for r in reports)} texts, "
              f"{size / 1e6:.1f} MB of WAV)")
        t = time.perf_counter()
        reports = generate(tmp)
        print(f"generate again, complete set: {time.perf_counter() - t:.3f} s "
              f"({sum(r.made for r in reports)} made)")
        t = time.perf_counter()
        problems = [p for lang in LANGS for p in check_voice(Path(tmp) / DEFAULT_VOICES[lang], lang)]
        print(f"check every file (format, not silent): {time.perf_counter() - t:.2f} s, {len(problems)} problem(s)")
        prompts = PromptSet(tmp)
        t = time.perf_counter()
        for lang in LANGS:
            for pid in PHRASES:
                prompts.phrase_file(pid, lang)
        first = time.perf_counter() - t
        n = 100_000
        ids = list(PHRASES)
        t = time.perf_counter()
        for i in range(n):
            prompts.phrase_file(ids[i % len(ids)], "ru")
        print(f"phrase_file: first lookups {first / (2 * len(ids)) * 1e6:.0f} us each (file system), "
              f"then {(time.perf_counter() - t) / n * 1e6:.2f} us each (cached)")


if __name__ == "__main__":
    main()

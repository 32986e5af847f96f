"""Runnable benchmarks (not timed tests): each ``bench_*.py`` prints its figures.

Run one: ``.venv/bin/python -m tests.bench.bench_esl_ingest``; all: ``.venv/bin/python -m tests.bench``.
"""

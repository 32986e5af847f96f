#!/usr/bin/env bash
# Second command of the README: set up and run the whole test suite. Exits non-zero when a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m pytest -q -ra "$@"

#!/usr/bin/env bash
# Second command of the README: set up, check the import contracts and run the whole test suite.
# Exits non-zero when a contract is broken or a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# the import contracts of pyproject.toml (docs/architecture.md): a new upward import or a cycle fails the run
.venv/bin/lint-imports
exec .venv/bin/python -m pytest -q -ra "$@"

#!/usr/bin/env bash
# Second command of the README: set up, check the import contracts and run the whole test suite.
# Exits non-zero when a contract is broken or a test fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# the import contracts of pyproject.toml (docs/architecture.md): a new upward import or a cycle fails the run
.venv/bin/lint-imports
# The real-switch tier (tests/realfs, marker "freeswitch") runs a real FreeSWITCH 1.10.12: the one
# named by PULT_TEST_FREESWITCH, else /opt/freeswitch, built here from ../shared/freeswitch/real/
# when that directory is there (about 8 minutes, once per machine; needs root). Without one, those
# tests are skipped with the reason.
FS_BUILD=../shared/freeswitch/real/build.sh
if [ -z "${PULT_TEST_FREESWITCH:-}" ] && [ ! -x /opt/freeswitch/bin/freeswitch ] && [ -x "$FS_BUILD" ]; then
  echo "test: building a real FreeSWITCH for tests/realfs ($FS_BUILD)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO "$FS_BUILD" || echo "test: the FreeSWITCH build failed; tests/realfs will be skipped" >&2
fi
exec .venv/bin/python -m pytest -q -ra "$@"

#!/usr/bin/env bash
# First command of the README: set up, seed the demo tenant and run Pult on its embedded default
# (server + in-process worker and beat + embedded store persisted in ./var). Prints URL and logins.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/pult demo "$@"

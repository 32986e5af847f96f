#!/usr/bin/env bash
# Installs what Pult needs on a fresh Debian machine: system packages (as root, via apt) and the
# Python virtualenv in .venv with the pinned requirements. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(redis-server wkhtmltopdf slapd ldap-utils sox libsox-fmt-mp3 lame ghostscript
              libtiff-tools poppler-utils fonts-dejavu-core fonts-liberation chromium chromium-driver
              festival festvox-ru festvox-us-slt-hts espeak-ng
              sip-tester)  # sip-tester: SIPp, the phones of the real-switch tests (tests/realfs)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # slapd asks questions on install; answer them with an empty default configuration
  echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
  $SUDO apt-get -o DPkg::Lock::Timeout=900 update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha
# the package is re-installed when its requirements or its pyproject (entry points, package list) change
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -r requirements.txt
  .venv/bin/pip install -q --no-deps -e . >/dev/null
  echo "$want" > "$stamp"
fi

# The default prompt set (Russian and English), synthesised into $PULT_DATA_DIR/sounds (default
# var/sounds) once: about a minute the first time, then only what is missing (under a second)
.venv/bin/python -m pult.cli prompts generate

# Redis: started here if it is not running (the embedded default and the tests need it)
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "setup: starting redis-server on 127.0.0.1:6379"
  mkdir -p /tmp/pult-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/pult-redis --logfile /tmp/pult-redis/redis.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi

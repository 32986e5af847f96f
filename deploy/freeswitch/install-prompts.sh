#!/usr/bin/env bash
# Copy Pult's generated prompt set onto a FreeSWITCH node, in FreeSWITCH's sound-package layout.
#
#   deploy/freeswitch/install-prompts.sh [SOUNDS_DIR] [DEST]
#     SOUNDS_DIR  the set made by `pult prompts generate` (default: $PULT_SOUNDS_DIR, else var/sounds)
#     DEST        the node's sounds directory, local or rsync's host:path
#                 (default /usr/share/freeswitch/sounds)
#
# It installs <DEST>/ru/RU/pult and <DEST>/en/us/pult (each <category>/<8000|16000>/<file>.wav)
# beside any other package there; nothing else in DEST is touched. Then set, on the Pult side,
# PULT_FS_SOUNDS_DIR=<DEST path on the node> (not needed when the node and Pult use the same path).
# Run it again after `pult prompts generate` made new files: only changed files are copied.
set -euo pipefail
src=${1:-${PULT_SOUNDS_DIR:-var/sounds}}
dest=${2:-/usr/share/freeswitch/sounds}
for voice in ru/RU/pult en/us/pult; do
  if [ ! -f "$src/$voice/.pult-prompts.json" ]; then
    echo "install-prompts: $src/$voice is not a generated set; run 'pult prompts generate' first" >&2
    exit 1
  fi
done
for voice in ru/RU/pult en/us/pult; do
  if command -v rsync >/dev/null; then
    rsync -a --mkpath --delete-after --exclude '.*' "$src/$voice/" "$dest/$voice/"
  else
    case "$dest" in *:*) echo "install-prompts: rsync is needed to copy to $dest" >&2; exit 1;; esac
    mkdir -p "$dest/$voice" && cp -a "$src/$voice/." "$dest/$voice/"
  fi
  echo "install-prompts: $voice -> $dest/$voice"
done

#!/usr/bin/env bash
# Starts the first node of a cluster (the seed the others join) in the background and
# waits until it is an Up member.
#
#   scripts/start-seed.sh [meshinfer node flags...]
#
# Like start-node.sh, with seed defaults for the flags left out: --name seed,
# --port 25520, --http-port 8080, and no --seeds (the node forms a new cluster; pass
# --seeds to let a restarted seed rejoin a cluster that is still running). Log, pid file
# and URL go to $RUN_DIR (default run/) as <name>.log, <name>.pid, <name>.url. Transport
# security (--tls-dir, --https, MESHINFER_TLS_DIR, MESHINFER_HTTPS) as in start-node.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

has_flag() {
  local flag="$1"
  shift
  local a
  for a in "$@"; do
    if [[ "$a" == "$flag" || "$a" == "$flag="* ]]; then
      return 0
    fi
  done
  return 1
}

defaults=()
has_flag --name "$@" || defaults+=(--name seed)
has_flag --port "$@" || defaults+=(--port 25520)
has_flag --http-port "$@" || defaults+=(--http-port 8080)

MESHINFER_NO_DEFAULT_SEEDS=1 exec "$ROOT/scripts/start-node.sh" "${defaults[@]}" "$@"

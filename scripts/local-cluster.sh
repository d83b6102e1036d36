#!/usr/bin/env bash
# A local meshinfer cluster on 127.0.0.1, one JVM per node.
#
#   scripts/local-cluster.sh up N [meshinfer node flags...]   start nodes 1..N (those not running yet)
#   scripts/local-cluster.sh status                           pids, liveness, and `meshinfer status`
#   scripts/local-cluster.sh down                             stop every node in $RUN_DIR
#
# Node i (1-based) is named node<i>, listens on 127.0.0.1:$((BASE_PORT + i - 1)) for the
# cluster and on $((BASE_HTTP_PORT + i - 1)) for HTTP, lives in the i-th region of
# $REGIONS taken round-robin (zone <region>-z<k>), and keeps its data in
# $RUN_DIR/data/node<i>. node1 is the seed; the others join through it. Extra flags after
# N go to every node (e.g. --config my.conf).
#
# Environment: RUN_DIR (default run/), BASE_PORT (25520), BASE_HTTP_PORT (8080),
# REGIONS (region-a,region-b), DOWN_TIMEOUT (seconds before stragglers get SIGKILL, 30),
# START_TIMEOUT, MESHINFER_JAVA_OPTS.
#
# Transport security: with MESHINFER_TLS_DIR=DIR, node<i> runs with --tls-dir DIR/node<i>
# (mutual TLS between nodes); `up` first creates the missing keys and certificates with
# scripts/gen-certs.sh (a CA in DIR is created once, then reused). MESHINFER_HTTPS=1 makes
# the gateways serve HTTPS; `status` then trusts DIR/ca.crt (or MESHINFER_CA_CERT).
#
# Every command is safe to re-run: up skips nodes that are running, down ignores nodes
# that are gone and only signals processes that still are the node of their pid file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RUN_DIR="${RUN_DIR:-$ROOT/run}"
BASE_PORT="${BASE_PORT:-25520}"
BASE_HTTP_PORT="${BASE_HTTP_PORT:-8080}"
REGIONS="${REGIONS:-region-a,region-b}"
DOWN_TIMEOUT="${DOWN_TIMEOUT:-30}"
if [[ -n "${MESHINFER_TLS_DIR:-}" ]]; then
  MESHINFER_TLS_DIR="$(realpath -m "$MESHINFER_TLS_DIR")"
  export MESHINFER_TLS_DIR
  export MESHINFER_CA_CERT="${MESHINFER_CA_CERT:-$MESHINFER_TLS_DIR/ca.crt}"
fi

usage() {
  sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# The pid in a pid file, if that process is alive and still the node the file names.
live_pid() {
  local pid_file="$1" name pid
  name="$(basename "$pid_file" .pid)"
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE -- "--name[= ]$name( |$)"; then
    echo "$pid"
  fi
}

pid_files() {
  shopt -s nullglob
  local files=("$RUN_DIR"/*.pid)
  shopt -u nullglob
  if ((${#files[@]} > 0)); then
    printf '%s\n' "${files[@]}"
  fi
}

cmd_up() {
  local n="${1:-}"
  if [[ ! "$n" =~ ^[1-9][0-9]*$ ]]; then
    usage
  fi
  shift
  local -a regions
  IFS=',' read -r -a regions <<<"$REGIONS"
  if ((${#regions[@]} == 0)); then
    echo "local-cluster: REGIONS is empty" >&2
    exit 2
  fi
  mkdir -p "$RUN_DIR"
  # Build the jar once, before nodes start in parallel.
  "$ROOT/scripts/meshinfer" --version >/dev/null

  local seed="127.0.0.1:$BASE_PORT"
  local -a pids=() names=()
  local i
  if [[ -n "${MESHINFER_TLS_DIR:-}" ]]; then
    local -a missing=()
    for ((i = 1; i <= n; i++)); do
      if [[ ! -f "$MESHINFER_TLS_DIR/node$i/tls.crt" ]]; then missing+=("node$i"); fi
    done
    if ((${#missing[@]} > 0)); then
      "$ROOT/scripts/gen-certs.sh" "$MESHINFER_TLS_DIR" "${missing[@]}"
    fi
  fi
  for ((i = 1; i <= n; i++)); do
    local name="node$i"
    local region="${regions[$(((i - 1) % ${#regions[@]}))]}"
    local zone="$region-z$(((i - 1) / ${#regions[@]} + 1))"
    local -a flags=(--name "$name" --host 127.0.0.1 --port "$((BASE_PORT + i - 1))"
      --http-port "$((BASE_HTTP_PORT + i - 1))" --region "$region" --zone "$zone"
      --data-dir "$RUN_DIR/data/$name")
    if ((i == 1)); then
      # The seed first, alone: the others need it to join. If the cluster is already up
      # without node1 (it was stopped), let node1 rejoin through the others instead of
      # forming a second cluster.
      local -a rejoin=()
      local j
      for ((j = 2; j <= n; j++)); do
        if [[ -n "$(live_pid "$RUN_DIR/node$j.pid")" ]]; then
          rejoin+=("127.0.0.1:$((BASE_PORT + j - 1))")
        fi
      done
      if ((${#rejoin[@]} > 0)); then
        "$ROOT/scripts/start-node.sh" "${flags[@]}" --seeds "$(IFS=,; echo "${rejoin[*]}")" "$@"
      else
        "$ROOT/scripts/start-seed.sh" "${flags[@]}" "$@"
      fi
    else
      "$ROOT/scripts/start-node.sh" "${flags[@]}" --seeds "$seed" "$@" &
      pids+=("$!")
      names+=("$name")
    fi
  done
  local failed=0 k
  for k in "${!pids[@]}"; do
    if ! wait "${pids[$k]}"; then
      echo "local-cluster: ${names[$k]} did not start" >&2
      failed=1
    fi
  done
  if ((failed)); then
    echo "local-cluster: some nodes failed; the others keep running (scripts/local-cluster.sh down stops them)" >&2
    exit 1
  fi
  local scheme=http
  if [[ "${MESHINFER_HTTPS:-}" =~ ^(1|true|yes|on)$ ]]; then scheme=https; fi
  echo "local cluster of $n nodes up; gateway $scheme://127.0.0.1:$BASE_HTTP_PORT (run dir $RUN_DIR)"
}

cmd_status() {
  local gateway="" pid_file name pid any=0
  while read -r pid_file; do
    [[ -n "$pid_file" ]] || continue
    any=1
    name="$(basename "$pid_file" .pid)"
    pid="$(live_pid "$pid_file")"
    if [[ -n "$pid" ]]; then
      local state
      state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo "?")"
      local url
      url="$(cat "$RUN_DIR/$name.url" 2>/dev/null || echo "-")"
      if [[ "$state" == "T" ]]; then
        echo "$name: pid $pid STOPPED (paused) $url"
      else
        echo "$name: pid $pid alive $url"
        if [[ -z "$gateway" && "$url" != "-" ]]; then gateway="$url"; fi
      fi
    else
      echo "$name: not running (stale pid file $(cat "$pid_file" 2>/dev/null || true))"
    fi
  done < <(pid_files)
  if ((!any)); then
    echo "no nodes in $RUN_DIR"
    return 0
  fi
  if [[ -z "$gateway" ]]; then
    echo "no live node to ask for the cluster status"
    return 1
  fi
  echo
  "$ROOT/scripts/meshinfer" status --gateway "$gateway"
}

cmd_down() {
  local -a pids=() names=()
  local pid_file name pid
  while read -r pid_file; do
    [[ -n "$pid_file" ]] || continue
    name="$(basename "$pid_file" .pid)"
    pid="$(live_pid "$pid_file")"
    if [[ -z "$pid" ]]; then
      rm -f "$pid_file" "$RUN_DIR/$name.url"
      continue
    fi
    echo "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    # A paused node handles SIGTERM only once it runs again.
    kill -CONT "$pid" 2>/dev/null || true
    pids+=("$pid")
    names+=("$name")
  done < <(pid_files)
  if ((${#pids[@]} == 0)); then
    echo "no running nodes in $RUN_DIR"
    return 0
  fi
  local deadline=$((SECONDS + DOWN_TIMEOUT)) k alive
  while ((SECONDS < deadline)); do
    alive=0
    for k in "${!pids[@]}"; do
      if kill -0 "${pids[$k]}" 2>/dev/null; then alive=1; fi
    done
    ((alive)) || break
    sleep 0.5
  done
  for k in "${!pids[@]}"; do
    if kill -0 "${pids[$k]}" 2>/dev/null; then
      echo "${names[$k]} (pid ${pids[$k]}) still running after ${DOWN_TIMEOUT}s: SIGKILL"
      kill -KILL "${pids[$k]}" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/${names[$k]}.pid" "$RUN_DIR/${names[$k]}.url"
  done
  echo "stopped ${#pids[@]} node(s)"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  status) cmd_status ;;
  down) cmd_down ;;
  *) usage ;;
esac

#!/usr/bin/env bash
# Starts one meshinfer node in the background and waits until it is an Up cluster member.
#
#   scripts/start-node.sh [meshinfer node flags...]
#
# Every flag goes to `meshinfer node` unchanged (see `scripts/meshinfer node --help`); the
# ones left out get defaults: --name node-<port>, --host 127.0.0.1, --port 25521,
# --http-port 8081, --seeds 127.0.0.1:25520 (the seed that start-seed.sh starts), and
# --data-dir $RUN_DIR/data/<name>.
#
# Writes $RUN_DIR/<name>.log, <name>.pid and <name>.url (RUN_DIR defaults to run/ in the
# repository). Exits 0 once GET /v2/health/ready answers 200; exits 1, printing the log
# tail, if the node dies or is not ready within START_TIMEOUT seconds (default 120).
# Re-running it for a node that is already running changes nothing.
#
# Environment: RUN_DIR, START_TIMEOUT, MESHINFER_JAVA_OPTS (JVM options, e.g.
# "-Xmx512m -Dpekko.cluster.split-brain-resolver.stable-after=5s").
#
# Transport security: --tls-dir DIR and --https go to the node like every flag. Without
# --tls-dir, MESHINFER_TLS_DIR (a directory made by scripts/gen-certs.sh) gives the node
# --tls-dir $MESHINFER_TLS_DIR/<name>; MESHINFER_HTTPS=1 adds --https. An HTTPS node's
# readiness is checked trusting MESHINFER_CA_CERT, else ca.crt of its TLS directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUN_DIR="${RUN_DIR:-$ROOT/run}"
START_TIMEOUT="${START_TIMEOUT:-120}"
# start-seed.sh sets this so that a missing --seeds means "form a new cluster".
NO_DEFAULT_SEEDS="${MESHINFER_NO_DEFAULT_SEEDS:-}"

name="" host="" port="" http_port="" seeds="" data_dir="" tls_dir="" https=""
args=("$@")
i=0
while ((i < ${#args[@]})); do
  arg="${args[i]}"
  value=""
  case "$arg" in
    --*=*) value="${arg#*=}"; arg="${arg%%=*}" ;;
    --name | --host | --port | --http-host | --http-port | --seeds | --data-dir | --tls-dir)
      if ((i + 1 >= ${#args[@]})); then
        echo "start-node: $arg needs a value" >&2
        exit 2
      fi
      value="${args[i + 1]}"
      i=$((i + 1))
      ;;
  esac
  case "$arg" in
    --name) name="$value" ;;
    --host) host="$value" ;;
    --port) port="$value" ;;
    --http-port) http_port="$value" ;;
    --seeds) seeds="$value" ;;
    --data-dir) data_dir="$value" ;;
    --tls-dir) tls_dir="$value" ;;
    --https) https=1 ;;
  esac
  i=$((i + 1))
done

extra=()
if [[ -z "$host" ]]; then host="127.0.0.1"; extra+=(--host "$host"); fi
if [[ -z "$port" ]]; then port="25521"; extra+=(--port "$port"); fi
if [[ -z "$http_port" ]]; then http_port="8081"; extra+=(--http-port "$http_port"); fi
if [[ -z "$name" ]]; then name="node-$port"; extra+=(--name "$name"); fi
if [[ -z "$seeds" && -z "$NO_DEFAULT_SEEDS" ]]; then extra+=(--seeds "127.0.0.1:25520"); fi
if [[ ! "$name" =~ ^[A-Za-z0-9._-]+$ ]]; then
  echo "start-node: node name '$name' must be letters, digits, '.', '_' or '-' (it names files)" >&2
  exit 2
fi
if [[ -z "$tls_dir" && -n "${MESHINFER_TLS_DIR:-}" ]]; then
  tls_dir="$MESHINFER_TLS_DIR/$name"
  if [[ ! -f "$tls_dir/tls.crt" ]]; then
    echo "start-node: MESHINFER_TLS_DIR is set but $tls_dir/tls.crt is missing; make it with:" \
      "scripts/gen-certs.sh $MESHINFER_TLS_DIR $name" >&2
    exit 2
  fi
  extra+=(--tls-dir "$tls_dir")
fi
if [[ -z "$https" && "${MESHINFER_HTTPS:-}" =~ ^(1|true|yes|on)$ ]]; then https=1; extra+=(--https); fi
# what curl trusts when it checks an HTTPS node's readiness
curl_tls=()
ca_cert="${MESHINFER_CA_CERT:-}"
if [[ -z "$ca_cert" && -n "$tls_dir" ]]; then ca_cert="$tls_dir/ca.crt"; fi
if [[ -n "$https" && -n "$ca_cert" ]]; then curl_tls=(--cacert "$ca_cert"); fi

mkdir -p "$RUN_DIR"
RUN_DIR="$(cd "$RUN_DIR" && pwd)"
if [[ -z "$data_dir" ]]; then data_dir="$RUN_DIR/data/$name"; extra+=(--data-dir "$data_dir"); fi
mkdir -p "$data_dir"
LOG="$RUN_DIR/$name.log"
PID_FILE="$RUN_DIR/$name.pid"
URL_FILE="$RUN_DIR/$name.url"

# A pid file names a live node only if that process still is one of ours.
is_our_node() {
  local pid="$1"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE -- "--name[= ]$name( |$)"
}

if [[ -f "$PID_FILE" ]]; then
  old_pid="$(cat "$PID_FILE")"
  if is_our_node "$old_pid"; then
    echo "node $name already running (pid $old_pid, $(cat "$URL_FILE" 2>/dev/null || echo "url unknown"))"
    exit 0
  fi
  rm -f "$PID_FILE" "$URL_FILE"
fi

# Build the jar now, in the foreground, so that nodes started together never build it
# at the same time (scripts/meshinfer builds it when missing or older than the sources).
"$ROOT/scripts/meshinfer" --version >/dev/null

log_start=0
if [[ -f "$LOG" ]]; then log_start="$(wc -l <"$LOG")"; fi
{
  echo "===== start-node: $(date -u +%Y-%m-%dT%H:%M:%SZ) meshinfer node $* ${extra[*]}"
} >>"$LOG"
# setsid: the node does not share the caller's process group, so Ctrl-C in the shell that
# started it does not stop it; scripts/local-cluster.sh down (or kill -TERM <pid>) does.
setsid "$ROOT/scripts/meshinfer" node "$@" "${extra[@]}" </dev/null >>"$LOG" 2>&1 &
pid=$!
echo "$pid" >"$PID_FILE"

fail() {
  echo "start-node: $1" >&2
  local first_error
  first_error="$(tail -n +"$((log_start + 1))" "$LOG" | grep -m 1 -E " ERROR |Exception" || true)"
  if [[ -n "$first_error" ]]; then echo "start-node: first error: $first_error" >&2; fi
  echo "----- last lines of $LOG -----" >&2
  tail -n +"$((log_start + 1))" "$LOG" | tail -n 40 >&2
  exit 1
}

deadline=$((SECONDS + START_TIMEOUT))
url=""
while ((SECONDS < deadline)); do
  if ! kill -0 "$pid" 2>/dev/null; then
    rm -f "$PID_FILE"
    fail "node $name (pid $pid) exited before it was ready"
  fi
  if [[ -z "$url" ]]; then
    # The node prints "meshinfer node <name> (region R) serving http://H:Q" once HTTP is bound
    # (this also finds the port when --http-port 0 asked for any free one).
    url="$(tail -n +"$((log_start + 1))" "$LOG" | grep -oE 'serving https?://[^ ]*' | head -n 1 | cut -d' ' -f2 || true)"
  fi
  if [[ -n "$url" ]] && curl ${curl_tls[@]+"${curl_tls[@]}"} -fsS -o /dev/null --max-time 2 "$url/v2/health/ready" \
    2>/dev/null; then
    echo "$url" >"$URL_FILE"
    echo "node $name up: pid $pid, $url, log $LOG"
    exit 0
  fi
  sleep 0.5
done
fail "node $name (pid $pid) not ready within ${START_TIMEOUT}s (it keeps running; stop it with: kill $pid)"

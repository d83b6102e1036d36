#!/usr/bin/env bash
# Restarts meshinfer nodes one at a time, each only once the cluster has settled again.
#
#   scripts/rolling-restart.sh [--mode local|systemd] [--gateway URL] [--ssh] [NODE...]
#
# For each NODE (a node name as `meshinfer status` shows it; none given: every member, the
# cluster's leader last): wait until the cluster is settled, restart the node, then wait
# until its GET /v2/health/ready answers 200 and its GET /v1/cluster shows every member Up
# and reachable (the node among them, not in island mode) and every replica of every
# deployed version (GET /v1/models) ready. A node that does not come back within
# SETTLE_TIMEOUT stops the rolling restart with exit 1, leaving the other nodes untouched.
#
# --mode local (default): nodes started by scripts/local-cluster.sh or start-node.sh, with
#   pid files in $RUN_DIR. SIGTERM (graceful leave), wait for the process to exit, start it
#   again with the same flags and JVM options through start-node.sh; its --seeds become the
#   other members, so a node that founded the cluster rejoins it instead of founding another.
# --mode systemd: systemd instances meshinfer@NODE (deploy/systemd/meshinfer@.service):
#   `systemctl restart meshinfer@NODE` (SIGTERM, graceful leave, start) on this machine, or
#   with --ssh on the node's host (the host of its HTTP address in /v1/cluster).
# --gateway URL: a node to ask about the cluster (default in local mode: the first live node
#   in $RUN_DIR).
#
# Environment: RUN_DIR (local mode, default run/), SETTLE_TIMEOUT (seconds per node, default
# 300), STOP_TIMEOUT (local mode: seconds before a node that does not exit gets SIGKILL,
# default 100), SYSTEMCTL (default "systemctl"; e.g. "sudo systemctl"), SSH_USER.
# Needs curl and jq.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export RUN_DIR="${RUN_DIR:-$ROOT/run}"
SETTLE_TIMEOUT="${SETTLE_TIMEOUT:-300}"
STOP_TIMEOUT="${STOP_TIMEOUT:-100}"
SYSTEMCTL="${SYSTEMCTL:-systemctl}"

usage() {
  sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

die() {
  echo "rolling-restart: $*" >&2
  exit 1
}

mode="local" gateway="" use_ssh=0
nodes=()
while (($# > 0)); do
  case "$1" in
    --mode) mode="${2:-}"; shift 2 || usage ;;
    --mode=*) mode="${1#*=}"; shift ;;
    --gateway) gateway="${2:-}"; shift 2 || usage ;;
    --gateway=*) gateway="${1#*=}"; shift ;;
    --ssh) use_ssh=1; shift ;;
    -h | --help) sed -n '2,30p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) nodes+=("$1"); shift ;;
  esac
done
[[ "$mode" == "local" || "$mode" == "systemd" ]] || usage
for tool in curl jq; do
  command -v "$tool" >/dev/null || die "needs $tool"
done

started=$SECONDS
log() {
  printf '[%4ds] %s\n' "$((SECONDS - started))" "$*"
}

# The pid in a local node's pid file, if that process is alive and still that node.
live_pid() {
  local name="$1" pid
  pid="$(cat "$RUN_DIR/$name.pid" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE -- "--name[= ]$name( |$)"; then
    echo "$pid"
  fi
}

if [[ -z "$gateway" ]]; then
  [[ "$mode" == "local" ]] || die "--gateway URL is required with --mode $mode"
  shopt -s nullglob
  for url_file in "$RUN_DIR"/*.url; do
    if [[ -n "$(live_pid "$(basename "$url_file" .url)")" ]]; then
      gateway="$(cat "$url_file")"
      break
    fi
  done
  shopt -u nullglob
  [[ -n "$gateway" ]] || die "no live node in $RUN_DIR (start one with scripts/local-cluster.sh up 3)"
fi
gateway="${gateway%/}"

cluster_json() {
  curl -fsS --max-time 5 "$1/v1/cluster"
}

# Prints "<settled: true|false> <summary>" for the cluster as the node at $1 sees it; $2, if
# given, must be an Up member.
settle_state() {
  local url="$1" name="${2:-}" cluster models
  cluster="$(cluster_json "$url" 2>/dev/null)" || { echo "false no answer from $url/v1/cluster"; return; }
  models="$(curl -fsS --max-time 5 "$url/v1/models" 2>/dev/null)" || { echo "false no answer from $url/v1/models"; return; }
  jq -rn --argjson c "$cluster" --argjson m "$models" --arg node "$name" '
    ([$c.members[] | select(.status == "Up" and .reachable)] | length) as $up
    | ($c.members | length) as $members
    | [$m.models[] | . as $v
        | {desired: $v.replicas,
           ready: ([$c.replicas[] | select(.model == $v.model and .version == $v.version and .ready)
                    | .replica] | unique | length)}] as $versions
    | ([$versions[] | [.ready, .desired] | min] | add // 0) as $ready
    | ([$versions[] | .desired] | add // 0) as $desired
    | (($up == $members) and ($members > 0) and ($ready == $desired) and ($c.islandMode | not)
       and ($node == "" or any($c.members[]; .name == $node and .status == "Up"))) as $ok
    | "\($ok) \($up)/\($members) members Up, \($ready)/\($desired) replicas ready"
      + (if $c.islandMode then ", island mode" else "" end)
      + (if $node != "" and (any($c.members[]; .name == $node) | not) then ", \($node) not a member" else "" end)'
}

# Waits until the node at $1 is ready and sees a settled cluster (with $2 in it, if given).
await_settled() {
  local url="$1" name="${2:-}" label="${3:-cluster}" deadline=$((SECONDS + SETTLE_TIMEOUT)) last="" state
  while true; do
    if curl -fsS -o /dev/null --max-time 3 "$url/v2/health/ready" 2>/dev/null; then
      state="$(settle_state "$url" "$name")"
    else
      state="false $url/v2/health/ready is not 200 yet"
    fi
    if [[ "${state#* }" != "$last" ]]; then
      log "$label: ${state#* }"
      last="${state#* }"
    fi
    [[ "${state%% *}" == "true" ]] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 1 # polling other processes
  done
}

# The HTTP base URL of member $1, from the cluster view $2.
member_url() {
  local http
  http="$(jq -r --arg n "$1" 'first(.members[] | select(.name == $n) | .http) // empty' <<<"$2")"
  if [[ -n "$http" ]]; then
    echo "http://$http"
  elif [[ "$mode" == "local" && -f "$RUN_DIR/$1.url" ]]; then
    cat "$RUN_DIR/$1.url"
  fi
}

restart_local() {
  local name="$1" view="$2" pid
  pid="$(live_pid "$name")"
  [[ -n "$pid" ]] || die "$name: no live process in $RUN_DIR/$name.pid"
  local -a argv=()
  mapfile -d '' argv <"/proc/$pid/cmdline"
  local i jar=-1
  for i in "${!argv[@]}"; do
    if [[ "${argv[$i]}" == "-jar" ]]; then jar=$i; break; fi
  done
  if ((jar <= 0)) || [[ "${argv[$((jar + 2))]:-}" != "node" ]]; then
    die "$name (pid $pid) is not a 'java ... -jar meshinfer.jar node' process"
  fi
  local java_opts="${argv[*]:1:$((jar - 1))}"
  local -a flags=() seeds=()
  local skip=0 a
  for a in "${argv[@]:$((jar + 3))}"; do
    if ((skip)); then skip=0; continue; fi
    case "$a" in
      --seeds) skip=1 ;;
      --seeds=*) ;;
      *) flags+=("$a") ;;
    esac
  done
  mapfile -t seeds < <(jq -r --arg n "$name" '.members[] | select(.name != $n and .status == "Up")
    | .address | sub("^[^@]*@"; "")' <<<"$view")
  log "$name: SIGTERM to pid $pid (graceful leave)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT)) stop_started=$SECONDS
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "$name: still running after ${STOP_TIMEOUT}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    sleep 0.2 # waiting for another process to exit
  done
  log "$name: exited after $((SECONDS - stop_started))s; starting it again"
  if ((${#seeds[@]} > 0)); then
    flags+=(--seeds "$(IFS=,; echo "${seeds[*]}")")
    MESHINFER_JAVA_OPTS="$java_opts" "$ROOT/scripts/start-node.sh" "${flags[@]}" >/dev/null
  else
    MESHINFER_NO_DEFAULT_SEEDS=1 MESHINFER_JAVA_OPTS="$java_opts" "$ROOT/scripts/start-node.sh" "${flags[@]}" >/dev/null
  fi
}

restart_systemd() {
  local name="$1" url="$2" unit="meshinfer@$1.service"
  if ((use_ssh)); then
    local host="${url#http://}"
    host="${host%:*}"
    host="${host#[}"
    host="${host%]}"
    log "$name: ssh $host $SYSTEMCTL restart $unit"
    # shellcheck disable=SC2029 # expanded here on purpose: the remote side runs this command
    ssh -o BatchMode=yes "${SSH_USER:+$SSH_USER@}$host" "$SYSTEMCTL restart $unit"
  else
    log "$name: $SYSTEMCTL restart $unit"
    # shellcheck disable=SC2086 # SYSTEMCTL may be "sudo systemctl"
    $SYSTEMCTL restart "$unit"
  fi
}

view="$(cluster_json "$gateway")" || die "no answer from $gateway/v1/cluster"
if ((${#nodes[@]} == 0)); then
  # every member, the leader (which usually also runs the singletons) last
  mapfile -t nodes < <(jq -r '.leader as $l | [.members[] | {name, last: (.address == $l)}]
    | sort_by(.last) | .[].name' <<<"$view")
fi
((${#nodes[@]} > 0)) || die "no nodes to restart"
for name in "${nodes[@]}"; do
  jq -e --arg n "$name" 'any(.members[]; .name == $n)' <<<"$view" >/dev/null ||
    die "$name is not a member of the cluster $gateway belongs to (members: $(jq -r '[.members[].name] | join(", ")' <<<"$view"))"
done
log "rolling restart ($mode) of ${#nodes[@]} node(s): ${nodes[*]}"

ask="$gateway"
for name in "${nodes[@]}"; do
  await_settled "$ask" "" "before $name" || die "the cluster did not settle within ${SETTLE_TIMEOUT}s; $name not restarted"
  view="$(cluster_json "$ask")" || die "no answer from $ask/v1/cluster"
  url="$(member_url "$name" "$view")"
  [[ -n "$url" ]] || die "$name: no HTTP address in the cluster view"
  node_started=$SECONDS
  case "$mode" in
    local) restart_local "$name" "$view" ;;
    systemd) restart_systemd "$name" "$url" ;;
  esac
  await_settled "$url" "$name" "$name" || die "$name did not come back (ready, cluster settled) within ${SETTLE_TIMEOUT}s; stopping here"
  log "$name: back and the cluster settled, $((SECONDS - node_started))s after its restart began"
  ask="$url"
done
log "rolling restart done: ${nodes[*]}"

#!/usr/bin/env bash
# Measures one node's Open Inference Protocol endpoint with an independent load generator
# (wrk, Debian package "wrk") and with `meshinfer bench run --target http`, alternately,
# against the same node process and the same request body, so the two generators can be
# compared in one run. Each generator's own CPU time is printed beside its numbers.
#
#   scripts/wrk/compare.sh [--model cnn] [--binary] [--concurrency 32] [--seconds 15]
#                          [--warmup-seconds 30] [--rounds 2] [--http-port 18080] [--cluster-port 25590]
#
# The node runs as `meshinfer node` does, with the heap of `bench run --target node` (1g,
# parallel GC) and its log under the work directory printed at the start.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

model=cnn binary="" concurrency=32 seconds=15 warmup=30 rounds=2 http_port=18080 cluster_port=25590
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --binary) binary="--binary"; shift ;;
    --concurrency) concurrency="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    --warmup-seconds) warmup="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --http-port) http_port="$2"; shift 2 ;;
    --cluster-port) cluster_port="$2"; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install -y wrk)" >&2; exit 1; }

for port in "$http_port" "$cluster_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is in use (another node still stopping?): choose --http-port / --cluster-port" >&2
    exit 1
  fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/meshinfer-wrk.XXXXXX")"
url="http://127.0.0.1:$http_port"
echo "work directory $work (node log: $work/node.log)"
MESHINFER_JAVA_OPTS="-Xms512m -Xmx1g -XX:+UseParallelGC -DMESHINFER_LOG_LEVEL=WARN -DMESHINFER_PEKKO_LOG_LEVEL=WARN" \
  scripts/meshinfer node --name wrk-node --host 127.0.0.1 --port "$cluster_port" --http-port "$http_port" \
  --data-dir "$work/data" > "$work/node.log" 2>&1 &
node_pid=$!
trap 'kill "$node_pid" 2>/dev/null; wait "$node_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -sf "$url/v2/health/ready" >/dev/null 2>&1 && break
  kill -0 "$node_pid" 2>/dev/null || { tail -30 "$work/node.log" >&2; exit 1; }
  sleep 0.3 # polling another process's HTTP port
done

scripts/meshinfer bench export --model "$model" --out "$work/$model.onnx"
scripts/meshinfer deploy --gateway "$url" --model "bench-$model" --version 1 --file "$work/$model.onnx"
request="$(scripts/meshinfer bench request --model "$model" $binary --out "$work/body")"
echo "$request"
wrk_args=("$work/body")
if [[ -n "$binary" ]]; then
  wrk_args+=("$(grep -o 'Inference-Header-Content-Length: [0-9]*' <<<"$request" | awk '{print $2}')")
fi

# CPU seconds (user + system) a command used, from GNU time's format
cpu_of() { awk '/^cpu / {print $2 + $3}' "$1"; }

run_wrk() { # $1 seconds, $2 output file
  /usr/bin/time -f "cpu %U %S" -o "$2.time" wrk -t1 -c"$concurrency" -d"$1s" --latency -s scripts/wrk/oip.lua \
    "$url/v2/models/bench-$model/infer" -- "${wrk_args[@]}" > "$2" 2> "$2.errors"
}

echo "warm-up: wrk for ${warmup}s"
run_wrk "$warmup" "$work/warmup.txt"
printf '\n| round | generator | requests/s | p50 | p99 | errors | generator CPU (of one core) |\n|---|---|---:|---:|---:|---:|---:|\n' \
  > "$work/table.md"
for round in $(seq 1 "$rounds"); do
  run_wrk "$seconds" "$work/wrk-$round.txt"
  rps="$(awk '/^Requests\/sec/ {print $2}' "$work/wrk-$round.txt")"
  p50="$(awk '$1 == "50%" {print $2}' "$work/wrk-$round.txt")"
  p99="$(awk '$1 == "99%" {print $2}' "$work/wrk-$round.txt")"
  errors="$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {for (i = 4; i <= NF; i += 2) n += $i} END {print n + 0}' "$work/wrk-$round.txt")"
  echo "| $round | wrk | $rps | $p50 | $p99 | $errors | $(awk -v c="$(cpu_of "$work/wrk-$round.txt.time")" -v s="$seconds" 'BEGIN {printf "%.0f %%", 100 * c / s}') |" \
    >> "$work/table.md"

  scripts/meshinfer bench run --model "$model" \
    --target http --url "$url" --concurrency "$concurrency" --seconds "$seconds" --warmup-seconds 3 $binary \
    --out "$work/bench-$round" > "$work/bench-$round.txt" 2>&1
  field() { awk -v k="\"$1\"" '$1 == k {gsub(/,/, "", $3); print $3; exit}' "$work/bench-$round/report.json"; }
  echo "| $round | meshinfer bench | $(awk -v x="$(field throughput)" 'BEGIN {printf "%.1f", x}') | $(field p50)ms | $(field p99)ms | $(( $(field sent) - $(field ok) )) | $(awk -v s="$(field processCpuShare)" -v n="$(nproc)" 'BEGIN {printf "%.0f %%", 100 * s * n}') |" \
    >> "$work/table.md"
  echo "| $round | raw ONNX Runtime, best batch (bench's JVM, before its run) | $(awk '/^raw best/ {print $3}' "$work/bench-$round.txt") | | | | |" \
    >> "$work/table.md"
done
cat "$work/table.md"
if [[ -n "$(cat "$work"/*.errors 2>/dev/null)" ]]; then
  echo "answers other than 200 under wrk (first of each run):"
  cat "$work"/*.errors
fi
echo "Generator CPU: wrk's process over its whole run, bench's JVM over its measured window, in % of one core."

#!/usr/bin/env bash
# bench/serve.sh: `girder serve` (KServe v2 JSON over HTTP, girder's engine) vs the service a
# team would otherwise write, onnxruntime-node behind Node's http module (bench/serve_ort.js,
# same model file, same JSON request/response format, same thread count), under the same wrk
# load, in one run.
#
# Models: ResNet-18 (FP32 1x3x224x224, 1.6 MB JSON body) and the 6-layer BERT-style encoder
# (INT64 ids 1x128, FP32 1x128x384 answer), the engine benchmark's weights (same generator,
# same seed), re-exported by bench/serve_models.py with an open batch axis (girder serves a
# max_batch_size > 0 model only if dimension 0 is symbolic). One request body per model is
# written once; every request is the same [1,...] shape, so requests can share batches.
#
# Servers, one at a time per model, each warmed up first:
#   peer        node serve_ort.js, ORT intraOpNumThreads=THREADS (one run at a time: ORT-node
#               runs the session on the main thread), no batching
#   girder      threads: 1 (event loop), one instance with threads: THREADS, max_batch_size 0
#   girder+db   the same with max_batch_size: 32, dynamic_batching max_queue_delay_us: DELAY_US
# Same CPU budget: with more CPUs than THREADS each server is pinned (taskset) to the last
# THREADS CPUs and wrk to the others; otherwise nothing is pinned. Before timing, each girder
# answer to the body is compared with the peer's (rtol 1e-3, atol 1e-4); a mismatch stops.
# For each concurrency in CONCS: wrk -t min(2,c) -c c -d DURATION; req/s, p50/p99, requests
# per CPU-second of the server, RSS (median of 0.5 s samples during the run = steady; VmHWM =
# peak so far), girder's mean batch size and engine time per run (from /metrics). Then an overload run with
# OVERLOAD_CONNS connections (default 5 x the largest concurrency), twice, counting every
# status (2xx/503/504/other) and wrk's socket errors, with RSS sampled before and after.
# Last, `girder run MODEL --repeat 20` (pinned like the servers) gives the engine's own latency
# for the c=1 goal. serve_report.py prints the tables, ratios girder/peer and the goals.
#
# Env: GIRDER_BIN (build/src/cli/girder), THREADS (1), DURATION (10s), WARMUP (3s),
#      CONCS ("1 8 32"), MODELS ("resnet18 bert6"), DELAY_US (2000), OVERLOAD_CONNS (5 x max
#      CONCS), OVERLOAD_ROUNDS (2), MODES ("peer girder girder+db"), OUT (bench/out/serve),
#      ENGINE_OUT (bench/out/engine: models used as they are if their batch axis is open).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
GIRDER_BIN=${GIRDER_BIN:-$here/build/src/cli/girder}
THREADS=${THREADS:-1} DURATION=${DURATION:-10s} WARMUP=${WARMUP:-3s}
CONCS=${CONCS:-"1 8 32"} MODELS=${MODELS:-"resnet18 bert6"} DELAY_US=${DELAY_US:-2000}
MODES=${MODES:-"peer girder girder+db"} OVERLOAD_ROUNDS=${OVERLOAD_ROUNDS:-2}
maxc=$(printf '%s\n' $CONCS | sort -n | tail -1)
OVERLOAD_CONNS=${OVERLOAD_CONNS:-$((5 * maxc))}
OUT=${OUT:-$here/bench/out/serve} ENGINE_OUT=${ENGINE_OUT:-$here/bench/out/engine}
PY=/usr/bin/python3
export ORT_NODE_DIR=$here/bench/engine-node

for t in wrk node curl taskset "$GIRDER_BIN"; do
  command -v "$t" >/dev/null || [ -x "$t" ] || { echo "missing: $t (scripts/install-deps.sh --bench)" >&2; exit 1; }
done
$PY -c 'import torch, torchvision' 2>/dev/null ||
  { echo "missing: python3-torch/python3-torchvision (scripts/install-deps.sh --bench)" >&2; exit 1; }
if [ ! -d "$ORT_NODE_DIR/node_modules/onnxruntime-node" ]; then
  echo "serve.sh: npm install onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip)"
  (cd "$ORT_NODE_DIR" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent)
fi

# --- models and bodies ----------------------------------------------------------------------
mkdir -p "$OUT"
batch_open() { # model.onnx -> 0 if the first input's dimension 0 is symbolic
  "$GIRDER_BIN" run "$1" --info 2>/dev/null | awk '/^inputs:/ {getline; print; exit}' |
    grep -q '\[[A-Za-z_]'
}
for m in $MODELS; do
  if [ ! -f "$OUT/$m.onnx" ] && [ -f "$ENGINE_OUT/$m.onnx" ] && batch_open "$ENGINE_OUT/$m.onnx"; then
    ln -sf "$ENGINE_OUT/$m.onnx" "$OUT/$m.onnx"   # the engine's export already has it open
  fi
  if [ ! -f "$OUT/$m.onnx" ] || [ ! -f "$OUT/$m.body.json" ] || [ ! -f "$OUT/$m.input.npy" ]; then
    echo "serve.sh: exporting $m with an open batch axis (bench/serve_models.py)"
    $PY "$here/bench/serve_models.py" "$OUT" "$m" 2>&1 | grep -v -i warn || true
  fi
  batch_open "$OUT/$m.onnx" || { echo "serve.sh: $OUT/$m.onnx has a fixed batch axis" >&2; exit 1; }
done

# --- helpers --------------------------------------------------------------------------------
tmp=$(mktemp -d)
spid=""
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ncpu=$(nproc) hz=$(getconf CLK_TCK)
srv_pin=() wrk_pin=()
if [ "$ncpu" -gt "$THREADS" ]; then
  srv_pin=(taskset -c "$((ncpu - THREADS))-$((ncpu - 1))")
  wrk_pin=(taskset -c "0-$((ncpu - THREADS - 1))")
fi
kb() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
load1() { cut -d' ' -f1 /proc/loadavg; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'; }
metric() { # port name -> value of girder metric NAME (label-free match on model)
  curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 ~ "^"n"\\{" {s += $2} END {print s + 0}'
}
RES=$OUT/results.tsv OVL=$OUT/overload.tsv ENG=$OUT/engine.tsv
: > "$RES"; : > "$OVL"; : > "$ENG"

start_server() { # model mode -> sets spid, port
  local m=$1 mode=$2
  port=$(free_port)
  if [ "$mode" = peer ]; then
    "${srv_pin[@]}" node "$here/bench/serve_ort.js" "127.0.0.1:$port" "$m" "$OUT/$m.onnx" "$THREADS" \
      > "$tmp/server.log" 2>&1 &
  else
    local batching=""
    [ "$mode" = girder+db ] && batching="      max_batch_size: 32
      dynamic_batching:
        max_queue_delay_us: $DELAY_US"
    cat > "$tmp/girder.yaml" <<YAML
listen: 127.0.0.1:$port
threads: 1
log_level: warn
timeouts:
  keepalive_ms: 120s
access_log:
  enabled: false
serving:
  models:
    - name: $m
      path: $OUT/$m.onnx
      instances: 1
      threads: $THREADS
$batching
YAML
    "${srv_pin[@]}" "$GIRDER_BIN" serve --config "$tmp/girder.yaml" > "$tmp/server.log" 2>&1 &
  fi
  spid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/v2/health/ready" >/dev/null 2>&1 && return 0
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  echo "serve.sh: $mode did not start for $m" >&2; cat "$tmp/server.log" >&2; exit 1
}
stop_server() {
  kill "$spid" 2>/dev/null || true
  local rc=0; wait "$spid" 2>/dev/null || rc=$?
  spid=""
  if grep -q -E 'level=(error|fatal)|Error|error' "$tmp/server.log"; then
    echo "serve.sh: $1 logged errors:" >&2; grep -E 'level=(error|fatal)|Error|error' "$tmp/server.log" | head -5 >&2
  fi
  [ "$rc" -eq 0 ] || [ "$rc" -eq 143 ] || echo "serve.sh: $1 exited with status $rc" >&2
}
run_wrk() { # conns duration [COUNT_STATUS] -> RESULT line
  local c=$1 t=$(( $1 < 2 ? $1 : 2 ))
  BODY=$OUT/$m.body.json INFER_PATH=/v2/models/$m/infer COUNT_STATUS=${3:-0} \
    "${wrk_pin[@]}" wrk -t"$t" -c"$c" -d"$2" --timeout 60s -s "$here/bench/serve_wrk.lua" \
    "http://127.0.0.1:$port" | grep '^RESULT' || echo "RESULT wrk_failed=1"
}
wait_idle() { # until the server used < 2 ticks in 0.25 s (work queued by closed connections done); prints seconds waited
  local t0 t1 n=0
  while [ $n -lt 240 ]; do
    t0=$(ticks "$spid"); sleep 0.25; t1=$(ticks "$spid"); n=$((n + 1))
    [ $((t1 - t0)) -lt 2 ] && break
  done
  awk -v n=$n 'BEGIN {printf "%.2f", n * 0.25}'
}
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<< " $1"; }
verify() { # mode: answer to the body equals the peer's
  curl -s -o "$OUT/$m.$1.answer.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "@$OUT/$m.body.json" "http://127.0.0.1:$port/v2/models/$m/infer" > "$tmp/code"
  [ "$(cat "$tmp/code")" = 200 ] || { echo "serve.sh: $1 answered $(cat "$tmp/code")" >&2; exit 1; }
  [ "$1" = peer ] && return 0
  [ -f "$OUT/$m.peer.answer.json" ] || return 0
  $PY - "$OUT/$m.$1.answer.json" "$OUT/$m.peer.answer.json" <<'EOF' || exit 1
import json, sys
import numpy as np
a, b = (json.load(open(p)) for p in sys.argv[1:3])
oa, ob = a["outputs"][0], b["outputs"][0]
x = np.array(oa["data"], np.float32).reshape(oa["shape"])
y = np.array(ob["data"], np.float32).reshape(ob["shape"])
ok = oa["shape"] == ob["shape"] and oa["datatype"] == ob["datatype"] and \
    np.allclose(x, y, rtol=1e-3, atol=1e-4)
print("  verify %s vs peer: shape %s max |diff| %.2e %s" % (
    sys.argv[1].split(".")[-3], oa["shape"], np.abs(x - y).max(), "ok" if ok else "MISMATCH"))
sys.exit(0 if ok else 1)
EOF
}

# --- the runs -------------------------------------------------------------------------------
echo "serve.sh: threads=$THREADS duration=$DURATION concs=($CONCS) delay_us=$DELAY_US" \
  "overload_conns=$OVERLOAD_CONNS cpus=$ncpu server_pin=${srv_pin[*]:-none} wrk_pin=${wrk_pin[*]:-none}"
for m in $MODELS; do
  for mode in $MODES; do
    start_server "$m" "$mode"
    idle=$(kb "$spid" VmRSS)
    verify "$mode"
    run_wrk 8 "$WARMUP" > /dev/null
    wait_idle > /dev/null
    for c in $CONCS; do
      l0=$(load1); t0=$(ticks "$spid")
      b0c=0 b0s=0
      if [ "$mode" != peer ]; then
        b0c=$(metric "$port" girder_inference_batch_size_count); b0s=$(metric "$port" girder_inference_batch_size_sum)
        c0s=$(metric "$port" girder_inference_compute_duration_seconds_sum)
      fi
      ( while kill -0 "$spid" 2>/dev/null; do kb "$spid" VmRSS; sleep 0.5; done ) > "$tmp/rss" &
      sampler=$!
      r=$(run_wrk "$c" "$DURATION")
      kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
      t1=$(ticks "$spid")
      wait_idle > /dev/null
      batch=-
      if [ "$mode" != peer ]; then
        b1c=$(metric "$port" girder_inference_batch_size_count); b1s=$(metric "$port" girder_inference_batch_size_sum)
        batch=$(awk -v c=$((b1c - b0c)) -v s="$b1s" -v s0="$b0s" 'BEGIN {printf "%.2f", c ? (s - s0) / c : 0}')
        # engine ms per run: the compute histogram has one sample per request (its run's time)
        c1s=$(metric "$port" girder_inference_compute_duration_seconds_sum)
        batch="$batch/$(awk -v c=$((b1c - b0c)) -v s="$c1s" -v s0="$c0s" -v b="$batch" \
          'BEGIN {printf "%.1f", c ? (s - s0) / c * 1000 : 0}')"
      fi
      cpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" 'BEGIN {printf "%.2f", t / hz}')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$m" "$mode" "$c" "$(field "$r" rps)" "$(field "$r" p50_us)" "$(field "$r" p99_us)" \
        "$(field "$r" max_us)" "$(field "$r" requests)" "$(field "$r" connect)" "$(field "$r" read)" \
        "$(field "$r" write)" "$(field "$r" timeout)" "$(field "$r" non2xx)" "$cpu" \
        "$(median < "$tmp/rss")" "$(kb "$spid" VmHWM)" "$batch" "$idle" "$l0/$(load1)" >> "$RES"
      printf '  %-8s %-9s c=%-3s %8s req/s  p50 %7.1f ms  p99 %7.1f ms  errors c/r/w/t %s/%s/%s/%s non2xx %s  load %s\n' \
        "$m" "$mode" "$c" "$(field "$r" rps)" "$(awk -v u="$(field "$r" p50_us)" 'BEGIN{print u/1000}')" \
        "$(awk -v u="$(field "$r" p99_us)" 'BEGIN{print u/1000}')" "$(field "$r" connect)" \
        "$(field "$r" read)" "$(field "$r" write)" "$(field "$r" timeout)" "$(field "$r" non2xx)" "$(load1)"
    done
    for round in $(seq "$OVERLOAD_ROUNDS"); do
      before=$(kb "$spid" VmRSS)
      r=$(run_wrk "$OVERLOAD_CONNS" "$DURATION" 1)
      drain=$(wait_idle)
      after=$(kb "$spid" VmRSS)
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$m" "$mode" "$OVERLOAD_CONNS" "$round" "$(field "$r" requests)" "$(field "$r" s2xx)" \
        "$(field "$r" s503)" "$(field "$r" s504)" "$(field "$r" sother)" "$(field "$r" connect)" \
        "$(field "$r" read)" "$(field "$r" write)" "$(field "$r" timeout)" "$before" "$after" \
        "$(field "$r" p99_us)" "$(field "$r" rps)" "$(load1)" "$drain" >> "$OVL"
      echo "  $m $mode overload c=$OVERLOAD_CONNS round $round: $r rss ${before}->${after} kB, busy ${drain} s after wrk stopped"
    done
    # still answering, and still the same answer, after the overload
    verify "$mode"
    stop_server "$mode"
  done
  # the engine's own latency, pinned like the servers
  e=$("${srv_pin[@]}" "$GIRDER_BIN" run "$OUT/$m.onnx" --input "input=$OUT/$m.input.npy" \
      --threads "$THREADS" --repeat 20 | sed -n 's/.*min=\([0-9.]*\) median=\([0-9.]*\).*/\1\t\2/p')
  printf '%s\t%s\n' "$m" "$e" >> "$ENG"
  echo "  $m engine (girder run --repeat 20): min/median $(tr '\t' / <<< "$e") ms"
done
$PY "$here/bench/serve_report.py" "$OUT" "$THREADS"

#!/usr/bin/env bash
# bench/engine.sh: girder's ONNX engine vs ONNX Runtime (onnxruntime-node, CPU) on the same
# .onnx files with the same thread count, side by side in one run.
#
# Models (generated once into $OUT with Debian's python3-torch/torchvision, random weights,
# fixed seed): ResNet-18 and MobileNetV2 (1x3x224x224) and a 6-layer BERT-style encoder
# (hidden 384, 12 heads, sequence 128). For each: one warm-up then REPEAT timed runs in each
# engine (alternating engines per round to spread machine noise), outputs compared
# (rtol 1e-3, atol 1e-4), peak RSS of each process. Prints min/median latency, the ratios
# girder/ORT of the mins and of the medians (< 1 means girder is faster; on a busy machine
# the min is the steadier figure) and fails if the outputs disagree.
#
# Env: GIRDER_BIN (default build/src/cli/girder), THREADS (1), REPEAT (10), ROUNDS (2),
#      OUT (bench/out/engine), MODELS ("resnet18 mobilenetv2 bert6").
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
GIRDER_BIN=${GIRDER_BIN:-$here/build/src/cli/girder}
THREADS=${THREADS:-1} REPEAT=${REPEAT:-10} ROUNDS=${ROUNDS:-2}
OUT=${OUT:-$here/bench/out/engine}
MODELS=${MODELS:-"resnet18 mobilenetv2 bert6"}
PY=/usr/bin/python3
export ORT_NODE_DIR=$here/bench/engine-node

[ -x "$GIRDER_BIN" ] || { echo "missing: $GIRDER_BIN (make build)" >&2; exit 1; }
$PY -c 'import torch, torchvision' 2>/dev/null ||
  { echo "missing: python3-torch/python3-torchvision (scripts/install-deps.sh --bench)" >&2; exit 1; }
if [ ! -d "$ORT_NODE_DIR/node_modules/onnxruntime-node" ]; then
  echo "engine.sh: npm install onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip)"
  (cd "$ORT_NODE_DIR" && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent)
fi
mkdir -p "$OUT"
for m in $MODELS; do
  [ -f "$OUT/$m.onnx" ] || { $PY "$here/bench/engine_models.py" "$OUT" 2>&1 | grep -v -i warn; break; }
done

# latency line "latency_ms runs=N min=X median=Y" -> "X Y"
lat() { sed -n 's/.*min=\([0-9.]*\) median=\([0-9.]*\).*/\1 \2/p'; }
rss() { sed -n 's/^maxrss_kb=//p' "$1" | tail -1; }

printf '\nthreads=%s repeat=%s rounds=%s host_cpus=%s\n' "$THREADS" "$REPEAT" "$ROUNDS" "$(nproc)"
printf '%-12s %11s %11s %11s %11s %9s %9s %9s %9s %7s\n' model girder_min girder_med ort_min \
  ort_med ratio_min ratio_med max_diff girder_MB ort_MB
status=0
for m in $MODELS; do
  gbest="" obest=""
  for r in $(seq "$ROUNDS"); do
    g=$(/usr/bin/time -f 'maxrss_kb=%M' -o "$OUT/$m.g.time" "$GIRDER_BIN" run "$OUT/$m.onnx" \
        --input "input=$OUT/$m.input.npy" --threads "$THREADS" --repeat "$REPEAT" \
        --output-dir "$OUT/girder_$m" | lat)
    o=$(/usr/bin/time -f 'maxrss_kb=%M' -o "$OUT/$m.o.time" node "$here/bench/engine_ort.js" \
        "$OUT/$m.onnx" "$OUT/$m.input.npy" "$OUT/ort_$m.npy" "$THREADS" "$REPEAT" | lat)
    # keep the round with the best median for each engine
    if [ -z "$gbest" ] || awk -v a="${g#* }" -v b="${gbest#* }" 'BEGIN{exit !(a<b)}'; then gbest=$g; fi
    if [ -z "$obest" ] || awk -v a="${o#* }" -v b="${obest#* }" 'BEGIN{exit !(a<b)}'; then obest=$o; fi
  done
  diff=$($PY -c "
import numpy as np, sys
a = np.load('$OUT/girder_$m/output.npy'); b = np.load('$OUT/ort_$m.npy')
ok = a.shape == b.shape and np.allclose(a, b, rtol=1e-3, atol=1e-4)
print(('%.2e' % np.abs(a - b).max()) if a.shape == b.shape else 'shape', 'ok' if ok else 'MISMATCH')")
  case $diff in *MISMATCH*) status=1 ;; esac
  ratio=$(awk -v a="${gbest#* }" -v b="${obest#* }" 'BEGIN{printf "%.2f", a/b}')
  rmin=$(awk -v a="${gbest% *}" -v b="${obest% *}" 'BEGIN{printf "%.2f", a/b}')
  printf '%-12s %11s %11s %11s %11s %9s %9s %9s %9s %7s\n' "$m" "${gbest% *}" "${gbest#* }" \
    "${obest% *}" "${obest#* }" "$rmin" "$ratio" "${diff% *}" \
    "$(( $(rss "$OUT/$m.g.time") / 1024 ))" "$(( $(rss "$OUT/$m.o.time") / 1024 ))"
done
echo "(latencies in ms; ratio_* = girder / ORT, < 1 means girder is faster; max_diff = max |girder - ORT|)"
[ $status -eq 0 ] || echo "engine.sh: outputs disagree beyond tolerance" >&2
exit $status

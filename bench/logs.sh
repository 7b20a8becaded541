#!/usr/bin/env bash
# bench/logs.sh: `girder logs` on the Loghub-2k datasets.
#   1. grouping accuracy per dataset and mean (bench/logs_accuracy.py --table: settings.tsv
#      configs and default settings; --final, streaming and remapped streaming ids), then the
#      same on synthetic logs with known templates (bench/logs_synth.py) and the checks on
#      this machine's real logs and nginx/redis logs (bench/logs_real.sh)
#   2. parse throughput: lines/s of `girder logs parse` on one core (taskset), on each 2k file
#      repeated to REPEAT x 2000 lines, JSON output to /dev/null; CPU time is reported too
#      because wall time on a shared machine includes waiting for the core
#   3. compression (bench/logs_compress.sh, helper G) when present
# usage: bench/logs.sh [GIRDER_BIN] [DATA_DIR]   (env: REPEAT=500, ONLY=HDFS,BGL)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
girder=${1:-$root/build/src/cli/girder}
data=${2:-$root/../shared/data/loghub-2k}
repeat=${REPEAT:-500}
py=/usr/bin/python3
[ -x "$girder" ] || { echo "no girder binary at $girder (make build)"; exit 1; }
[ -f "$data/settings.tsv" ] || { echo "no Loghub-2k data at $data"; exit 1; }

echo "== grouping accuracy (Loghub-2k: reference = settings.tsv, default = format only)"
$py "$root/bench/logs_accuracy.py" "$girder" "$data" --table || true
synth=$(mktemp -d)
$py "$root/bench/logs_synth.py" "$synth"
echo
echo "== grouping accuracy, synthetic logs (bench/logs_synth.py, default settings)"
$py "$root/bench/logs_accuracy.py" "$girder" "$synth" --table || true
rm -rf "$synth"
echo
echo "== real logs (bench/logs_real.sh): no truth; remap == final, nginx access log = 1 template"
"$root/bench/logs_real.sh" "$girder" || true

echo
echo "== parse throughput, one core: each 2k file x $repeat, JSON lines to /dev/null"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"
printf '%-12s %10s %8s %8s %12s %12s\n' dataset lines wall_s cpu_s lines/s_wall lines/s_cpu
grep -v '^#' "$data/settings.tsv" | while IFS=$'\t' read -r name fmt masks sim depth; do
    [ -n "${ONLY:-}" ] && [[ ",$ONLY," != *",$name,"* ]] && continue
    src="$data/$name/${name}_2k.log"
    big="$tmp/$name.log"
    for ((i = 0; i < repeat; i++)); do cat "$src"; [ -n "$(tail -c1 "$src")" ] && echo; done > "$big"
    lines=$(wc -l < "$big")
    args=(--format "$fmt" --sim "$sim" --depth "$depth")
    if [ -n "$masks" ]; then
        while IFS= read -r m; do args+=(--mask "$m"); done < <(printf '%s\n' "$masks" | sed 's/ ;; /\n/g')
    fi
    $pin /usr/bin/time -f "%e %U" -o "$tmp/time" "$girder" logs parse "${args[@]}" "$big" > /dev/null
    read -r wall cpu < "$tmp/time"
    awk -v n="$name" -v l="$lines" -v w="$wall" -v c="$cpu" 'BEGIN {
        printf "%-12s %10d %8.2f %8.2f %12.0f %12.0f\n", n, l, w, c, l / (w > 0 ? w : 0.01), l / (c > 0 ? c : 0.01) }'
    rm -f "$big"
done

if [ -x "$root/bench/logs_compress.sh" ]; then
    echo
    "$root/bench/logs_compress.sh" "$girder" "$data"
fi

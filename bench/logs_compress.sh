#!/usr/bin/env bash
# bench/logs_compress.sh: lossless compression of the Loghub-2k files, side by side.
# For each dataset (settings.tsv configuration): girder archive size vs `xz -9e` and
# `zstd -19 --long`, ratios (input/output), girder's gain over xz, round trip verified byte for
# byte (decompress + cmp) and grep checked against `grep -F`. Then speed on a bigger input
# (the HDFS file repeated REPEAT times): compress/decompress MB/s and grep vs zstd -dc | grep.
# usage: bench/logs_compress.sh [GIRDER_BIN] [DATA_DIR]   (env: REPEAT=50)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
girder=${1:-$root/build/src/cli/girder}
data=${2:-$root/../shared/data/loghub-2k}
repeat=${REPEAT:-50}
[ -x "$girder" ] || { echo "no girder binary at $girder (make build)"; exit 1; }
[ -f "$data/settings.tsv" ] || { echo "no Loghub-2k data at $data"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

settings_args() { # fmt masks sim depth -> args in the global array a
    a=(--format "$1" --sim "$3" --depth "$4")
    if [ -n "$2" ]; then
        while IFS= read -r m; do a+=(--mask "$m"); done < <(printf '%s\n' "$2" | sed 's/ ;; /\n/g')
    fi
}

echo "== compression ratio (input bytes / output bytes), round trip verified"
printf '%-12s %9s %9s %7s %9s %7s %9s %7s %8s %5s %5s\n' dataset input girder ratio \
    'xz -9e' ratio 'zstd-19L' ratio vs_xz rt grep
fails=0
grep -v '^#' "$data/settings.tsv" | {
while IFS=$'\t' read -r name fmt masks sim depth; do
    src="$data/$name/${name}_2k.log"
    settings_args "$fmt" "$masks" "$sim" "$depth"
    "$girder" logs compress "${a[@]}" "$src" -o "$tmp/a.gla"
    "$girder" logs decompress "$tmp/a.gla" -o "$tmp/a.out"
    rt=ok; cmp -s "$tmp/a.out" "$src" || { rt=FAIL; fails=$((fails + 1)); }
    g=ok
    for p in INFO error ': ' 1 "$(sed -n 1000p "$src" | cut -c20-27)"; do
        [ -z "$p" ] && continue
        a1=$("$girder" logs grep -- "$p" "$tmp/a.gla" | md5sum) || true
        a2=$(LC_ALL=C grep -F -a -- "$p" "$src" | md5sum) || true
        [ "$a1" == "$a2" ] || { g=FAIL; fails=$((fails + 1)); }
    done
    in=$(stat -c %s "$src"); gs=$(stat -c %s "$tmp/a.gla")
    xs=$(xz -9e -c "$src" | wc -c); zs=$(zstd -q -19 --long -c "$src" | wc -c)
    awk -v n="$name" -v i="$in" -v g="$gs" -v x="$xs" -v z="$zs" -v rt="$rt" -v gr="$g" 'BEGIN {
        printf "%-12s %9d %9d %7.2f %9d %7.2f %9d %7.2f %7.3fx %5s %5s\n",
               n, i, g, i / g, x, i / x, z, i / z, x / g, rt, gr }'
    echo "$name $in $gs $xs $zs" >> "$tmp/sum"
done
awk '{ i += $2; g += $3; x += $4; z += $5; gm += log($4 / $3); n++ } END {
    printf "%-12s %9d %9d %7.2f %9d %7.2f %9d %7.2f %7.3fx  (geo-mean gain over xz %.3fx)\n",
           "total", i, g, i / g, x, i / x, z, i / z, x / g, exp(gm / n) }' "$tmp/sum"
[ "$fails" -eq 0 ] || { echo "round-trip or grep failures: $fails"; exit 1; }
}

echo
echo "== speed: HDFS x $repeat, CPU seconds (user+sys, pipelines included; wall time on a"
echo "   shared machine mostly measures waiting for a core)"
src="$data/HDFS/HDFS_2k.log"
for ((i = 0; i < repeat; i++)); do cat "$src"; done > "$tmp/big.log"
settings_args "$(awk -F'\t' '$1 == "HDFS" { print $2 }' "$data/settings.tsv")" \
    "$(awk -F'\t' '$1 == "HDFS" { print $3 }' "$data/settings.tsv")" 0.5 4
mb=$(awk -v b="$(stat -c %s "$tmp/big.log")" 'BEGIN { printf "%.1f", b / 1048576 }')
t() { /usr/bin/time -f '%U %S' -o "$tmp/t" "$@" > /dev/null || true
      awk '/^[0-9.]+ [0-9.]+$/ { printf "%.2f", $1 + $2 }' "$tmp/t"; }
id=$(grep -o 'blk_-\?[0-9]*' "$src" | sed -n 777p)
tc=$(t "$girder" logs compress "${a[@]}" "$tmp/big.log" -o "$tmp/big.gla")
td=$(t "$girder" logs decompress "$tmp/big.gla" -o "$tmp/big.out")
cmp -s "$tmp/big.out" "$tmp/big.log" || { echo "big round trip FAILED"; exit 1; }
zstd -q -19 --long -c "$tmp/big.log" > "$tmp/big.zst"
tz=$(t sh -c "zstd -q -19 --long -c '$tmp/big.log'")
tg=$(t "$girder" logs grep $id "$tmp/big.gla")
tzg=$(t sh -c "zstd -q -dc '$tmp/big.zst' | LC_ALL=C grep -F $id")
tgi=$(t "$girder" logs grep 'Receiving block' "$tmp/big.gla")
tzgi=$(t sh -c "zstd -q -dc '$tmp/big.zst' | LC_ALL=C grep -F 'Receiving block'")
printf 'input %s MB: girder %d bytes (ratio %.1f), zstd -19 --long %d bytes (ratio %.1f)\n' "$mb" \
    "$(stat -c %s "$tmp/big.gla")" "$(awk -v a="$(stat -c %s "$tmp/big.log")" -v b="$(stat -c %s "$tmp/big.gla")" 'BEGIN{print a/b}')" \
    "$(stat -c %s "$tmp/big.zst")" "$(awk -v a="$(stat -c %s "$tmp/big.log")" -v b="$(stat -c %s "$tmp/big.zst")" 'BEGIN{print a/b}')"
echo "compress:   girder ${tc}s  zstd -19 --long ${tz}s"
echo "decompress: girder ${td}s (verified)"
echo "grep $id: girder ${tg}s   zstd -dc | grep -F ${tzg}s"
echo "grep template text: girder ${tgi}s   zstd -dc | grep -F ${tzgi}s"

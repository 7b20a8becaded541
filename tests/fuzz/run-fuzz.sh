#!/usr/bin/env bash
# run-fuzz.sh FUZZER CORPUS SECONDS: runs a libFuzzer driver for a bounded time, starting
# from a copy of the checked-in corpus (the copy keeps new inputs out of the source tree).
# libFuzzer's progress lines go to a log, so that a long run cannot push the report out of
# what CI shows. On a failure, the report and each finding (base64) are printed, and the
# finding is kept in the working directory as fuzz-finding-*.
# The seed is fixed (FUZZ_SEED, default 1) so that a run of the suite is repeatable and a
# finding reproduces with the same command; FUZZ_SEED=0 lets libFuzzer pick one.
set -uo pipefail
fuzzer=$1 corpus=$2 seconds=$3 seed=${FUZZ_SEED:-1}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/findings"
cp -r "$corpus"/. "$work/corpus"/
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -seed="$seed" \
    -artifact_prefix="$work/findings/" "$work/corpus" >"$work/log" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then
    grep -E '^(INFO: Seed|Done|stat::number_of_executed_units|stat::new_units_added)' "$work/log"
    exit 0
fi
echo "fuzzer $(basename "$fuzzer") failed with exit code $rc; the end of its log:"
grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|RELOAD|pulse)|^[[:space:]]+NEW_FUNC' "$work/log" | tail -n 120
for f in "$work/findings"/*; do
    [ -f "$f" ] || continue
    name=fuzz-finding-$(basename "$f")
    cp "$f" "$name"
    echo "finding $name, $(stat -c %s "$f") bytes, base64:"
    base64 -w 0 "$f"
    echo
done
exit "$rc"

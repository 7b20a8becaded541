#!/usr/bin/env bash
# run-fuzz.sh FUZZER CORPUS SECONDS: runs a libFuzzer driver for a bounded time, starting
# from a copy of the checked-in corpus (the copy keeps new inputs out of the source tree).
set -euo pipefail
fuzzer=$1 corpus=$2 seconds=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$corpus"/. "$work"/
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$work"

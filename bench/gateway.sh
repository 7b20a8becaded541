#!/usr/bin/env bash
# bench/gateway.sh: the LLM gateway side by side with its peers, in one run.
#
# Upstream: nginx serving a canned chat completion and a canned 50-event SSE stream (plus a
# slow variant that sends the first event and then trickles, for idle-stream counts).
# Targets, all on loopback at the same concurrency, in alternating rounds:
#   direct   wrk -> upstream nginx
#   girder   wrk -> girder serve (gateway alias -> upstream)
#   nginx    wrk -> nginx proxy_pass with an upstream keepalive pool (the proxy floor)
#   portkey  wrk -> @portkey-ai/gateway on Node (x-portkey-custom-host -> upstream)
# Prints req/s (median of rounds) and p50/p99 latency for the JSON and the SSE workloads,
# the added latency over direct at a paced ~1,000 req/s, each proxy's RSS after load, and
# girder's and Portkey's RSS while OPEN_STREAMS SSE streams are held open at once, and
# SETTLE seconds after they closed.
#
# Cheap-upstream case (CHEAP=1, the default; ONLY_CHEAP=1 runs nothing else): the upstream is
# nginx `return 200` with the canned answers in the config (no file I/O), its own process
# with 1 worker; nginx proxy_pass with a keepalive pool in a second process, 1 worker;
# girder --threads 1 with the access log off, through its own HTTP/1.1 client and, for
# comparison, through libcurl (`client: curl`); haproxy (nbthread 1, http-reuse always) as a
# second proxy floor, its own process; wrk -t1 -c$CHEAP_CONNS (32), JSON and SSE.
#
# Env: GIRDER_BIN (build/src/cli/girder), ROUNDS (3), DURATION (5s), CONNS (64),
#      GIRDER_CLIENT (auto; curl: the static-file and stream cases through libcurl),
#      CHEAP (1), ONLY_CHEAP (0), CHEAP_CONNS (32),
#      PORTKEY_SSE (0), OPEN_STREAMS (5000; 0 skips them), SETTLE (7), ONLY_STREAMS (0; 1
#      skips the load rounds), PORTKEY (1: include Portkey; installed on first use with
#      NODE_ENV=production into bench/out/portkey, not tests/node), TLS (1: the https://
#      upstream case, bench/gateway_tls.sh; TLS_STREAMS (2000) open streams there).
# Only the https case: CHEAP=0 ONLY_STREAMS=1 OPEN_STREAMS=0 PORTKEY=0 bench/gateway.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
GIRDER_BIN=${GIRDER_BIN:-$here/build/src/cli/girder}
ROUNDS=${ROUNDS:-3} DURATION=${DURATION:-5s} CONNS=${CONNS:-64}
OPEN_STREAMS=${OPEN_STREAMS:-5000} PORTKEY=${PORTKEY:-1} SETTLE=${SETTLE:-7}
PY=/usr/bin/python3
for t in wrk nginx "$GIRDER_BIN"; do
  command -v "$t" >/dev/null || [ -x "$t" ] || { echo "missing: $t" >&2; exit 1; }
done
[ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx || NGINX=$(command -v nginx)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

PK_DIR=$here/bench/out/portkey
if [ "$PORTKEY" = 1 ] && [ ! -f "$PK_DIR/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
  mkdir -p "$PK_DIR"
  [ -f "$PK_DIR/package.json" ] || echo '{"private": true}' > "$PK_DIR/package.json"
  (cd "$PK_DIR" && NODE_ENV=production npm install --no-audit --no-fund --silent \
     @portkey-ai/gateway@1.15.2) || { echo "portkey install failed: skipping it" >&2; PORTKEY=0; }
fi

tmp=$(mktemp -d); chmod 755 "$tmp"  # nginx workers (nobody) read the canned files
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$tmp"/girder*.log; do # warnings (a non-2xx says why here)
    [ -s "$f" ] && { echo "== $(basename "$f"), last lines:"; tail -5 "$f"; } >&2
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
UP=$(free_port); NPX=$(free_port); GW=$(free_port); PK=$(free_port)
CUP=$(free_port); CPX=$(free_port); CGW=$(free_port); CHA=$(free_port)
CHEAP=${CHEAP:-1} CHEAP_CONNS=${CHEAP_CONNS:-32}
GIRDER_CLIENT=${GIRDER_CLIENT:-auto} # the main (static-file) case: auto (own client) or curl

# ---- canned upstream answers ----
$PY - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
chat = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
        "model": "bench-model", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "The quick brown fox jumps over the lazy dog."}}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22}}
events = []
for i in range(50):
    c = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
         "model": "bench-model", "choices": [{"index": 0, "delta": {"content": "tok%02d " % i},
         "finish_reason": None}]}
    events.append("data: " + json.dumps(c, separators=(",", ":")) + "\n\n")
events.append("data: [DONE]\n\n")
import os
os.makedirs(d + "/files", exist_ok=True)
open(d + "/files/chat.json", "w").write(json.dumps(chat, separators=(",", ":")))
open(d + "/files/sse.txt", "w").write("".join(events))
open(d + "/body.json", "w").write(json.dumps(
    {"model": "bench", "messages": [{"role": "user", "content": "Say something."}]}))
open(d + "/body_sse.json", "w").write(json.dumps(
    {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "Say something."}]}))
PY
chmod -R a+rX "$tmp/files"

nginx_conf() { # name server-blocks
  mkdir -p "$tmp/$1/logs"
  cat > "$tmp/$1/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/$1/nginx.pid;
error_log $tmp/$1/logs/error.log crit;
worker_rlimit_nofile 40000;
events { worker_connections 30000; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $tmp/$1/body;
  proxy_temp_path $tmp/$1/proxy;
  fastcgi_temp_path $tmp/$1/fastcgi;
  uwsgi_temp_path $tmp/$1/uwsgi;
  scgi_temp_path $tmp/$1/scgi;
  $2
}
CONF
  $NGINX -p "$tmp/$1" -c "$tmp/$1/nginx.conf" & pids+=($!)
}
# Static files answer POSTs through error_page 405 (an internal redirect to a GET).
nginx_conf upstream "server { listen 127.0.0.1:$UP backlog=8192;
    types { application/json json; text/event-stream txt; }
    location = /v1/chat/completions { error_page 405 =200 /files/chat.json; return 405; }
    location = /sse/v1/chat/completions { error_page 405 =200 /files/sse.txt; return 405; }
    location = /slow/v1/chat/completions { error_page 405 =200 /slow/sse.txt; return 405; }
    location /files/ { internal; root $tmp; }
    location = /slowjson/v1/chat/completions { error_page 405 =200 /slowj/chat.json; return 405; }
    location /slow/ { internal; alias $tmp/files/; limit_rate_after 1500; limit_rate 1; }
    location /slowj/ { internal; alias $tmp/files/; limit_rate_after 16; limit_rate 1; } }"
nginx_conf proxy "upstream gdup { server 127.0.0.1:$UP; keepalive 256; }
  server { listen 127.0.0.1:$NPX backlog=8192;
    location / { proxy_pass http://gdup; proxy_http_version 1.1;
      proxy_set_header Connection \"\"; proxy_buffering off; } }"

cat > "$tmp/girder.yaml" <<YAML
listen: 127.0.0.1:$GW
threads: 1
log_level: warn
timeouts: {keepalive_ms: 300s}
access_log: {enabled: false}
providers:
  - {name: up, base_url: "http://127.0.0.1:$UP/v1", max_connections: 1024, client: $GIRDER_CLIENT}
  - {name: upsse, base_url: "http://127.0.0.1:$UP/sse/v1", max_connections: 1024, client: $GIRDER_CLIENT}
  - {name: upslow, base_url: "http://127.0.0.1:$UP/slow/v1", max_connections: 20000,
     timeout_ms: 3600000, first_byte_timeout_ms: 3600000, client: $GIRDER_CLIENT}
  - {name: upslowj, base_url: "http://127.0.0.1:$UP/slowjson/v1", max_connections: 20000,
     timeout_ms: 3600000, first_byte_timeout_ms: 3600000, client: $GIRDER_CLIENT}
models:
  - {alias: bench, deployments: [{provider: up, model: bench-model}]}
  - {alias: bench-sse, deployments: [{provider: upsse, model: bench-model}]}
  - {alias: bench-slow, deployments: [{provider: upslow, model: bench-model}]}
  - {alias: bench-slowjson, deployments: [{provider: upslowj, model: bench-model}]}
YAML
"$GIRDER_BIN" serve --config "$tmp/girder.yaml" 2> "$tmp/girder.log" & pids+=($!); GPID=$!
if [ "$PORTKEY" = 1 ]; then
  (cd "$PK_DIR" && NODE_ENV=production exec node node_modules/@portkey-ai/gateway/build/start-server.js \
     --port="$PK" --headless > "$tmp/portkey.log" 2>&1) & pids+=($!); PKPID=$!
fi
wait_port() { for _ in $(seq 100); do $PY -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; exit 1; }
wait_port "$UP"; wait_port "$NPX"; wait_port "$GW"; [ "$PORTKEY" = 1 ] && wait_port "$PK"

# ---- wrk scripts: the same POST for every target (Portkey needs its routing headers) ----
lua() { # file body-file extra-headers-lua delay-ms
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = io.open("$2"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
$3
$( [ -n "${4:-}" ] && echo "function delay() return $4 end" )
LUA
}
PKH='wrk.headers["x-portkey-provider"] = "openai"
wrk.headers["x-portkey-custom-host"] = "http://127.0.0.1:'$UP'/v1"'
PKH_SSE='wrk.headers["x-portkey-provider"] = "openai"
wrk.headers["x-portkey-custom-host"] = "http://127.0.0.1:'$UP'/sse/v1"'
lua "$tmp/json.lua" "$tmp/body.json" ""
lua "$tmp/json_pk.lua" "$tmp/body.json" "$PKH"
lua "$tmp/sse.lua" "$tmp/body_sse.json" ""
sed 's/"model": "bench"/"model": "bench-sse"/' "$tmp/body_sse.json" > "$tmp/body_sse_gw.json"
lua "$tmp/sse_gw.lua" "$tmp/body_sse_gw.json" ""
lua "$tmp/sse_pk.lua" "$tmp/body_sse.json" "$PKH_SSE"
lua "$tmp/paced.lua" "$tmp/body.json" "" 10
lua "$tmp/paced_pk.lua" "$tmp/body.json" "$PKH" 10

url() { case $1 in direct) echo "http://127.0.0.1:$UP";; girder) echo "http://127.0.0.1:$GW";;
  nginx) echo "http://127.0.0.1:$NPX";; portkey) echo "http://127.0.0.1:$PK";; esac; }
targets=(direct girder nginx); [ "$PORTKEY" = 1 ] && targets+=(portkey)
script_for() { # workload target
  case "$1:$2" in
    json:portkey) echo json_pk;; json:*) echo json;;
    sse:portkey) echo sse_pk;; sse:girder) echo sse_gw;; sse:*) echo sse;;
    paced:portkey) echo paced_pk;; paced:*) echo paced;;
  esac
}
path_for() { # workload target: direct and nginx reach the SSE answer by its own path
  case "$1:$2" in sse:direct|sse:nginx) echo /sse/v1/chat/completions;; *) echo /v1/chat/completions;; esac
}

run_wrk() { # workload target conns duration -> "rps p50_us p99_us"
  local s; s=$(script_for "$1" "$2")
  wrk -t1 -c"$3" -d"$4" --latency -s "$tmp/$s.lua" "$(url "$2")$(path_for "$1" "$2")" > "$tmp/wrk.out" 2>&1 || true
  $PY - "$tmp/wrk.out" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
def us(v, u): return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[u]
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
p = dict((k, us(v, u)) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", t, re.M))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: (.*)", t)
print("%s %s %s %s" % (rps.group(1) if rps else 0, p.get("50", 0), p.get("99", 0),
      ("non2xx=" + non2xx.group(1)) if non2xx else (("err:" + err.group(1).replace(" ", "")) if err else "ok")))
PY
}
ratio() { echo "scale=3; $1 / $2" | bc -l; }
med() { echo "$@" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
rss_kb() { local s=0; for p in "$@"; do s=$((s + $(awk '/VmRSS/{print $2}' /proc/$p/status 2>/dev/null || echo 0))); done; echo $s; }
nginx_pids() { pgrep -f "nginx.*$tmp/$1/" | tr '\n' ' '; }

# wrk against a case's target, with the user+system CPU (clock ticks) of its own processes
# for CPU per request; each case defines cscript (wrk script), curl_of (URL), cpath (path)
# and cpids (the processes).
tree() { for m in "$@"; do echo "$m"; pgrep -P "$m"; done | tr '\n' ' '; } # nginx master + workers
ticks() { local s=0; for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null || echo 0))); done; echo $s; }
cwrk() { # workload target duration -> "rps p50 p99 status cpu_us_per_req"
  local t0; t0=$(ticks $(cpids "$2"))
  wrk -t1 -c"$CHEAP_CONNS" -d"$3" --latency -s "$tmp/$(cscript "$1" "$2").lua" \
    "$(curl_of "$2")$(cpath "$1" "$2")" > "$tmp/wrk.out" 2>&1 || true
  local t1; t1=$(ticks $(cpids "$2"))
  $PY - "$tmp/wrk.out" "$((t1 - t0))" "$(getconf CLK_TCK)" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
n = re.search(r"(\d+) requests in", t)
cpu = int(sys.argv[2]) / int(sys.argv[3]) * 1e6 / int(n.group(1)) if n and int(n.group(1)) else 0
def us(v, u): return float(v) * {"us": 1, "ms": 1e3, "s": 1e6}[u]
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
p = dict((k, us(v, u)) for k, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", t, re.M))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: (.*)", t)
print("%s %s %s %s %.1f" % (rps.group(1) if rps else 0, p.get("50", 0), p.get("99", 0),
    ("non2xx=" + bad.group(1)) if bad else (("err:" + err.group(1).replace(" ", "")) if err else "ok"),
    cpu))
PY
}

# ---- cheap upstream: nginx `return 200`, proxies each in their own process ----
# the canned answers as nginx `return 200` locations ($tmp/cheap_locations.conf)
cheap_locations() {
  $PY - "$tmp" <<'PY'
import sys
d = sys.argv[1]
chat = open(d + "/files/chat.json").read()
sse = open(d + "/files/sse.txt").read()
assert "'" not in chat + sse and "$" not in chat + sse and "\\" not in chat + sse
# nginx caps one config parameter at 4 KiB: the stream is set in pieces and joined
parts = [sse[i:i + 3000] for i in range(0, len(sse), 3000)]
sets = " ".join("set $s%d '%s';" % (i, p) for i, p in enumerate(parts))
joined = "".join("$s%d" % i for i in range(len(parts)))
open(d + "/cheap_locations.conf", "w").write(
    "location = /v1/chat/completions { default_type application/json; return 200 '%s'; }\n"
    "location = /sse/v1/chat/completions { default_type text/event-stream; %s return 200 \"%s\"; }\n"
    % (chat, sets, joined))
PY

}
cheap_case() {
  cheap_locations
  nginx_conf cheapup "server { listen 127.0.0.1:$CUP backlog=8192; include $tmp/cheap_locations.conf; }"
  nginx_conf cheapproxy "upstream cup { server 127.0.0.1:$CUP; keepalive 256; }
    server { listen 127.0.0.1:$CPX backlog=8192;
      location / { proxy_pass http://cup; proxy_http_version 1.1;
        proxy_set_header Connection \"\"; proxy_buffering off; } }"
  cat > "$tmp/girder_cheap.yaml" <<YAML
listen: 127.0.0.1:$CGW
threads: 1
log_level: warn
timeouts: {keepalive_ms: 300s}
access_log: {enabled: false}
providers:
  - {name: c, base_url: "http://127.0.0.1:$CUP/v1", max_connections: 1024}
  - {name: csse, base_url: "http://127.0.0.1:$CUP/sse/v1", max_connections: 1024}
  - {name: c-curl, base_url: "http://127.0.0.1:$CUP/v1", max_connections: 1024, client: curl}
  - {name: csse-curl, base_url: "http://127.0.0.1:$CUP/sse/v1", max_connections: 1024, client: curl}
models:
  - {alias: bench, deployments: [{provider: c, model: bench-model}]}
  - {alias: bench-sse, deployments: [{provider: csse, model: bench-model}]}
  - {alias: bench-curl, deployments: [{provider: c-curl, model: bench-model}]}
  - {alias: bench-sse-curl, deployments: [{provider: csse-curl, model: bench-model}]}
YAML
  "$GIRDER_BIN" serve --config "$tmp/girder_cheap.yaml" 2> "$tmp/girder_cheap.log" & pids+=($!); local cg=$!
  cat > "$tmp/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 20000
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  http-reuse always
frontend f
  bind 127.0.0.1:$CHA
  default_backend b
backend b
  server up 127.0.0.1:$CUP maxconn 1024
CFG
  haproxy -db -f "$tmp/haproxy.cfg" 2> "$tmp/haproxy.log" & pids+=($!); local ch=$!
  wait_port "$CUP"; wait_port "$CPX"; wait_port "$CGW"; wait_port "$CHA"
  sed 's/"model": "bench"/"model": "bench-curl"/' "$tmp/body.json" > "$tmp/body_curl.json"
  sed 's/"model": "bench"/"model": "bench-sse-curl"/' "$tmp/body_sse.json" > "$tmp/body_sse_curl.json"
  lua "$tmp/cjson_curl.lua" "$tmp/body_curl.json" ""
  lua "$tmp/csse_curl.lua" "$tmp/body_sse_curl.json" ""
  local ctargets=(direct girder girder-curl nginx haproxy)
  cscript() { case "$1:$2" in json:girder-curl) echo cjson_curl;; sse:girder-curl) echo csse_curl;;
    sse:girder) echo sse_gw;; json:*) echo json;; sse:*) echo sse;; esac; }
  curl_of() { case $1 in direct) echo "http://127.0.0.1:$CUP";; nginx) echo "http://127.0.0.1:$CPX";;
    haproxy) echo "http://127.0.0.1:$CHA";; *) echo "http://127.0.0.1:$CGW";; esac; }
  cpath() { case "$1:$2" in sse:direct|sse:nginx|sse:haproxy) echo /sse/v1/chat/completions;;
    *) echo /v1/chat/completions;; esac; }
  cpids() { case $1 in girder|girder-curl) echo "$cg";; nginx) tree $(nginx_pids cheapproxy);;
    haproxy) echo "$ch";; *) tree $(nginx_pids cheapup);; esac; }
  echo "# cheap upstream (nginx return 200, 1 worker each): wrk -t1 -c$CHEAP_CONNS rounds=$ROUNDS duration=$DURATION cpus=$(nproc) $(date -u +%FT%TZ)"
  for w in json sse; do for t in "${ctargets[@]}"; do cwrk "$w" "$t" 1s >/dev/null; done; done  # warm-up
  declare -A CR CC
  for w in json sse; do
    for r in $(seq "$ROUNDS"); do
      for t in "${ctargets[@]}"; do
        read -r rps p50 p99 st cpu < <(cwrk "$w" "$t" "$DURATION")
        echo "cheap round $r $w $t: $rps req/s p50=${p50}us p99=${p99}us cpu=${cpu}us/req ($st)"
        CR[$w.$t]+="$rps "; CC[$w.$t]+="$cpu "
      done
    done
  done
  for w in json sse; do
    printf "cheap %-4s median req/s: direct %.0f  girder %.0f  girder-curl %.0f  nginx %.0f  haproxy %.0f\n" \
      "$w" "$(med ${CR[$w.direct]})" "$(med ${CR[$w.girder]})" "$(med ${CR[$w.girder-curl]})" \
      "$(med ${CR[$w.nginx]})" "$(med ${CR[$w.haproxy]})"
    echo "cheap $w: girder/nginx-proxy req/s = $(ratio "$(med ${CR[$w.girder]})" "$(med ${CR[$w.nginx]})")" \
         " girder-curl/nginx-proxy = $(ratio "$(med ${CR[$w.girder-curl]})" "$(med ${CR[$w.nginx]})")" \
         " girder/haproxy = $(ratio "$(med ${CR[$w.girder]})" "$(med ${CR[$w.haproxy]})")"
    echo "cheap $w: CPU us/request (user+system of the proxy process): girder $(med ${CC[$w.girder]})" \
         " girder-curl $(med ${CC[$w.girder-curl]})  nginx-proxy $(med ${CC[$w.nginx]})" \
         " haproxy $(med ${CC[$w.haproxy]})  girder/nginx = $(ratio "$(med ${CC[$w.girder]})" "$(med ${CC[$w.nginx]})")"
  done
  echo "cheap rss_MB after load: girder $(echo "$(rss_kb $cg) / 1024" | bc -l | cut -c1-5)" \
       " nginx-proxy (master + worker) $(echo "$(rss_kb $(tree $(nginx_pids cheapproxy))) / 1024" | bc -l | cut -c1-5)" \
       " haproxy $(echo "$(rss_kb $ch) / 1024" | bc -l | cut -c1-5)"
  kill $cg $ch 2>/dev/null || true
}
if [ "$CHEAP" = 1 ]; then cheap_case; echo; fi
[ "${ONLY_CHEAP:-0}" = 1 ] && exit 0

if [ "${ONLY_STREAMS:-0}" != 1 ]; then
echo "# gateway bench: rounds=$ROUNDS duration=$DURATION conns=$CONNS cpus=$(nproc) $(date -u +%FT%TZ)"
for w in json sse; do run_wrk "$w" direct 4 1s >/dev/null; for t in "${targets[@]}"; do run_wrk "$w" "$t" 8 1s >/dev/null; done; done  # warm-up
declare -A RPS P50 P99
for w in json sse; do
  for r in $(seq "$ROUNDS"); do
    for t in "${targets[@]}"; do
      read -r rps p50 p99 st < <(run_wrk "$w" "$t" "$CONNS" "$DURATION")
      echo "round $r $w $t: $rps req/s p50=${p50}us p99=${p99}us ($st)"
      RPS[$w.$t]+="$rps "; P50[$w.$t]+="$p50 "; P99[$w.$t]+="$p99 "
    done
  done
done

declare -A RSS
RSS[girder]=$(rss_kb $GPID); RSS[nginx]=$(rss_kb $(nginx_pids proxy)); RSS[direct]=$(rss_kb $(nginx_pids upstream))
[ "$PORTKEY" = 1 ] && RSS[portkey]=$(rss_kb $PKPID)

echo; echo "## paced ~1000 req/s (10 connections, 10 ms think time), added latency over direct"
declare -A PP50 PP99  # medians over ROUNDS alternating rounds: one stall must not decide a p99
declare -A PL50 PL99
for r in $(seq "$ROUNDS"); do
  for t in "${targets[@]}"; do
    read -r rps p50 p99 st < <(run_wrk paced "$t" 10 "$DURATION")
    PL50[$t]+="$p50 "; PL99[$t]+="$p99 "
    echo "round $r $t: $rps req/s p50=${p50}us p99=${p99}us ($st)"
  done
done
for t in "${targets[@]}"; do PP50[$t]=$(med ${PL50[$t]}); PP99[$t]=$(med ${PL99[$t]}); done

echo; echo "## results (median of $ROUNDS rounds, $CONNS connections)"
printf "%-8s %-5s %12s %10s %10s %16s %16s %10s\n" target load req/s p50_us p99_us paced_add_p50_us paced_add_p99_us rss_MB
for w in json sse; do
  for t in "${targets[@]}"; do
    printf "%-8s %-5s %12.0f %10.0f %10.0f %16.0f %16.0f %10.1f\n" "$t" "$w" "$(med ${RPS[$w.$t]})" \
      "$(med ${P50[$w.$t]})" "$(med ${P99[$w.$t]})" \
      "$(echo "${PP50[$t]} - ${PP50[direct]}" | bc -l)" "$(echo "${PP99[$t]} - ${PP99[direct]}" | bc -l)" \
      "$(echo "${RSS[$t]} / 1024" | bc -l)"
  done
done
for w in json sse; do
  echo "$w: girder/nginx-proxy req/s = $(ratio "$(med ${RPS[$w.girder]})" "$(med ${RPS[$w.nginx]})")"
  [ "$PORTKEY" = 1 ] && echo "$w: girder/portkey req/s     = $(ratio "$(med ${RPS[$w.girder]})" "$(med ${RPS[$w.portkey]})")"
done

fi # ONLY_STREAMS
# ---- open SSE streams held at once ----
cat > "$tmp/hold.py" <<'PY'
import asyncio, json, os, sys
port, n, model, extra, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
path = os.environ.get("HOLD_PATH", "/v1/chat/completions").encode()
body = json.dumps({"model": model, "stream": mode == "sse", "messages": [{"role": "user", "content": "x"}]}).encode()
req = (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       b"Authorization: Bearer bench\r\n" + extra.encode().replace(b"|", b"\r\n") +
       b"Content-Length: %d\r\n\r\n" % len(body) + body)
early = []
async def one(ok):
    r, w = await asyncio.open_connection("127.0.0.1", port, limit=1 << 16)
    w.write(req); await w.drain()
    if mode == "pending":  # no answer expected yet: count it if still open after 3 s
        try:
            first = await asyncio.wait_for(r.read(64), 3)
            if first:
                early.append(first.split(b"\r\n")[0].decode("latin-1"))
                return
        except asyncio.TimeoutError:
            ok.append(w)
        return
    got = b""
    while b"data:" not in got:
        chunk = await asyncio.wait_for(r.read(4096), 60)
        if not chunk: raise RuntimeError("closed")
        got += chunk
    ok.append(w)
async def main():
    ok = []
    sem = asyncio.Semaphore(500)
    async def lim():
        async with sem:
            try: await one(ok)
            except Exception: pass
    await asyncio.gather(*[lim() for _ in range(n)])
    print(len(ok), flush=True)
    if early:
        import collections
        print("early answers:", dict(collections.Counter(early)), file=sys.stderr, flush=True)
    sys.stdin.readline()  # hold until told to stop
    for w in ok: w.close()
asyncio.run(main())
PY
hold() { $PY "$tmp/hold.py" "$1" "$OPEN_STREAMS" "$2" "$3" "$4"; } # port model extra mode
stream_rss() { # name mode port model extra pid...
  local name=$1.$2 mode=$2 port=$3 model=$4 extra=$5; shift 5
  local before; before=$(rss_kb "$@")
  mkfifo "$tmp/fifo.$name"
  hold "$port" "$model" "$extra" "$mode" < "$tmp/fifo.$name" > "$tmp/hold.$name" & local hp=$!
  exec 7> "$tmp/fifo.$name"
  for _ in $(seq 600); do [ -s "$tmp/hold.$name" ] && break; sleep 0.2; done
  local held; held=$(head -1 "$tmp/hold.$name"); sleep 1
  local during; during=$(rss_kb "$@")
  echo >&7; exec 7>&-; wait $hp 2>/dev/null || true
  sleep "$SETTLE"; local after; after=$(rss_kb "$@")
  local fds=0; for p in "$@"; do fds=$((fds + $(ls /proc/$p/fd 2>/dev/null | wc -l))); done
  printf "%-16s open=%-6s rss_before=%.1fMB rss_during=%.1fMB rss_%ss_after=%.1fMB fds_after=%s\n" "$name" \
    "$held" "$(echo "$before/1024" | bc -l)" "$(echo "$during/1024" | bc -l)" "$SETTLE" \
    "$(echo "$after/1024" | bc -l)" "$fds"
  echo "$during" > "$tmp/streams_rss.$name"; echo "$before" > "$tmp/streams_before.$name"
}
if [ "$OPEN_STREAMS" -gt 0 ]; then
echo; echo "## $OPEN_STREAMS concurrent open requests: SSE streams (upstream sends one event, then"
echo "## trickles) and pending JSON requests (upstream trickles the body)"
stream_rss girder pending "$GW" bench-slowjson "" $GPID
stream_rss girder sse "$GW" bench-slow "" $GPID
if [ "$PORTKEY" = 1 ]; then
  PKX="x-portkey-provider: openai|x-portkey-custom-host: http://127.0.0.1:$UP"
  stream_rss portkey pending "$PK" bench-model "$PKX/slowjson/v1|" $PKPID
  # Portkey 1.15.2 on Node 20 answers every streaming request with a 500 (TypeError:
  # immutable, from its updateHeaders on undici's Response): opt in with PORTKEY_SSE=1.
  [ "${PORTKEY_SSE:-0}" = 1 ] && stream_rss portkey sse "$PK" bench-model "$PKX/slow/v1|" $PKPID
  echo "girder/portkey RSS with $OPEN_STREAMS pending requests = $(ratio "$(cat "$tmp/streams_rss.girder.pending")" "$(cat "$tmp/streams_rss.portkey.pending")")"
fi
fi # OPEN_STREAMS

# ---- https:// upstream (TLS=1, the default): bench/gateway_tls.sh ----
if [ "${TLS:-1}" = 1 ]; then
  . "$here/bench/gateway_tls.sh"
  tls_case
fi

#!/usr/bin/env bash
# bench/translate.sh: girder's CPU per request and per streamed event when it translates
# (OpenAI client -> girder -> Anthropic Messages upstream, `type: anthropic`) vs when it
# passes through (OpenAI-compatible upstream, `type: openai`), and for Azure's addressing
# (`type: azure`: OpenAI bodies, deployment URL + api-key), Gemini (`type: gemini`) and
# Bedrock (`type: bedrock`: SigV4-signed Converse, event stream answers), all in the same
# run.
#
# Upstream: one nginx worker answering with canned bodies from its config (`return 200`, no
# file I/O; bench/translate_bodies.py writes them): the same answer as OpenAI JSON, Messages
# JSON, and as SSE streams of SHORT and LONG text pieces in both wire forms (OpenAI: one
# chunk per piece + role, finish and [DONE]; Anthropic: one text_delta per piece +
# message_start, content_block_start, ping, content_block_stop, message_delta, message_stop).
# girder: --threads 1, access log off, its own HTTP/1.1 client. Load: wrk -t1 -c$CONNS, the
# same OpenAI chat request for every target; targets alternate within each round.
#
# CPU: user+system ticks of the girder process (/proc/PID/stat) over each wrk run, divided
# by the requests wrk completed. Per streamed event: the slope between the LONG and SHORT
# streams, (cpu/req(LONG) - cpu/req(SHORT)) / (LONG - SHORT): what one more upstream event
# (one text piece, in either protocol) costs, without the per-request part (accept, parse,
# route, upstream request, which the JSON row measures).
#
# Env: GIRDER_BIN (build/src/cli/girder), ROUNDS (5), DURATION (5s), CONNS (32),
#      SHORT (10), LONG (200).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
GIRDER_BIN=${GIRDER_BIN:-$here/build/src/cli/girder}
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-5s} CONNS=${CONNS:-32}
SHORT=${SHORT:-10} LONG=${LONG:-200}
PY=/usr/bin/python3
for t in wrk nginx bc "$GIRDER_BIN"; do
  command -v "$t" >/dev/null || [ -x "$t" ] || { echo "missing: $t" >&2; exit 1; }
done
[ "$LONG" -gt "$SHORT" ] || { echo "LONG must be > SHORT" >&2; exit 1; }
[ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx || NGINX=$(command -v nginx)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d); chmod 755 "$tmp"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do $PY -c "import socket; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; exit 1; }
UP=$(free_port); GW=$(free_port)

$PY "$here/bench/translate_bodies.py" "$tmp" "$SHORT" "$LONG"
mkdir -p "$tmp/up/logs"
cat > "$tmp/up/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/up/nginx.pid;
error_log $tmp/up/logs/error.log crit;
worker_rlimit_nofile 40000;
events { worker_connections 30000; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $tmp/up/body;
  proxy_temp_path $tmp/up/proxy;
  fastcgi_temp_path $tmp/up/fastcgi;
  uwsgi_temp_path $tmp/up/uwsgi;
  scgi_temp_path $tmp/up/scgi;
  server { listen 127.0.0.1:$UP backlog=8192; include $tmp/locations.conf; }
}
CONF
$NGINX -p "$tmp/up" -c "$tmp/up/nginx.conf" & pids+=($!)

U="http://127.0.0.1:$UP"
prov() { # name type base extra
  echo "  - {name: $1, type: $2, base_url: \"$3\", max_connections: 1024, api_key: bench$4}"
}
brov() { # name base (bedrock signs with AWS keys, no api_key)
  echo "  - {name: $1, type: bedrock, base_url: \"$2\", max_connections: 1024," \
       "region: us-east-1, aws_access_key_id: AKIDBENCH, aws_secret_access_key: bench}"
}
{
  echo "listen: 127.0.0.1:$GW"
  echo "threads: 1"
  echo "log_level: warn"
  echo "timeouts: {keepalive_ms: 300s}"
  echo "access_log: {enabled: false}"
  echo "providers:"
  prov openai-json openai "$U/v1" ""
  prov azure-json azure "$U" ", api_version: 2024-10-21"
  prov anthropic-json anthropic "$U/v1" ""
  prov gemini-json gemini "$U" ""
  brov bedrock-json "$U"
  for n in "$SHORT" "$LONG"; do
    prov "openai-s$n" openai "$U/s$n/v1" ""
    prov "azure-s$n" azure "$U/s$n" ", api_version: 2024-10-21"
    prov "anthropic-s$n" anthropic "$U/s$n/v1" ""
    prov "gemini-s$n" gemini "$U/s$n" ""
    brov "bedrock-s$n" "$U/s$n"
  done
  echo "models:"
  for p in openai azure anthropic gemini bedrock; do
    for w in json "s$SHORT" "s$LONG"; do
      echo "  - {alias: $p-$w, deployments: [{provider: $p-$w, model: bench-model}]}"
    done
  done
} > "$tmp/girder.yaml"
"$GIRDER_BIN" serve --config "$tmp/girder.yaml" 2> "$tmp/girder.log" & pids+=($!); GPID=$!
wait_port "$UP"; wait_port "$GW"

types=(openai azure anthropic gemini bedrock)
works=(json "s$SHORT" "s$LONG")
for p in "${types[@]}"; do
  for w in "${works[@]}"; do
    body=body_sse; [ "$w" = json ] && body=body_json
    sed "s/\"MODEL\"/\"$p-$w\"/" "$tmp/$body.json" > "$tmp/$p-$w.json"
    cat > "$tmp/$p-$w.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$tmp/$p-$w.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer bench"
LUA
  done
done
# the answers must be what the client expects, or the CPU figures mean nothing
check() { # alias grep-pattern
  curl -s -H 'Content-Type: application/json' --data-binary "@$tmp/$1.json" \
    "http://127.0.0.1:$GW/v1/chat/completions" > "$tmp/check.out"
  grep -q "$2" "$tmp/check.out" || { echo "bad answer for $1:" >&2; head -c 600 "$tmp/check.out" >&2; exit 1; }
}
for p in "${types[@]}"; do
  check "$p-json" '"content":"The quick brown fox'
  check "$p-s$LONG" "tok$(printf %03d $((LONG - 1)))"
  check "$p-s$LONG" 'data: \[DONE\]'
done

ticks() { awk '{print $14 + $15}' "/proc/$GPID/stat"; }
run() { # alias duration -> "rps cpu_us_per_req status"
  local t0 t1; t0=$(ticks)
  wrk -t1 -c"$CONNS" -d"$2" -s "$tmp/$1.lua" "http://127.0.0.1:$GW/v1/chat/completions" \
    > "$tmp/wrk.out" 2>&1 || true
  t1=$(ticks)
  $PY - "$tmp/wrk.out" "$((t1 - t0))" "$(getconf CLK_TCK)" <<'PY'
import re, sys
t = open(sys.argv[1]).read()
n = re.search(r"(\d+) requests in", t)
n = int(n.group(1)) if n else 0
cpu = int(sys.argv[2]) / int(sys.argv[3]) * 1e6 / n if n else 0
rps = re.search(r"Requests/sec:\s+([\d.]+)", t)
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", t)
err = re.search(r"Socket errors: (.*)", t)
print("%s %.2f %s" % (rps.group(1) if rps else 0, cpu, ("non2xx=" + bad.group(1)) if bad else
      (("err:" + err.group(1).replace(" ", "")) if err else "ok")))
PY
}

echo "# translate bench: girder $(cd "$here" && git describe --always --dirty 2>/dev/null || echo '?')" \
     "threads=1 wrk -t1 -c$CONNS rounds=$ROUNDS duration=$DURATION SHORT=$SHORT LONG=$LONG" \
     "cpus=$(nproc) $(date -u +%FT%TZ)"
for p in "${types[@]}"; do for w in "${works[@]}"; do run "$p-$w" 1s > /dev/null; done; done # warm-up
declare -A CPU RPS
for r in $(seq "$ROUNDS"); do
  for w in "${works[@]}"; do
    for p in "${types[@]}"; do
      read -r rps cpu st < <(run "$p-$w" "$DURATION")
      echo "round $r $w $p: $rps req/s cpu=${cpu}us/req ($st)"
      [ "$st" = ok ] || { echo "errors in $p-$w: $st" >&2; exit 1; }
      CPU[$p.$w]+="$cpu "; RPS[$p.$w]+="$rps "
    done
  done
done
med() { echo "$@" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
r3() { echo "scale=3; $1 / $2" | bc -l | sed 's/^\./0./'; }
echo
printf "%-28s %12s %12s %12s %12s %12s\n" "median CPU us/request" openai azure anthropic gemini \
  bedrock
for w in "${works[@]}"; do
  case $w in json) label="JSON answer";; *) label="stream of ${w#s} pieces";; esac
  printf "%-28s %12s %12s %12s %12s %12s\n" "$label" "$(med ${CPU[openai.$w]})" \
    "$(med ${CPU[azure.$w]})" "$(med ${CPU[anthropic.$w]})" "$(med ${CPU[gemini.$w]})" \
    "$(med ${CPU[bedrock.$w]})"
done
printf "%-28s %12s %12s %12s %12s %12s\n" "median req/s, JSON" "$(med ${RPS[openai.json]})" \
  "$(med ${RPS[azure.json]})" "$(med ${RPS[anthropic.json]})" "$(med ${RPS[gemini.json]})" \
  "$(med ${RPS[bedrock.json]})"
declare -A EV
for p in "${types[@]}"; do
  EV[$p]=$(echo "scale=4; ($(med ${CPU[$p.s$LONG]}) - $(med ${CPU[$p.s$SHORT]})) / ($LONG - $SHORT)" | bc -l | sed 's/^\./0./;s/^-\./-0./')
done
printf "%-28s %12s %12s %12s %12s %12s\n" "CPU us per streamed event" "${EV[openai]}" \
  "${EV[azure]}" "${EV[anthropic]}" "${EV[gemini]}" "${EV[bedrock]}"
echo
for p in azure anthropic gemini bedrock; do
  echo "$p/openai: per JSON request $(r3 "$(med ${CPU[$p.json]})" "$(med ${CPU[openai.json]})")" \
       " per stream of $SHORT $(r3 "$(med ${CPU[$p.s$SHORT]})" "$(med ${CPU[openai.s$SHORT]})")" \
       " per stream of $LONG $(r3 "$(med ${CPU[$p.s$LONG]})" "$(med ${CPU[openai.s$LONG]})")" \
       " per streamed event $(r3 "${EV[$p]}" "${EV[openai]}")"
done
for p in anthropic gemini bedrock; do
  ratio=$(r3 "${EV[$p]}" "${EV[openai]}")
  if [ "$(echo "$ratio <= 1.5" | bc -l)" = 1 ]; then verdict=met; else verdict="NOT met"; fi
  echo "goal ($p: translated streams <= 1.5x the CPU per event of passthrough): $verdict ($ratio)"
done

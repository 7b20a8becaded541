# bench/gateway_tls.sh, sourced by bench/gateway.sh (TLS=1): the https:// upstream case.
#
# Upstream: nginx (1 worker, own process) with a certificate from a throwaway CA, offering
# HTTP/2 and HTTP/1.1 through ALPN, serving the cheap canned answers and the slow stream.
# girder (--threads 1, access log off) reaches it through libcurl (https:// is libcurl's:
# docs/gateway.md), which negotiates HTTP/2 and multiplexes; nginx proxy_pass (1 worker,
# own process) over HTTP/1.1 with a keepalive pool and TLS session reuse, verifying the
# certificate as girder does. Prints req/s and CPU per request for JSON and SSE (wrk -t1
# -c$CHEAP_CONNS, ROUNDS alternating rounds, median) and each proxy's RSS with TLS_STREAMS
# open SSE streams (the upstream sends one event, then trickles).
tls_case() {
  local d=$tmp/tls TUP TPX TGW tg
  TUP=$(free_port); TPX=$(free_port); TGW=$(free_port)
  mkdir -p "$d"
  ( cd "$d" && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
      -subj /CN=bench-ca && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr \
      -subj /CN=127.0.0.1 && echo "subjectAltName=IP:127.0.0.1" > ext.cnf &&
    openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem \
      -days 2 -extfile ext.cnf ) > "$d/openssl.log" 2>&1
  chmod a+r "$d"/*
  cheap_locations
  nginx_conf tlsup "server { listen 127.0.0.1:$TUP ssl http2 backlog=8192;
      ssl_certificate $d/srv.pem; ssl_certificate_key $d/srv.key;
      types { text/event-stream txt; }
      include $tmp/cheap_locations.conf;
      location = /slow/v1/chat/completions { error_page 405 =200 /slow/sse.txt; return 405; }
      location /slow/ { internal; alias $tmp/files/; limit_rate_after 1500; limit_rate 1; } }"
  nginx_conf tlsproxy "upstream tup { server 127.0.0.1:$TUP; keepalive 256; }
    server { listen 127.0.0.1:$TPX backlog=8192;
      location / { proxy_pass https://tup; proxy_http_version 1.1;
        proxy_set_header Connection \"\"; proxy_buffering off;
        proxy_ssl_verify on; proxy_ssl_trusted_certificate $d/ca.pem;
        proxy_ssl_name 127.0.0.1; proxy_ssl_session_reuse on; } }"
  cat > "$tmp/girder_tls.yaml" <<YAML
listen: 127.0.0.1:$TGW
threads: 1
log_level: warn
timeouts: {keepalive_ms: 300s}
access_log: {enabled: false}
providers:
  - {name: t, base_url: "https://127.0.0.1:$TUP/v1", ca_file: "$d/ca.pem", max_connections: 1024}
  - {name: tsse, base_url: "https://127.0.0.1:$TUP/sse/v1", ca_file: "$d/ca.pem", max_connections: 1024}
  - {name: tslow, base_url: "https://127.0.0.1:$TUP/slow/v1", ca_file: "$d/ca.pem",
     max_connections: 20000, timeout_ms: 3600000, first_byte_timeout_ms: 3600000}
models:
  - {alias: bench, deployments: [{provider: t, model: bench-model}]}
  - {alias: bench-sse, deployments: [{provider: tsse, model: bench-model}]}
  - {alias: bench-slow, deployments: [{provider: tslow, model: bench-model}]}
YAML
  "$GIRDER_BIN" serve --config "$tmp/girder_tls.yaml" 2> "$tmp/girder_tls.log" & pids+=($!); tg=$!
  wait_port "$TUP"; wait_port "$TPX"; wait_port "$TGW"
  cscript() { case "$1:$2" in sse:girder) echo sse_gw;; json:*) echo json;; sse:*) echo sse;; esac; }
  curl_of() { case $1 in nginx) echo "http://127.0.0.1:$TPX";; *) echo "http://127.0.0.1:$TGW";; esac; }
  cpath() { case "$1:$2" in sse:nginx) echo /sse/v1/chat/completions;; *) echo /v1/chat/completions;; esac; }
  cpids() { case $1 in girder) echo "$tg";; *) tree $(nginx_pids tlsproxy);; esac; }
  echo; echo "# https:// upstream (nginx TLS, HTTP/2 offered; 1 worker each): wrk -t1 -c$CHEAP_CONNS rounds=$ROUNDS duration=$DURATION $(date -u +%FT%TZ)"
  for w in json sse; do for t in girder nginx; do cwrk "$w" "$t" 1s >/dev/null; done; done # warm-up
  declare -A TR TC
  for w in json sse; do
    for r in $(seq "$ROUNDS"); do
      for t in girder nginx; do
        read -r rps p50 p99 st cpu < <(cwrk "$w" "$t" "$DURATION")
        echo "tls round $r $w $t: $rps req/s p50=${p50}us p99=${p99}us cpu=${cpu}us/req ($st)"
        TR[$w.$t]+="$rps "; TC[$w.$t]+="$cpu "
      done
    done
  done
  for w in json sse; do
    printf "tls %-4s median req/s: girder %.0f  nginx %.0f  girder/nginx-proxy = %s;" "$w" \
      "$(med ${TR[$w.girder]})" "$(med ${TR[$w.nginx]})" \
      "$(ratio "$(med ${TR[$w.girder]})" "$(med ${TR[$w.nginx]})")"
    echo " CPU us/request: girder $(med ${TC[$w.girder]})  nginx-proxy $(med ${TC[$w.nginx]})"
  done
  local n=${TLS_STREAMS:-2000}
  echo "## $n open SSE streams over the https:// upstream"
  OPEN_STREAMS=$n stream_rss girder-tls sse "$TGW" bench-slow "" "$tg"
  OPEN_STREAMS=$n HOLD_PATH=/slow/v1/chat/completions \
    stream_rss nginx-tls sse "$TPX" bench-model "" $(tree $(nginx_pids tlsproxy))
  per() { echo "($(cat "$tmp/streams_rss.$1.sse") - $(cat "$tmp/streams_before.$1.sse")) / $n" | bc -l | cut -c1-5; }
  echo "tls RSS added per open stream (KB): girder $(per girder-tls)  nginx-proxy $(per nginx-tls)"
  kill "$tg" 2>/dev/null || true
}

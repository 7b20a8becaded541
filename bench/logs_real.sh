#!/usr/bin/env bash
# bench/logs_real.sh: `girder logs parse` with default settings on real logs of this machine
# and of services run here, none of them a Loghub data set:
#   - the machine's own logs: dpkg, apt (term, history), alternatives, the journal if any;
#   - nginx run in a temp dir (access + error log) under a mix of curl requests;
#   - redis-server run in a temp dir (verbose log) under a mix of redis-cli commands.
# There is no hand-labelled truth for these, so the script reports what can be checked:
# lines, templates, lines left in one-line templates, whether remapped streaming ids equal
# --final (they must), the largest templates (to read), and for nginx's access log the one
# truth known by construction: every line comes from one log_format, so one template.
# usage: bench/logs_real.sh [GIRDER_BIN]     (env: KEEP=1 keeps the temp dir)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
girder=${1:-$root/build/src/cli/girder}
py=/usr/bin/python3
[ -x "$girder" ] || { echo "no girder binary at $girder"; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp" # nginx workers run as another user
cleanup() {
    [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null || true
    [ -n "${redis_pid:-}" ] && kill "$redis_pid" 2>/dev/null || true
    [ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- nginx -------------------------------------------------------------------------------
if command -v nginx >/dev/null; then
    port=$(free_port)
    mkdir -p "$tmp/www/docs" "$tmp/nginx"
    echo ok > "$tmp/www/index.html"
    echo doc > "$tmp/www/docs/a b.txt"
    cat > "$tmp/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/nginx/error.log info;
events { worker_connections 64; }
http {
    access_log $tmp/nginx/access.log combined;
    client_body_temp_path $tmp/nginx; proxy_temp_path $tmp/nginx;
    fastcgi_temp_path $tmp/nginx; uwsgi_temp_path $tmp/nginx; scgi_temp_path $tmp/nginx;
    server {
        listen 127.0.0.1:$port;
        root $tmp/www;
        location /api/ { return 200 "api\n"; }
        location /limited { limit_except GET { deny all; } }
    }
}
EOF
    nginx -c "$tmp/nginx.conf" -p "$tmp" 2>/dev/null
    for i in $(seq 1 300); do
        case $((i % 9)) in
        0) curl -s -o /dev/null "http://127.0.0.1:$port/" ;;
        1) curl -s -o /dev/null "http://127.0.0.1:$port/missing/$RANDOM.html" ;;
        2) curl -s -o /dev/null -A "Mozilla/5.0 (X11; Linux x86_64) test/$i" "http://127.0.0.1:$port/api/v1/items?id=$i&sort=name" ;;
        3) curl -s -o /dev/null -e "http://ref.example.com/p$i" "http://127.0.0.1:$port/docs/a%20b.txt" ;;
        4) curl -s -o /dev/null -X POST -d "x=$i" "http://127.0.0.1:$port/limited" ;;
        5) curl -s -o /dev/null "http://127.0.0.1:$port/docs/" ;;
        6) curl -s -o /dev/null -X DELETE "http://127.0.0.1:$port/api/v2/users/$RANDOM" ;;
        7) curl -s -o /dev/null "http://127.0.0.1:$port/../../etc/passwd" ;;
        8) curl -s -o /dev/null -H "Host: h$((i % 7)).example.org" "http://127.0.0.1:$port/x?q=$RANDOM" ;;
        esac
    done
    kill "$(cat "$tmp/nginx.pid")"
    for _ in $(seq 50); do [ -f "$tmp/nginx.pid" ] || break; sleep 0.1; done
fi

# ---- redis -------------------------------------------------------------------------------
if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
    rport=$(free_port)
    mkdir -p "$tmp/redis"
    redis-server --port "$rport" --bind 127.0.0.1 --dir "$tmp/redis" --logfile "$tmp/redis/redis.log" \
        --loglevel verbose --save "" --daemonize no &
    redis_pid=$!
    for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
    for i in $(seq 1 40); do
        redis-cli -p "$rport" set "k$i" "v$i" >/dev/null
        [ $((i % 10)) -eq 0 ] && redis-cli -p "$rport" save >/dev/null
        [ $((i % 13)) -eq 0 ] && redis-cli -p "$rport" config set maxmemory "$((i * 1000000))" >/dev/null
        [ $((i % 17)) -eq 0 ] && redis-cli -p "$rport" bgsave >/dev/null && sleep 0.3
    done
    redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
    wait "$redis_pid" 2>/dev/null || true
    redis_pid=
fi

# ---- the machine's logs ------------------------------------------------------------------
mkdir -p "$tmp/sys"
for f in /var/log/dpkg.log /var/log/alternatives.log /var/log/apt/term.log /var/log/apt/history.log; do
    [ -r "$f" ] && [ -s "$f" ] && cp "$f" "$tmp/sys/$(basename "$f")"
done
if command -v journalctl >/dev/null; then
    journalctl -o short --no-pager -n 20000 2>/dev/null | grep -v '^-- ' > "$tmp/sys/journal.log" || true
fi

$py - "$girder" "$tmp" <<'EOF'
import glob, json, os, subprocess, sys
from collections import Counter
girder, tmp = sys.argv[1], sys.argv[2]

def parse(path, final):
    cmd = [girder, "logs", "parse"] + (["--final"] if final else []) + [path]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout
    return [json.loads(l) for l in out.splitlines()]

def remap(stream):
    into = {}
    for r in stream:
        for old in r.get("merged", []):
            into[old] = r["template_id"]
    res = []
    for r in stream:
        i = r["template_id"]
        while i in into:
            i = into[i]
        res.append(i)
    return res

files = sorted(glob.glob(os.path.join(tmp, "*", "*.log")))
bad = 0
print(f"{'log':<22} {'lines':>6} {'templates':>9} {'1-line':>6} {'merges':>6}  remap==final")
for f in files:
    if os.path.getsize(f) == 0:
        continue
    final, stream = parse(f, True), parse(f, False)
    ids = [r["template_id"] for r in final]
    sizes = Counter(ids)
    ok = remap(stream) == ids
    bad += not ok
    merges = sum(1 for r in stream if r.get("change") == "merged")
    name = os.path.relpath(f, tmp)
    print(f"{name:<22} {len(ids):6d} {len(sizes):9d} {sum(1 for n in sizes.values() if n == 1):6d} "
          f"{merges:6d}  {'yes' if ok else 'NO'}")
    if name.endswith("access.log") and len(sizes) != 1:
        print(f"  nginx access log: {len(sizes)} templates, expected 1 (one log_format)")
        bad += 1
    text = {r["template_id"]: r["template"] for r in final}
    for tid, n in sizes.most_common(5):
        print(f"    {n:5d}  {text[tid][:110]}")
sys.exit(1 if bad else 0)
EOF

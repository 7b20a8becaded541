"""Happy paths through girder against nginx serving canned answers (nginx_upstream.conf)."""
import json
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import (Proc, assert_clean, free_port, request, start_girder,  # noqa: E402
                       wait_port)

HERE = os.path.dirname(os.path.abspath(__file__))
CHAT = {"id": "chatcmpl-canned", "object": "chat.completion", "created": 1700000000,
        "model": "canned", "choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": "The quick brown fox."}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}}
SSE = "".join("data: " + json.dumps({"id": "c", "object": "chat.completion.chunk",
                                     "choices": [{"index": 0, "delta": {"content": "t%d " % i}}]})
              + "\n\n" for i in range(50)) + "data: [DONE]\n\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="gw-ngx-")  # pytest's tmp dirs are 0700: nginx workers
    os.chmod(d, 0o755)                      # may run as nobody and must read the files
    os.makedirs(os.path.join(str(d), "files"))
    with open(os.path.join(str(d), "files", "chat.json"), "w") as f:
        json.dump(CHAT, f)
    with open(os.path.join(str(d), "files", "sse.txt"), "w") as f:
        f.write(SSE)
    for root, dirs, files in os.walk(str(d)):
        for n in dirs + files:
            os.chmod(os.path.join(root, n), 0o755)
    port = free_port()
    conf = open(os.path.join(HERE, "nginx_upstream.conf")).read()
    conf = conf.replace("@DIR@", str(d)).replace("@PORT@", str(port))
    with open(os.path.join(str(d), "nginx.conf"), "w") as f:
        f.write(conf)
    ngx = Proc(["/usr/sbin/nginx", "-p", str(d), "-c", os.path.join(str(d), "nginx.conf")])
    wait_port(port)
    g, gport = start_girder("""
listen: 127.0.0.1:0
threads: 2
providers:
  - {name: ngx, base_url: "http://127.0.0.1:%d/v1"}
  - {name: ngxsse, base_url: "http://127.0.0.1:%d/sse/v1"}
  - {name: ngxshort, base_url: "http://127.0.0.1:%d/short/v1"}
models:
  - {alias: canned, deployments: [{provider: ngx, model: m1}]}
  - {alias: canned-sse, deployments: [{provider: ngxsse, model: m2}]}
  - {alias: canned-short, deployments: [{provider: ngxshort, model: m3}]}
""" % (port, port, port), d)
    yield {"port": gport, "pid": g.p.pid}
    g.stop()
    ngx.stop()
    assert_clean(g)
    shutil.rmtree(d, ignore_errors=True)


def test_json_answer_relayed_exactly(env):
    st, h, b = request(env["port"], "POST", "/v1/chat/completions",
                       {"model": "canned", "messages": []})
    assert st == 200 and json.loads(b) == CHAT
    assert h["x-girder-deployment"] == "ngx/m1"


def test_fifty_event_stream_relayed_byte_for_byte(env):
    for _ in range(20):
        st, h, b = request(env["port"], "POST", "/v1/chat/completions",
                           {"model": "canned-sse", "stream": True, "messages": []})
        assert st == 200 and b == SSE.encode()


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_upstream_closing_idle_connections(env):
    # Idle upstream sockets stay registered with the loop between requests; when nginx
    # closes them (keepalive_timeout 1s) girder must let go without spinning, and the
    # next requests must open fresh connections.
    import time
    for _ in range(10):
        st, h, b = request(env["port"], "POST", "/v1/chat/completions",
                           {"model": "canned-short", "messages": []})
        assert st == 200 and json.loads(b) == CHAT
    before = cpu_seconds(env["pid"])
    time.sleep(2.5)
    assert cpu_seconds(env["pid"]) - before < 0.5, "girder spun on closed upstream sockets"
    for _ in range(10):
        st, h, b = request(env["port"], "POST", "/v1/chat/completions",
                           {"model": "canned-short", "messages": []})
        assert st == 200 and json.loads(b) == CHAT

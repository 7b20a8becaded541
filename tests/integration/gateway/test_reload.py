"""SIGHUP reload swaps the gateway's aliases; requests keep working across the swap, routing
state carries over for the aliases and deployments kept, and the old state is freed
(girder's output is checked for sanitizer reports)."""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import assert_clean, mock_mode, mock_stats, request, start_girder, start_mock  # noqa: E402,E501

CONF = """
listen: 127.0.0.1:0
threads: 2
providers:
  - {{name: mock, base_url: "http://127.0.0.1:{port}/v1"}}
models:
  - {{alias: {alias}, deployments: [{{provider: mock, model: m-{alias}}}]}}
"""


def models(port):
    return sorted(m["id"] for m in json.loads(request(port, "GET", "/v1/models")[2])["data"])


def test_sighup_swaps_aliases(tmp_path):
    mock, mport = start_mock()
    g, port = start_girder(CONF.format(port=mport, alias="before"), tmp_path)
    try:
        assert models(port) == ["before"]
        assert request(port, "POST", "/v1/chat/completions", {"model": "before"})[0] == 200
        with open(os.path.join(str(tmp_path), "girder.yaml"), "w") as f:
            f.write(CONF.format(port=mport, alias="after"))
        g.p.send_signal(signal.SIGHUP)
        # logged once every loop has the new config (before it, one of the two loops may
        # still answer with the old one)
        g.wait_for(r'msg="config reloaded"')
        for _ in range(4):  # whichever loop takes the connection
            assert models(port) == ["after"]
        st, h, b = request(port, "POST", "/v1/chat/completions", {"model": "after"})
        assert st == 200 and h["x-girder-deployment"] == "mock/m-after"
        assert request(port, "POST", "/v1/chat/completions", {"model": "before"})[0] == 404
        # an invalid config (unknown provider) keeps the running one
        with open(os.path.join(str(tmp_path), "girder.yaml"), "w") as f:
            f.write(CONF.format(port=mport, alias="x").replace("provider: mock", "provider: nope"))
        g.p.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert models(port) == ["after"]
    finally:
        g.stop()
        mock.stop()
    assert_clean(g)
    assert "unknown provider 'nope'" in "".join(g.lines)


BREAKER_CONF = """
listen: 127.0.0.1:0
threads: 1
providers:
  - name: mock
    base_url: "http://127.0.0.1:{port}/v1"
    breaker: {{consecutive_failures: 2, cooldown_ms: 60000}}
models:
  - {{alias: kept, deployments: [{{provider: mock, model: rl-down}}]}}
{extra}
"""


def test_open_breaker_survives_reload(tmp_path):
    mock, mport = start_mock()
    g, port = start_girder(BREAKER_CONF.format(port=mport, extra=""), tmp_path)
    try:
        mock_mode(mport, "rl-down", "err500")
        statuses = [request(port, "POST", "/v1/chat/completions", {"model": "kept"})[0]
                    for _ in range(3)]
        assert statuses[-1] == 503, statuses  # two failed attempts opened the breaker
        calls = mock_stats(mport)["by_model"]["rl-down"]
        assert calls == 2
        with open(os.path.join(str(tmp_path), "girder.yaml"), "w") as f:
            f.write(BREAKER_CONF.format(port=mport, extra="  - {alias: added, deployments: "
                                        "[{provider: mock, model: rl-up}]}"))
        g.p.send_signal(signal.SIGHUP)
        end = time.monotonic() + 5
        while models(port) != ["added", "kept"] and time.monotonic() < end:
            time.sleep(0.05)
        assert models(port) == ["added", "kept"]
        st, h, _ = request(port, "POST", "/v1/chat/completions", {"model": "kept"})
        assert st == 503 and h["x-girder-attempts"] == "0"  # still open: no upstream call
        assert mock_stats(mport)["by_model"]["rl-down"] == calls
        assert request(port, "POST", "/v1/chat/completions", {"model": "added"})[0] == 200
    finally:
        g.stop()
        mock.stop()
    assert_clean(g)

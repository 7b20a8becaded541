"""Proxies from the environment are honoured by the upstream client (curl's rules):
http_proxy sends http:// upstreams through the proxy, NO_PROXY exempts hosts. The mock
upstream doubles as the forward proxy: it answers absolute-form requests itself."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwharness import assert_clean, mock_stats, request, start_girder, start_mock  # noqa: E402

CONFIG = """
listen: 127.0.0.1:0
threads: 1
providers:
  - {name: far, base_url: "http://upstream.invalid:9/v1", first_byte_timeout_ms: 3000}
models:
  - {alias: far, retries: 0, deployments: [{provider: far, model: via-proxy}]}
"""


def run(tmp_path, env):
    mock, mport = start_mock()
    env = {k: v.replace("PORT", str(mport)) for k, v in env.items()}
    g, port = start_girder(CONFIG, tmp_path, env)
    try:
        st, h, b = request(port, "POST", "/v1/chat/completions",
                           {"model": "far", "messages": []})
        return st, b, mock_stats(mport)
    finally:
        g.stop()
        mock.stop()
        assert_clean(g)


def test_http_proxy_is_used(tmp_path):
    st, b, stats = run(tmp_path, {"http_proxy": "http://127.0.0.1:PORT"})
    assert st == 200, b
    assert stats["last"]["via-proxy"]["target"] == \
        "http://upstream.invalid:9/v1/chat/completions"


def test_no_proxy_exempts_the_host(tmp_path):
    st, b, stats = run(tmp_path, {"http_proxy": "http://127.0.0.1:PORT",
                                  "NO_PROXY": "upstream.invalid"})
    assert st == 502 and json.loads(b)["error"]["code"] == "upstream_error"
    assert "via-proxy" not in stats["by_model"]


FALLBACK = """
listen: 127.0.0.1:0
threads: 1
providers:
  - {name: far, base_url: "http://upstream.invalid:9/v1", first_byte_timeout_ms: 300}
  - {name: near, base_url: "http://127.0.0.1:%d/v1"}
models:
  - {alias: near, retries: 0, deployments: [{provider: near, model: ok-near}]}
  - {alias: far, retries: 1, deployments: [{provider: far, model: "slow:2000"}],
     fallbacks: [near]}
"""


def test_timed_out_proxied_attempts_fall_back_to_the_own_client(tmp_path):
    # libcurl (through the proxy) times out twice on its first-byte timer, then the
    # fallback runs on girder's own client: one request's attempts on both clients
    mock, mport = start_mock()
    g, port = start_girder(FALLBACK % mport, tmp_path,
                           {"http_proxy": "http://127.0.0.1:%d" % mport, "NO_PROXY": "127.0.0.1"})
    try:
        for _ in range(2):
            st, h, b = request(port, "POST", "/v1/chat/completions",
                               {"model": "far", "messages": []})
            assert st == 200, b
            assert json.loads(b)["model"] == "ok-near"
        stats = mock_stats(mport)
        assert stats["by_model"]["slow:2000"] == 4 and stats["by_model"]["ok-near"] == 2
    finally:
        g.stop()
        mock.stop()
        assert_clean(g)

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

"""A real Prometheus server (Debian's prometheus) scrapes girder's /metrics, and PromQL over
its HTTP API finds the documented series: HTTP requests and durations, gateway requests,
tokens and breaker states, model-serving requests, queue and readiness, process metrics.
A scrape that Prometheus cannot parse would show as up == 0 with the parser's error."""
import json
import os
import shutil
import socket
import sys
import time
import urllib.parse
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
sys.path.insert(0, os.path.join(HERE, "..", "serve"))
import models  # noqa: E402
from gwharness import Proc, assert_clean, request, start_girder, start_mock  # noqa: E402

PROM = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(not PROM, reason="Debian's prometheus needed")

MIX = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 5, 2]},
                  {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [2, 2, 2]}]}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def query(pport, q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (pport, urllib.parse.urlencode({"query": q}))
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def start_prometheus(tmp_path, port):
    """Debian's prometheus scraping girder on port every second: (process, its port)."""
    pport = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n  - job_name: girder\n    static_configs:\n"
        "      - targets: ['127.0.0.1:%d']\n" % port)
    return Proc([PROM, "--config.file=%s" % (tmp_path / "prometheus.yml"),
                 "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
                 "--web.listen-address=127.0.0.1:%d" % pport, "--log.level=warn"]), pport


def targets(pport):
    with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/targets" % pport, timeout=10) as r:
        return json.load(r)["data"]["activeTargets"]


def test_prometheus_scrapes_the_documented_series(tmp_path):
    models.mix(str(tmp_path / "mix.onnx"))
    mock, mport = start_mock()
    g, port = start_girder(
        "providers:\n  - {name: mock, base_url: \"http://127.0.0.1:%d/v1\"}\n"
        "models:\n  - {alias: chat, deployments: [{provider: mock, model: ok-a}]}\n"
        "serving:\n  models:\n    - {name: mix, path: mix.onnx}\n" % mport, tmp_path)
    prom, pport = start_prometheus(tmp_path, port)
    try:
        for _ in range(3):
            assert request(port, "POST", "/v1/chat/completions",
                           {"model": "chat", "messages": [{"role": "user", "content": "hi"}]})[0] \
                == 200
            assert request(port, "POST", "/v2/models/mix/infer", MIX)[0] == 200
        want = {
            'up{job="girder"}': None,
            'girder_http_requests_total{route="/v1/chat/completions",status="200"}': 3,
            'girder_http_request_duration_seconds_count{route="/v2/models/*"}': None,
            'girder_gateway_requests_total{alias="chat",status="200"}': 3,
            'girder_gateway_tokens_total{alias="chat",type="prompt"}': None,
            'girder_gateway_breaker_state{alias="chat"}': 0,
            'girder_inference_requests_total{model="mix",status="200"}': 3,
            'girder_inference_compute_duration_seconds_bucket{model="mix",le="+Inf"}': 3,
            'girder_inference_model_ready{model="mix"}': 1,
            'girder_inference_queue_depth{model="mix"}': 0,
            'process_resident_memory_bytes{job="girder"}': None,
        }
        results, end = {}, time.monotonic() + 60
        while time.monotonic() < end and len(results) < len(want):
            for q, v in want.items():
                try:
                    r = query(pport, q)
                except OSError:  # Prometheus still starting
                    break
                if r and (v is None or float(r[0]["value"][1]) == v):
                    results[q] = r
            time.sleep(0.5)
        missing = sorted(set(want) - set(results))
        assert not missing, (missing, targets(pport) if results else "prometheus not up",
                             "".join(prom.lines[-20:]))
        assert float(results['up{job="girder"}'][0]["value"][1]) == 1
        t = [t for t in targets(pport) if t["labels"]["job"] == "girder"][0]
        assert t["health"] == "up" and not t["lastError"], t
    finally:
        prom.stop()
        g.stop()
        mock.stop()
    assert_clean(g)

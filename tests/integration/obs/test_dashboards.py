"""The Grafana dashboards in docs/grafana: well-formed (unique ids, a datasource variable on
every panel, panels inside the 24-column grid), and every query in them is valid PromQL that
returns series when a real Prometheus (Debian's) scrapes a girder running the gateway (with
governance, PII masking and the response cache), model serving (with a fallback) and GPU
telemetry (fake_nvml.c) — so a renamed metric or label breaks this test, not a dashboard."""
import glob
import hashlib
import json
import os
import shutil
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
sys.path.insert(0, os.path.join(HERE, "..", "serve"))
import models  # noqa: E402
from gwharness import assert_clean, request, start_girder, start_mock  # noqa: E402
from test_prometheus import MIX, query, start_prometheus  # noqa: E402

PROM = shutil.which("prometheus")
DASHBOARDS = sorted(glob.glob(os.path.join(HERE, "..", "..", "..", "docs", "grafana", "*.json")))
KEY = "gk-dashboards-0123456789abcdef"


def panels():
    for path in DASHBOARDS:
        with open(path) as f:
            d = json.load(f)
        for p in d["panels"]:
            yield os.path.basename(path), d, p


def test_dashboards_are_well_formed():
    assert {os.path.basename(p) for p in DASHBOARDS} == {"gateway.json", "serving.json",
                                                         "gpu.json"}
    uids = set()
    for path in DASHBOARDS:
        with open(path) as f:
            d = json.load(f)
        assert d["uid"] not in uids and d["title"] and d["schemaVersion"] >= 36, path
        uids.add(d["uid"])
        names = [v["name"] for v in d["templating"]["list"]]
        assert names[:2] == ["datasource", "instance"], (path, names)
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), (path, ids)
    for name, _, p in panels():
        g = p["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24 and g["h"] > 0, (name, p["title"], g)
        assert p["datasource"]["uid"] == "${datasource}", (name, p["title"])
        assert p["targets"] and len({t["refId"] for t in p["targets"]}) == len(p["targets"])
        for t in p["targets"]:
            assert 'instance=~"$instance"' in t["expr"], (name, p["title"], t["expr"])


CONFIG = """
providers:
  - {{name: mock, base_url: "http://127.0.0.1:{port}/v1"}}
models:
  - {{alias: chat, deployments: [{{provider: mock, model: ok-a}}]}}
cache: {{aliases: [chat]}}
governance:
  pii: {{action: mask, restore: true}}
  prices:
    - {{model: ok-a, input_per_1m: 1.0, output_per_1m: 2.0}}
  keys:
    - {{id: dash, key_sha256: "{sha}", budget: {{usd: 100, period: monthly}}}}
serving:
  models:
    - {{name: mix, path: mix.onnx, fallback: mix2}}
    - {{name: mix2, path: mix.onnx}}
"""


@pytest.mark.skipif(not PROM, reason="Debian's prometheus needed")
def test_every_query_returns_series(tmp_path):
    models.mix(str(tmp_path / "mix.onnx"))
    mock, mport = start_mock()
    conf = CONFIG.format(port=mport, sha=hashlib.sha256(KEY.encode()).hexdigest())
    g, port = start_girder(conf, tmp_path, {"GIRDER_NVML_LIBRARY": os.environ.get("FAKE_NVML", ""),
                                            "GIRDER_GPU_INTERVAL_MS": "200"})
    prom, pport = start_prometheus(tmp_path, port)
    auth = {"Authorization": "Bearer " + KEY}
    chat = {"model": "chat", "messages": [{"role": "user", "content": "mail jane@example.com"}]}
    try:
        exprs = {t["expr"].replace("$__rate_interval", "15s").replace("$instance", ".*"):
                 (name, p["title"]) for name, _, p in panels() for t in p["targets"]}
        missing, end = dict(exprs), time.monotonic() + 90
        while missing and time.monotonic() < end:
            # traffic on every path the dashboards show, repeated so rates stay defined
            assert request(port, "POST", "/v1/chat/completions", chat, auth)[0] == 200
            assert request(port, "POST", "/v1/chat/completions", chat)[0] == 401
            assert request(port, "POST", "/v2/models/mix/infer", MIX)[0] == 200
            for q in list(missing):
                try:
                    if query(pport, q):
                        del missing[q]
                except OSError:  # Prometheus still starting
                    break
            time.sleep(0.5)
        assert not missing, (missing, "".join(prom.lines[-20:]))
    finally:
        prom.stop()
        g.stop()
        mock.stop()
    assert_clean(g)

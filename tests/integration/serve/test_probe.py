"""Health probes and warm-up of served models: a model is ready only while its probe (a
KServe v2 request through its own queue, answer compared with the expected response)
passes; /v2/health/ready, /readyz, model ready, infer and metrics follow it; a required
model failing its first probe refuses the start; a stuck model turns not ready and back."""
import json
import os
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import models  # noqa: E402
from gwharness import assert_clean, request, start_girder  # noqa: E402

BIN = os.environ["GIRDER_BIN"]

MIX_REQUEST = {"inputs": [
    {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 5, 2]},
    {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [2, 2, 2]}]}
# what mix.onnx answers: sum, x > y, argmax(x)
MIX_EXPECT = {"outputs": [
    {"name": "sum", "shape": [1, 3], "datatype": "FP32", "data": [3, 7, 4]},
    {"name": "gt", "data": [False, True, False]},
    {"name": "idx", "data": [1]}]}
WRONG_EXPECT = {"outputs": [{"name": "sum", "data": [3, 7, 4.5]}]}
SLOW_REQUEST = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1]},
                           {"name": "rows", "shape": [1], "datatype": "INT64", "data": [1]}]}

CONFIG = """
serving:
  models:
    - name: mix
      path: mix.onnx
      warmup: 2
      probe:
        request: mix_req.json
        expect: mix_expect.json
    - name: wrong
      path: mix.onnx
      required: false
      probe: {request: mix_req.json, expect: wrong_expect.json}
    - name: zeros
      path: dense.onnx
      warmup: 3
    - name: slow
      path: slow.onnx
      max_queue: 8
      probe: {request: slow_req.json, interval_ms: 100, timeout_ms: 300}
"""


def write_files(d):
    models.build_all(str(d))
    for name, body in (("mix_req.json", MIX_REQUEST), ("mix_expect.json", MIX_EXPECT),
                       ("wrong_expect.json", WRONG_EXPECT), ("slow_req.json", SLOW_REQUEST)):
        (d / name).write_text(json.dumps(body))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("probe")
    write_files(d)
    g, port = start_girder(CONFIG, d)
    yield port, d, g
    g.stop()
    assert_clean(g)


def get(port, path):
    status, _, out = request(port, "GET", path)
    return status, json.loads(out)


def slow_body(rows):
    b = json.loads(json.dumps(SLOW_REQUEST))
    b["inputs"][1]["data"] = [rows]
    return b


def test_passing_probe_and_warm_up_are_ready(server):
    port, _, _ = server
    assert get(port, "/v2/health/ready") == (200, {"ready": True})
    assert get(port, "/readyz") == (200, {"status": "ready"})
    assert get(port, "/v2/models/mix/ready") == (200, {"name": "mix", "ready": True})
    assert get(port, "/v2/models/zeros/ready")[0] == 200  # warmed up on zeros, no probe
    status, _, out = request(port, "POST", "/v2/models/mix/infer", MIX_REQUEST)
    assert status == 200, out


def test_failing_probe_of_optional_model_names_the_difference(server):
    port, _, g = server
    status, body = get(port, "/v2/models/wrong/ready")
    assert status == 400 and body["ready"] is False
    assert "failed its health probe" in body["reason"]
    assert "output 'sum'[2] is 4" in body["reason"] and "expected 4.5" in body["reason"]
    status, _, out = request(port, "POST", "/v2/models/wrong/infer", MIX_REQUEST)
    assert status == 503 and b"health probe" in out
    # optional: the server stays ready
    assert get(port, "/v2/health/ready")[0] == 200
    g.wait_for(r"model failed its health probe.*model=wrong")


def test_ready_metric(server):
    port, _, _ = server
    text = request(port, "GET", "/metrics")[2].decode()
    assert 'girder_inference_model_ready{model="mix",version="1"} 1' in text
    assert 'girder_inference_model_ready{model="wrong",version="1"} 0' in text


def rows_for(port, seconds):
    t0 = time.monotonic()
    assert request(port, "POST", "/v2/models/slow/infer", slow_body(256))[0] == 200
    per_row = max((time.monotonic() - t0) / 256, 1e-6)
    return int(min(max(seconds / per_row, 256), 1 << 20))


def test_stuck_model_turns_not_ready_and_recovers(server):
    """A long request holds slow's only worker: its periodic probe (timeout 300 ms) is not
    answered, so the model and the server (it is required) turn not ready, then ready
    again once the worker is free."""
    port, _, g = server
    rows = rows_for(port, 1.5)
    res = {}
    t = threading.Thread(target=lambda: res.setdefault(
        "r", request(port, "POST", "/v2/models/slow/infer", slow_body(rows), timeout=60)))
    t.start()
    seen = None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and t.is_alive():
        status, body = get(port, "/readyz")
        if status == 503:
            seen = body
            break
        time.sleep(0.05)
    assert seen, "never turned not ready while the worker was held"
    assert seen["status"] == "not ready"
    assert "model 'slow' failed its health probe" in seen["reason"], seen
    assert get(port, "/v2/health/ready") == (400, {"ready": False})
    t.join()
    assert res["r"][0] == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and get(port, "/readyz")[0] != 200:
        time.sleep(0.05)
    assert get(port, "/readyz") == (200, {"status": "ready"})
    g.wait_for(r"model passes its health probe: ready")  # logged just after the switch


def run_serve(d, config):
    path = d / "g.yaml"
    path.write_text(config)
    p = subprocess.run([BIN, "serve", "--config", str(path), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_required_model_failing_its_first_probe_refuses_start(tmp_path):
    write_files(tmp_path)
    rc, out = run_serve(tmp_path, "serving:\n  models:\n    - name: mix\n      path: mix.onnx\n"
                                  "      probe: {request: mix_req.json, expect: wrong_expect.json}\n")
    assert rc != 0
    assert "model 'mix' failed its health probe" in out and "expected 4.5" in out, out


def test_probe_request_that_does_not_fit_the_model(tmp_path):
    write_files(tmp_path)
    (tmp_path / "bad_req.json").write_text('{"inputs": [{"name": "nope", "shape": [1], '
                                           '"datatype": "FP32", "data": [1]}]}')
    rc, out = run_serve(tmp_path, "serving:\n  models:\n    - name: mix\n      path: mix.onnx\n"
                                  "      probe: {request: bad_req.json}\n")
    assert rc != 0 and "probe request does not fit the model" in out, out


def test_warm_up_of_bytes_input_without_probe_is_refused(tmp_path):
    write_files(tmp_path)
    rc, out = run_serve(tmp_path, "serving:\n  models:\n    - name: text\n      path: text.onnx\n"
                                  "      warmup: 1\n")
    assert rc != 0 and "warm-up failed" in out and "give probe.request" in out, out


def test_config_check_names_probe_mistakes(tmp_path):
    write_files(tmp_path)
    path = tmp_path / "g.yaml"
    path.write_text("serving:\n  models:\n    - name: mix\n      path: mix.onnx\n"
                    "      probe:\n        request: missing.json\n        atol: -1\n"
                    "        color: red\n")
    p = subprocess.run([BIN, "config", "check", str(path)], capture_output=True, text=True,
                       timeout=60)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "g.yaml:6:18" in out and "no probe file" in out, out
    assert "g.yaml:7:15" in out and "expected a number >= 0" in out, out
    assert "color" in out, out

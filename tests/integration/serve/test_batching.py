"""Dynamic batching: concurrent requests to a batched model share engine runs (the batch
size histogram shows it), every answer equals the unbatched model's within 1e-5, preferred
sizes dispatch without waiting out the delay, and batch limits are enforced."""
import json
import os
import re
import sys
import threading
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import models  # noqa: E402
from gwharness import assert_clean, request, start_girder  # noqa: E402

import pytest  # noqa: E402

CONFIG = """
serving:
  models:
    - name: plain
      path: dense.onnx
    - name: batched
      path: dense.onnx
      max_batch_size: 16
      dynamic_batching:
        max_queue_delay_us: 300000
    - name: preferred
      path: dense.onnx
      max_batch_size: 16
      dynamic_batching:
        max_queue_delay_us: 1000000
        preferred_batch_sizes: [4]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    models.build_all(str(d))
    g, port = start_girder(CONFIG, d)
    yield port
    g.stop()
    assert_clean(g)


def infer(port, model, x):
    body = {"inputs": [{"name": "x", "shape": list(x.shape), "datatype": "FP32",
                        "data": x.flatten().tolist()}]}
    status, _, out = request(port, "POST", "/v2/models/%s/infer" % model, body)
    resp = json.loads(out)
    if status != 200:
        return status, resp
    o = resp["outputs"][0]
    return status, np.array(o["data"], np.float32).reshape(o["shape"])


def concurrently(fn, args_list):
    results = [None] * len(args_list)

    def run(i):
        results[i] = fn(*args_list[i])

    ts = [threading.Thread(target=run, args=(i,)) for i in range(len(args_list))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def batch_stats(port, model):
    text = request(port, "GET", "/metrics")[2].decode()
    def val(metric):
        m = re.search(r'^%s\{model="%s",version="1"\} (\S+)$' % (metric, model), text, re.M)
        return float(m.group(1)) if m else 0.0
    return val("girder_inference_batch_size_count"), val("girder_inference_batch_size_sum")


def test_concurrent_requests_share_runs_and_match_unbatched(server):
    port = server
    rng = np.random.default_rng(11)
    xs = [rng.standard_normal((1 + i % 3, 64)).astype(np.float32) for i in range(8)]
    expected = [infer(port, "plain", x) for x in xs]
    n0, sum0 = batch_stats(port, "batched")
    got = concurrently(infer, [(port, "batched", x) for x in xs])
    for (s1, e), (s2, g) in zip(expected, got):
        assert s1 == 200 and s2 == 200, g
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)
    # each request observes the size of the run that served it: a mean above 1 means shared runs
    n, total = batch_stats(port, "batched")
    assert n - n0 == 8
    assert (total - sum0) / (n - n0) > 1.5, (n - n0, total - sum0)


def test_preferred_size_dispatches_without_waiting(server):
    port = server
    x = np.ones((1, 64), np.float32)
    t0 = time.monotonic()
    got = concurrently(infer, [(port, "preferred", x)] * 4)
    assert all(s == 200 for s, _ in got)
    assert time.monotonic() - t0 < 0.8  # the delay is 1 s: a batch of 4 goes at once


def test_batch_limits(server):
    port = server
    status, resp = infer(port, "batched", np.ones((17, 64), np.float32))
    assert status == 400 and "exceeds the model's max_batch_size (16)" in resp["error"], resp


def test_fixed_batch_dimension_refuses_batching(tmp_path):
    models.slow(str(tmp_path / "slow.onnx"))
    (tmp_path / "g.yaml").write_text(
        "serving:\n  models:\n    - name: s\n      path: slow.onnx\n      max_batch_size: 4\n")
    import subprocess
    p = subprocess.run([os.environ["GIRDER_BIN"], "serve", "--config", str(tmp_path / "g.yaml"),
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "input 'x' has no open batch dimension" in p.stdout + p.stderr


def test_config_check_batching_errors(tmp_path):
    models.dense(str(tmp_path / "d.onnx"))
    (tmp_path / "g.yaml").write_text(
        "serving:\n  models:\n    - name: d\n      path: d.onnx\n      dynamic_batching:\n"
        "        max_queue_delay_us: 10\n    - name: e\n      path: d.onnx\n"
        "      max_batch_size: 8\n      dynamic_batching:\n"
        "        preferred_batch_sizes: [4, 2, 9]\n")
    import subprocess
    p = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(tmp_path / "g.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "g.yaml:6:9:" in p.stderr and "needs max_batch_size" in p.stderr, p.stderr
    assert "g.yaml:11:36:" in p.stderr and "g.yaml:11:39:" in p.stderr, p.stderr

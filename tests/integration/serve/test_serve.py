"""`girder serve` as an Open Inference Protocol (KServe v2) model server: metadata, health,
JSON inference for every datatype family, 400s that name the input, 404/405, queue-full
503 with Retry-After, deadlines (504, never run), client disconnects, metrics, config
errors and reloads that refuse a corrupt model."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import models  # noqa: E402
from gwharness import assert_clean, request, start_girder  # noqa: E402

BIN = os.environ["GIRDER_BIN"]

CONFIG = """
serving:
  models:
    - name: mix
      path: mix.onnx
      version: 3
    - name: half
      path: half.onnx
    - name: text
      path: text.onnx
    - name: slow
      path: slow.onnx
      max_queue: 1
    - name: slow-bytes
      path: slow.onnx
      max_queue: 8
      max_queue_bytes: 16
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    models.build_all(str(d))
    g, port = start_girder(CONFIG, d)
    yield port, d, g
    g.stop()
    assert_clean(g)


def post(port, path, body, headers=None):
    status, hdrs, out = request(port, "POST", path, body, headers)
    return status, hdrs, json.loads(out)


def get(port, path):
    status, hdrs, out = request(port, "GET", path)
    return status, json.loads(out) if out else None


def tensor(name, arr, datatype):
    return {"name": name, "shape": list(arr.shape), "datatype": datatype,
            "data": arr.flatten().tolist()}


def outputs_by_name(resp):
    return {o["name"]: o for o in resp["outputs"]}


# ---- metadata and health ----

def test_server_metadata_and_health(server):
    port, _, _ = server
    status, meta = get(port, "/v2")
    assert status == 200 and meta["name"] == "girder" and "version" in meta
    assert "binary_tensor_data" in meta["extensions"]
    assert get(port, "/v2/health/live") == (200, {"live": True})
    assert get(port, "/v2/health/ready") == (200, {"ready": True})


def test_model_metadata(server):
    port, _, _ = server
    status, meta = get(port, "/v2/models/mix")
    assert status == 200
    assert meta["name"] == "mix" and meta["versions"] == ["3"] and meta["platform"] == "onnx"
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 3]},
                              {"name": "y", "datatype": "FP32", "shape": [-1, 3]}]
    assert [(o["name"], o["datatype"], o["shape"]) for o in meta["outputs"]] == [
        ("sum", "FP32", [-1, 3]), ("gt", "BOOL", [-1, 3]), ("idx", "INT64", [-1, 1])]
    assert get(port, "/v2/models/mix/versions/3") == (200, meta)
    assert get(port, "/v2/models/mix/ready") == (200, {"name": "mix", "ready": True})
    assert get(port, "/v2/models/mix/versions/3/ready")[0] == 200
    assert get(port, "/v2/models/text")[1]["inputs"][0]["datatype"] == "BYTES"
    assert get(port, "/v2/models/half")[1]["inputs"][0]["datatype"] == "FP16"


def test_unknown_models_versions_and_routes(server):
    port, _, _ = server
    assert get(port, "/v2/models/nope") == (404, {"error": "unknown model 'nope'"})
    assert get(port, "/v2/models/mix/versions/1") == (
        404, {"error": "model 'mix' has no version '1'"})
    assert get(port, "/v2/models/mix/bogus")[0] == 404
    assert get(port, "/v2/models/mix/versions/3/ready/x")[0] == 404
    status, _, body = post(port, "/v2/models/nope/infer", {"inputs": []})
    assert status == 404 and body == {"error": "unknown model 'nope'"}
    status, hdrs, _ = request(port, "GET", "/v2/models/mix/infer")
    assert status == 405 and hdrs["allow"] == "POST"
    status, hdrs, _ = request(port, "POST", "/v2/models/mix", "{}")
    assert status == 405


# ---- inference ----

def test_infer_matches_numpy(server):
    port, _, _ = server
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    y = rng.standard_normal((4, 3)).astype(np.float32)
    status, _, resp = post(port, "/v2/models/mix/versions/3/infer", {
        "id": "req-42", "inputs": [tensor("x", x, "FP32"), tensor("y", y, "FP32")]})
    assert status == 200, resp
    assert resp["model_name"] == "mix" and resp["model_version"] == "3"
    assert resp["id"] == "req-42"
    out = outputs_by_name(resp)
    assert out["sum"]["datatype"] == "FP32" and out["sum"]["shape"] == [4, 3]
    np.testing.assert_allclose(np.array(out["sum"]["data"], np.float32).reshape(4, 3), x + y,
                               rtol=1e-6)
    assert out["gt"]["datatype"] == "BOOL"
    assert out["gt"]["data"] == (x > y).flatten().tolist()
    assert out["idx"] == {"name": "idx", "datatype": "INT64", "shape": [4, 1],
                          "data": np.argmax(x, axis=1).tolist()}


def test_nested_data_and_requested_outputs(server):
    port, _, _ = server
    status, _, resp = post(port, "/v2/models/mix/infer", {
        "inputs": [{"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [[1, 2, 3]]},
                   {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [[3, 2, 1]]}],
        "outputs": [{"name": "idx"}]})
    assert status == 200, resp
    assert "id" not in resp
    assert resp["outputs"] == [{"name": "idx", "datatype": "INT64", "shape": [1, 1],
                                "data": [0]}]


def test_fp16_and_bytes(server):
    port, _, _ = server
    status, _, resp = post(port, "/v2/models/half/infer", {
        "inputs": [{"name": "h", "shape": [3], "datatype": "FP16", "data": [1.5, -2, 0.25]}]})
    assert status == 200, resp
    assert resp["outputs"][0]["datatype"] == "FP16"
    assert resp["outputs"][0]["data"] == [2.25, 4, 0.0625]
    words = ["héllo", 'quo"te', "", "tab\there"]
    status, _, resp = post(port, "/v2/models/text/infer", {
        "inputs": [{"name": "s", "shape": [4], "datatype": "BYTES", "data": words}]})
    assert status == 200, resp
    assert resp["outputs"][0] == {"name": "same", "datatype": "BYTES", "shape": [4],
                                  "data": words}


@pytest.mark.parametrize("body,fragment", [
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]},
                 {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "input 'x': datatype FP64 does not match the model's FP32"),
    ({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                 {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "input 'x': dimension 1 is 4, the model expects 3"),
    ({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]},
                 {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "input 'x': shape has 1 dimensions, the model expects 2"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
                 {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 2]}]},
     "input 'y'"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "missing input 'y'"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
                 {"name": "z", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "unknown input 'z'"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
                 {"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "input 'x' given twice"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, "a"]},
                 {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]},
     "input 'x'"),
    ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
                 {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}],
      "outputs": [{"name": "nope"}]},
     "unknown output 'nope'"),
    ({"inputs": "x"}, "'inputs' must be an array"),
    ([1, 2], "must be a JSON object"),
    ({"id": 5, "inputs": []}, "'id' must be a string"),
    ({"parameters": {"timeout": -1}, "inputs": []}, "parameters.timeout"),
])
def test_bad_requests_name_the_problem(server, body, fragment):
    port, _, _ = server
    status, _, resp = post(port, "/v2/models/mix/infer", body)
    assert status == 400, resp
    assert fragment in resp["error"], resp


def test_malformed_json_is_400_with_position(server):
    port, _, _ = server
    status, _, resp = post(port, "/v2/models/mix/infer", '{"inputs": [1, }')
    assert status == 400 and resp["error"].startswith("invalid JSON at byte "), resp
    status, _, resp = post(port, "/v2/models/mix/infer", "")
    assert status == 400, resp


def test_integer_input_refuses_fractions(server):
    # an INT64 input (slow's rows) refuses a fraction and accepts a whole number
    port, _, _ = server
    body = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [2.5]},
                       {"name": "rows", "shape": [1], "datatype": "INT64", "data": [1.5]}]}
    status, _, resp = post(port, "/v2/models/slow/infer", body)
    assert status == 400 and "input 'rows'" in resp["error"], resp
    body["inputs"][1]["data"] = [3]
    status, _, resp = post(port, "/v2/models/slow/infer", body)
    assert status == 200, resp
    assert resp["outputs"][0]["data"] == [pytest.approx(2.5, rel=1e-5)]


# ---- queue, deadlines, disconnects ----

def slow_body(rows, timeout_us=None):
    b = {"inputs": [{"name": "x", "shape": [1, 1], "datatype": "FP32", "data": [1]},
                    {"name": "rows", "shape": [1], "datatype": "INT64", "data": [rows]}]}
    if timeout_us is not None:
        b["parameters"] = {"timeout": timeout_us}
    return b


def rows_for(port, seconds):
    """Rows that make one slow.onnx run take about `seconds` on this machine."""
    for _ in range(100):  # an earlier test's work may still hold the model: wait it out
        if post(port, "/v2/models/slow/infer", slow_body(256))[0] != 503:
            break
        time.sleep(0.05)
    t0 = time.monotonic()
    assert post(port, "/v2/models/slow/infer", slow_body(256))[0] == 200
    per_row = max((time.monotonic() - t0) / 256, 1e-6)
    return int(min(max(seconds / per_row, 256), 65536))


def in_thread(fn, *args):
    res = {}
    t = threading.Thread(target=lambda: res.setdefault("r", fn(*args)))
    t.start()
    return t, res


def test_queue_full_is_503_with_retry_after(server):
    port, _, _ = server
    rows = rows_for(port, 2.0)
    t1, r1 = in_thread(post, port, "/v2/models/slow/infer", slow_body(rows))
    time.sleep(0.3)  # t1 is running: the queue (max 1) is empty
    t2, r2 = in_thread(post, port, "/v2/models/slow/infer", slow_body(256))
    time.sleep(0.3)  # t2 waits in the queue: it is full (t1 runs for ~2 s)
    status, hdrs, resp = post(port, "/v2/models/slow/infer", slow_body(256))
    assert status == 503, resp
    assert hdrs["retry-after"] == "1"
    assert "overloaded" in resp["error"]
    # refused before the body is decoded: a malformed one gets the same 503, not a 400
    status, _, resp = post(port, "/v2/models/slow/infer", b'{"inputs": [')
    assert status == 503, resp
    t1.join()
    t2.join()
    assert r1["r"][0] == 200 and r2["r"][0] == 200


def test_queue_bytes_cap_is_503(server):
    """slow-bytes queues at most 16 bytes of inputs (one request holds 12: x and rows)."""
    port, _, _ = server
    rows = rows_for(port, 2.0)
    t1, r1 = in_thread(post, port, "/v2/models/slow-bytes/infer", slow_body(rows))
    time.sleep(0.3)  # t1 runs: the queue is empty
    t2, r2 = in_thread(post, port, "/v2/models/slow-bytes/infer", slow_body(256))
    time.sleep(0.3)  # t2 waits: 12 bytes queued (t1 runs for ~2 s)
    status, hdrs, resp = post(port, "/v2/models/slow-bytes/infer", slow_body(256))
    assert status == 503 and hdrs["retry-after"] == "1", resp
    assert "16 bytes of inputs" in resp["error"]
    t1.join()
    t2.join()
    assert r1["r"][0] == 200 and r2["r"][0] == 200


def test_deadline_expired_in_queue_is_504_and_never_runs(server):
    port, _, _ = server
    rows = rows_for(port, 0.5)
    t0 = time.monotonic()
    assert post(port, "/v2/models/slow/infer", slow_body(rows))[0] == 200
    run = time.monotonic() - t0  # one `rows` pass on this machine now
    t1, r1 = in_thread(post, port, "/v2/models/slow/infer", slow_body(rows))
    time.sleep(run / 5)
    t0 = time.monotonic()
    status, _, resp = post(port, "/v2/models/slow/infer", slow_body(rows, timeout_us=50000))
    waited = time.monotonic() - t0
    t1.join()
    assert status == 504, resp
    assert "deadline" in resp["error"]
    # it was answered when the worker reached it, without running another `rows` pass
    assert waited < run * 1.5, (waited, run)
    assert r1["r"][0] == 200


def test_client_gone_mid_inference_keeps_serving(server):
    port, _, _ = server
    rows = rows_for(port, 0.3)
    body = json.dumps(slow_body(rows)).encode()
    for _ in range(3):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Type: "
                  b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.05)
        s.close()
    status, _, resp = post(port, "/v2/models/mix/infer", {
        "inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
                   {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})
    assert status == 200, resp


def test_queued_request_of_a_gone_client_is_not_run(server):
    port, _, _ = server
    rows = rows_for(port, 0.6)
    t0 = time.monotonic()
    assert post(port, "/v2/models/slow/infer", slow_body(rows))[0] == 200
    run = time.monotonic() - t0  # one `rows` pass
    t1, r1 = in_thread(post, port, "/v2/models/slow/infer", slow_body(rows))
    time.sleep(run / 4)  # t1 runs
    body = json.dumps(slow_body(rows)).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Type: "
              b"application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    time.sleep(run / 4)  # queued behind t1
    s.close()
    t1.join()
    assert r1["r"][0] == 200
    time.sleep(0.05)  # the worker reaches the abandoned job and skips it
    t0 = time.monotonic()
    status, _, resp = post(port, "/v2/models/slow/infer", slow_body(16))
    assert status == 200, resp
    # had the abandoned job run, this one would have waited for most of a `rows` pass
    assert time.monotonic() - t0 < run / 2


def test_metrics_count_by_model_version_status(server):
    port, _, _ = server
    post(port, "/v2/models/mix/infer", {"inputs": []})
    status, _, text = request(port, "GET", "/metrics")
    text = text.decode()
    assert status == 200
    assert 'girder_inference_requests_total{model="mix",version="3",status="200"}' in text
    assert 'girder_inference_requests_total{model="mix",version="3",status="400"}' in text
    assert 'girder_inference_compute_duration_seconds_count{model="mix",version="3"}' in text
    assert 'girder_inference_queue_depth{model="slow"}' in text


# ---- configuration and reload ----

def run_cli(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def test_config_check_errors_have_positions(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("serving:\n  models:\n    - name: a\n      path: missing.onnx\n"
                    "    - name: a\n      path: g.yaml\n    - name: 'b/c'\n      path: g.yaml\n"
                    "      max_queue: 0\n")
    rc, out, err = run_cli("config", "check", str(path))
    assert rc == 1, out
    assert f"{path}:4:13:" in err and "missing.onnx" in err, err
    assert f"{path}:5:13:" in err and "'a'" in err, err
    assert f"{path}:7:13:" in err, err
    assert f"{path}:9:18:" in err, err


def test_config_check_accepts_and_summarises(tmp_path):
    models.mix(str(tmp_path / "m.onnx"))
    path = tmp_path / "g.yaml"
    path.write_text("serving:\n  models:\n    - name: m\n      path: m.onnx\n")
    rc, out, err = run_cli("config", "check", str(path))
    assert rc == 0, err
    assert "serving: 1 model (m)\n" in out


def test_corrupt_model_refuses_start_naming_it(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07\x12\xffnot a model")
    path = tmp_path / "g.yaml"
    path.write_text("serving:\n  models:\n    - name: broken\n      path: bad.onnx\n")
    p = subprocess.run([BIN, "serve", "--config", str(path), "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "model load failed" in out and "model 'broken'" in out, out


def test_reload_to_corrupt_model_keeps_old_one(tmp_path):
    models.mix(str(tmp_path / "m.onnx"))
    g, port = start_girder("serving:\n  models:\n    - name: m\n      path: m.onnx\n", tmp_path)
    body = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
                       {"name": "y", "shape": [1, 3], "datatype": "FP32", "data": [1, 1, 1]}]}
    try:
        assert post(port, "/v2/models/m/infer", body)[0] == 200
        (tmp_path / "bad.onnx").write_bytes(b"garbage")
        (tmp_path / "girder.yaml").write_text(
            "serving:\n  models:\n    - name: m\n      path: bad.onnx\n")
        g.p.send_signal(signal.SIGHUP)
        g.wait_for(r"config reload failed")
        assert post(port, "/v2/models/m/infer", body)[0] == 200
        # a good reload adds a model; the old one keeps answering throughout
        models.half(str(tmp_path / "h.onnx"))
        (tmp_path / "girder.yaml").write_text(
            "serving:\n  models:\n    - name: m\n      path: m.onnx\n"
            "    - name: h\n      path: h.onnx\n")
        g.p.send_signal(signal.SIGHUP)
        g.wait_for(r"config reloaded")
        assert get(port, "/v2/models/h")[0] == 200
        assert post(port, "/v2/models/m/infer", body)[0] == 200
    finally:
        g.stop()
    assert_clean(g)


# ---- binary tensor data extension (as Triton's HTTP client sends it) ----

def binary_request(port, model, header, blobs):
    head = json.dumps(header).encode()
    body = head + b"".join(blobs)
    status, hdrs, out = request(port, "POST", "/v2/models/%s/infer" % model, body, {
        "Content-Type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(head))})
    n = int(hdrs.get("inference-header-content-length", len(out)))
    return status, hdrs, json.loads(out[:n]), out[n:]


def test_binary_inputs_and_outputs(server):
    port, _, _ = server
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = np.full((2, 3), 2.5, np.float32)
    header = {"inputs": [
        {"name": "x", "shape": [2, 3], "datatype": "FP32",
         "parameters": {"binary_data_size": x.nbytes}},
        {"name": "y", "shape": [2, 3], "datatype": "FP32",
         "parameters": {"binary_data_size": y.nbytes}}],
        "outputs": [{"name": "sum", "parameters": {"binary_data": True}}, {"name": "idx"}]}
    status, hdrs, resp, tail = binary_request(port, "mix", header,
                                              [x.tobytes(), y.tobytes()])
    assert status == 200, resp
    assert hdrs["content-type"] == "application/octet-stream"
    out = outputs_by_name(resp)
    assert out["sum"]["parameters"] == {"binary_data_size": 24} and "data" not in out["sum"]
    np.testing.assert_array_equal(np.frombuffer(tail, "<f4").reshape(2, 3), x + y)
    assert out["idx"]["data"] == [2, 2]


def test_binary_bytes_and_all_outputs_binary(server):
    port, _, _ = server
    words = [b"abc", "héllo".encode(), b""]
    blob = b"".join(len(w).to_bytes(4, "little") + w for w in words)
    header = {"parameters": {"binary_data_output": True}, "inputs": [
        {"name": "s", "shape": [3], "datatype": "BYTES",
         "parameters": {"binary_data_size": len(blob)}}]}
    status, _, resp, tail = binary_request(port, "text", header, [blob])
    assert status == 200, resp
    assert resp["outputs"][0]["parameters"]["binary_data_size"] == len(blob)
    assert tail == blob


@pytest.mark.parametrize("header,blobs,fragment", [
    ({"inputs": [{"name": "h", "shape": [2], "datatype": "FP16",
                  "parameters": {"binary_data_size": 2}}]}, [b"\x00\x3c"],
     "input 'h': binary_data_size 2, its shape takes 4 bytes"),
    ({"inputs": [{"name": "h", "shape": [1], "datatype": "FP16",
                  "parameters": {"binary_data_size": 2}}]}, [b"\x00\x3c\x00"],
     "1 bytes of binary data are not claimed"),
    ({"inputs": [{"name": "h", "shape": [1], "datatype": "FP16",
                  "parameters": {"binary_data_size": 9}}]}, [b"\x00\x3c"],
     "within the 2 left"),
])
def test_binary_errors(server, header, blobs, fragment):
    port, _, _ = server
    status, _, resp, _ = binary_request(port, "half", header, blobs)
    assert status == 400 and fragment in resp["error"], resp


def test_binary_header_length_past_body(server):
    port, _, _ = server
    status, _, out = request(port, "POST", "/v2/models/half/infer", b"{}",
                             {"Inference-Header-Content-Length": "99"})
    assert status == 400 and b"Inference-Header-Content-Length" in out

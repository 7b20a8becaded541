"""A model repository in Triton's layout (<name>/<version>/model.onnx): version policies,
entries that add settings, POST /v2/repository/index, and polling: a new version is loaded
next to the running ones and swapped in, a corrupt one is refused while the old keeps
serving, and a client looping through both sees no failed request; explicit model control
(POST /v2/repository/models/{m}/load|unload) answers once the change is served."""
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from onnx import TensorProto as T
from onnx import helper as h

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import models  # noqa: E402
from gwharness import assert_clean, request, start_girder  # noqa: E402

BIN = os.environ["GIRDER_BIN"]
X = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [10]}]}


def plus(path, k):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    g = h.make_graph([h.make_node("Add", ["x", "k"], ["y"])], "plus%d" % k,
                     [h.make_tensor_value_info("x", T.FLOAT, ["n"])],
                     [h.make_tensor_value_info("y", T.FLOAT, ["n"])],
                     initializer=[h.make_tensor("k", T.FLOAT, [1], [float(k)])])
    models._save(g, path)


def make_repo(d):
    repo = d / "repo"
    plus(str(repo / "a" / "1" / "model.onnx"), 1)
    plus(str(repo / "a" / "2" / "model.onnx"), 2)
    plus(str(repo / "b" / "3" / "model.onnx"), 3)
    (repo / "a" / "notes").mkdir()                       # not a version
    (repo / "a" / "config.pbtxt").write_text("name: 'a'")  # Triton's file: ignored
    (repo / "empty").mkdir()                              # no version: not a model
    return repo


def infer(port, path, body=X, headers=None):
    status, hdrs, out = request(port, "POST", path, body, headers)
    return status, hdrs, json.loads(out)


def test_latest_policy_by_default_and_index(tmp_path):
    make_repo(tmp_path)
    g, port = start_girder("serving:\n  repository: repo\n", tmp_path)
    try:
        assert json.loads(request(port, "GET", "/v2/models/a")[2])["versions"] == ["2"]
        status, hdrs, out = infer(port, "/v2/models/a/infer")
        assert status == 200 and out["outputs"][0]["data"] == [12]
        assert request(port, "GET", "/v2/models/empty")[0] == 404
        status, _, out = request(port, "POST", "/v2/repository/index", b"")
        assert status == 200
        assert json.loads(out) == [{"name": "a", "version": "2", "state": "READY"},
                                   {"name": "b", "version": "3", "state": "READY"}]
        status, _, out = request(port, "POST", "/v2/repository/index", {"ready": True})
        assert status == 200 and len(json.loads(out)) == 2
        assert request(port, "POST", "/v2/repository/index", b"[1]")[0] == 400
    finally:
        g.stop()
    assert_clean(g)


def test_entry_settings_and_policies(tmp_path):
    make_repo(tmp_path)
    g, port = start_girder("serving:\n  repository: repo\n  version_policy: all\n  models:\n"
                           "    - name: b\n      max_queue: 3\n"
                           "    - name: a\n      version_policy: {specific: [1]}\n", tmp_path)
    try:
        assert json.loads(request(port, "GET", "/v2/models/a")[2])["versions"] == ["1"]
        assert json.loads(request(port, "GET", "/v2/models/b")[2])["versions"] == ["3"]
        assert infer(port, "/v2/models/a/infer")[2]["outputs"][0]["data"] == [11]
    finally:
        g.stop()
    assert_clean(g)


def test_polling_swaps_versions_and_refuses_a_corrupt_one(tmp_path):
    repo = make_repo(tmp_path)
    g, port = start_girder("serving:\n  repository: repo\n  repository_poll_ms: 100\n",
                           tmp_path)
    failures, answers, stop = [], [], threading.Event()

    def client():
        while not stop.is_set():
            status, _, out = infer(port, "/v2/models/a/infer")
            (answers if status == 200 else failures).append(
                out["outputs"][0]["data"][0] if status == 200 else (status, out))

    t = threading.Thread(target=client)
    t.start()
    try:
        time.sleep(0.3)
        tmp = tmp_path / "staging"
        plus(str(tmp / "model.onnx"), 3)
        os.rename(str(tmp), str(repo / "a" / "3"))  # appears whole
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not answers or answers[-1] != 13):
            time.sleep(0.05)
        assert answers and answers[-1] == 13, answers[-5:]
        g.wait_for(r"config reloaded")
        # b did not change: the reload shared it instead of loading it again
        g.wait_for(r'msg="model kept \(unchanged\)" model=b version=3')
        status, _, out = infer(port, "/v2/models/b/infer")
        assert status == 200 and out["outputs"][0]["data"] == [13]
        # a corrupt version 4: the reload is refused, version 3 keeps answering
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "model.onnx").write_bytes(b"\x08\x07\x12\xffnot a model")
        os.rename(str(bad), str(repo / "a" / "4"))
        g.wait_for(r"config reload failed", timeout=20)
        n = len(answers)
        time.sleep(0.3)
        assert len(answers) > n and answers[-1] == 13
        assert json.loads(request(port, "GET", "/v2/models/a")[2])["versions"] == ["3"]
    finally:
        stop.set()
        t.join()
        g.stop()
    assert not failures, failures[:3]
    assert set(answers) <= {12, 13}
    assert_clean(g)


def check(tmp_path, text):
    path = tmp_path / "g.yaml"
    path.write_text(text)
    p = subprocess.run([BIN, "config", "check", str(path)], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout + p.stderr


def test_config_errors(tmp_path):
    rc, out = check(tmp_path, "serving:\n  repository: nowhere\n")
    assert rc != 0 and "g.yaml:2:15" in out and "cannot read the model repository" in out, out
    make_repo(tmp_path)
    rc, out = check(tmp_path, "serving:\n  repository: repo\n  version_policy: newest\n")
    assert rc != 0 and "g.yaml:3:19" in out and "expected latest, all" in out, out
    rc, out = check(tmp_path, "serving:\n  repository: repo\n  models:\n    - name: a\n"
                    "      path: x.onnx\n")
    assert rc != 0 and "g.yaml:5:13" in out and "is in the repository" in out, out
    rc, out = check(tmp_path, "serving:\n  repository: repo\n  models:\n    - name: a\n"
                    "      version_policy: {specific: [7]}\n")
    assert rc != 0 and "version 7 of 'a' is not in the repository" in out, out
    rc, out = check(tmp_path, "serving:\n  models:\n    - name: m\n      path: repo/a/1/model.onnx\n"
                    "      version_policy: all\n")
    assert rc != 0 and "applies to models of the repository only" in out, out
    rc, out = check(tmp_path, "serving:\n  repository: repo\n  version_policy: {latest: 2}\n")
    assert rc == 0 and "a x2 versions" in out and "b)" in out, out


def control(port, name, what, body=b""):
    status, _, out = request(port, "POST", "/v2/repository/models/%s/%s" % (name, what), body)
    return status, (json.loads(out) if out else None)


def index(port):
    return {(e["name"], e["version"]): e for e in
            json.loads(request(port, "POST", "/v2/repository/index", b"")[2])}


def test_unload_and_load(tmp_path):
    """An unloaded model answers 503 (its fallback takes over), drops out of readiness
    although required, stays unloaded across a config reload, and a load brings it back
    with the versions the repository holds by then."""
    repo = make_repo(tmp_path)
    g, port = start_girder("serving:\n  repository: repo\n  models:\n    - name: a\n"
                           "      fallback: b\n", tmp_path)
    try:
        assert control(port, "a", "unload") == (200, None)
        g.wait_for(r'msg="model unloaded by request" model=a version=2')
        g.wait_for(r'msg="model kept \(unchanged\)" model=b version=3')
        e = index(port)[("a", "2")]
        assert e["state"] == "UNAVAILABLE" and "unloaded by request" in e["reason"], e
        assert request(port, "GET", "/readyz")[0] == 200
        assert request(port, "GET", "/v2/models/a/ready")[0] == 400
        status, hdrs, out = infer(port, "/v2/models/a/infer")  # b answers instead
        assert status == 200 and out["outputs"][0]["data"] == [13], out
        assert control(port, "a", "unload", {"parameters": {"unload_dependents": True}}) == \
            (200, None)
        g.p.send_signal(signal.SIGHUP)  # a reload keeps the mark
        g.wait_for(r"config reloaded")
        assert index(port)[("a", "2")]["state"] == "UNAVAILABLE"
        plus(str(repo / "a" / "3" / "model.onnx"), 30)
        assert control(port, "a", "load") == (200, None)
        status, _, out = infer(port, "/v2/models/a/infer")
        assert status == 200 and out["outputs"][0]["data"] == [40], out
        assert index(port)[("a", "3")]["state"] == "READY"
    finally:
        g.stop()
    assert_clean(g)


def test_control_errors_keep_serving(tmp_path):
    repo = make_repo(tmp_path)
    g, port = start_girder("serving:\n  repository: repo\n", tmp_path)
    try:
        status, out = control(port, "nope", "unload")
        assert status == 404 and "no such model" in out["error"], out
        status, out = control(port, "nope", "load")
        assert status == 404 and "'nope'" in out["error"], out
        assert control(port, "a", "frob")[0] == 404
        status, out = control(port, "a", "load", {"parameters": {"config": "{}"}})
        assert status == 400 and "unsupported load parameter 'config'" in out["error"], out
        assert control(port, "a", "load", b"[1]")[0] == 400
        # a new model whose file is corrupt: the reload is refused, the old config serves
        (repo / "c" / "1").mkdir(parents=True)
        (repo / "c" / "1" / "model.onnx").write_bytes(b"\x08\x07\x12\xffnot a model")
        status, out = control(port, "c", "load")
        assert status == 400 and out["error"].startswith("failed to load 'c': ") and \
            "previous config keeps serving" in out["error"], out
        assert infer(port, "/v2/models/a/infer")[2]["outputs"][0]["data"] == [12]
        shutil.rmtree(str(repo / "c"))
        # loading a model that is already served re-reads it: 200, and it still answers
        assert control(port, "b", "load") == (200, None)
        assert infer(port, "/v2/models/b/infer")[2]["outputs"][0]["data"] == [13]
    finally:
        g.stop()
    assert_clean(g)

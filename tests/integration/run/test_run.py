"""`girder run` end to end: .npy and .pb inputs, .npy outputs, --info, --repeat, errors.

Models come from Debian's libonnx-testdata; expected values from its output_N.pb files
(decoded with python3-onnx's numpy_helper)."""
import os
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import numpy_helper  # noqa: E402

GIRDER = os.environ.get("GIRDER_BIN", "girder")
DATA = "/usr/share/libonnx-testdata/data/node"


def pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def run(*args, check=True):
    p = subprocess.run([GIRDER, "run", *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"girder run failed ({p.returncode}): {p.stderr}")
    return p


def model(name):
    d = os.path.join(DATA, name)
    if not os.path.isdir(d):
        pytest.skip(f"{d} not installed")
    return d


def test_identity_npy_roundtrip(tmp_path):
    d = model("test_identity")
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2) * 1.5
    np.save(tmp_path / "x.npy", x)
    p = run(os.path.join(d, "model.onnx"), "--input", f"x={tmp_path / 'x.npy'}",
            "--output-dir", str(tmp_path / "out"))
    assert "y float32 [1,1,2,2]" in p.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "y.npy"), x)


def test_add_pb_inputs_match_reference(tmp_path):
    d = model("test_add")
    s = os.path.join(d, "test_data_set_0")
    run(os.path.join(d, "model.onnx"), "--input", f"x={s}/input_0.pb",
        "--input", f"y={s}/input_1.pb", "--output-dir", str(tmp_path))
    want = pb(os.path.join(s, "output_0.pb"))
    got = np.load(tmp_path / "sum.npy")
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-7)


def test_single_input_without_name(tmp_path):
    d = model("test_identity")
    x = np.ones((1, 1, 2, 2), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    p = run(os.path.join(d, "model.onnx"), "--input", str(tmp_path / "x.npy"))
    assert "y float32" in p.stdout


def test_repeat_prints_latency(tmp_path):
    d = model("test_identity")
    np.save(tmp_path / "x.npy", np.zeros((1, 1, 2, 2), np.float32))
    p = run(os.path.join(d, "model.onnx"), "--input", f"x={tmp_path / 'x.npy'}",
            "--repeat", "5", "--threads", "2")
    assert "latency_ms runs=5 min=" in p.stdout and "median=" in p.stdout


def test_profile_lists_ops_and_nodes(tmp_path):
    d = model("test_add")
    s = os.path.join(d, "test_data_set_0")
    p = run(os.path.join(d, "model.onnx"), "--input", f"x={s}/input_0.pb",
            "--input", f"y={s}/input_1.pb", "--repeat", "4", "--profile")
    lines = p.stdout.splitlines()
    assert any(ln.startswith("profile: 3 runs, ") and ln.endswith(" in 1 nodes") for ln in lines)
    row = [ln.split() for ln in lines if ln.split()[:2] == ["Add", "1"]]
    assert row and float(row[0][3]) == 100.0, p.stdout  # the one op holds all the time
    assert any("Add" in ln and "[3,4,5]" in ln for ln in lines), p.stdout  # top node's shape


def test_info():
    d = model("test_add")
    p = run(os.path.join(d, "model.onnx"), "--info")
    assert "ir_version:" in p.stdout and "ai.onnx=" in p.stdout
    assert "x float32 [3,4,5]" in p.stdout
    assert "Add" in p.stdout and "sum float32" in p.stdout


def test_errors_are_clear(tmp_path):
    d = model("test_identity")
    m = os.path.join(d, "model.onnx")
    np.save(tmp_path / "i.npy", np.zeros((1, 1, 2, 2), np.int32))
    p = run(m, "--input", f"x={tmp_path / 'i.npy'}", check=False)
    assert p.returncode != 0 and "dtype int32, model expects float32" in p.stderr
    np.save(tmp_path / "s.npy", np.zeros((3,), np.float32))
    p = run(m, "--input", f"x={tmp_path / 's.npy'}", check=False)
    assert p.returncode != 0 and "rank 1, model expects 4" in p.stderr
    p = run(m, check=False)
    assert p.returncode != 0 and "input 'x' not provided" in p.stderr
    (tmp_path / "bad.onnx").write_bytes(b"\x08\x07garbage\xff\xff")
    p = run(str(tmp_path / "bad.onnx"), "--info", check=False)
    assert p.returncode != 0 and "girder run:" in p.stderr
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'")
    p = run(m, "--input", f"x={tmp_path / 'bad.npy'}", check=False)
    assert p.returncode != 0 and "npy" in p.stderr
    p = run(str(tmp_path / "missing.onnx"), check=False)
    assert p.returncode != 0 and "missing.onnx" in p.stderr

"""Fusion on models whose axes are open (src/engine/shape_sym.c, shape_contents.c): a served
model leaves its batch axis open ("batch"), and exporters compute Reshape targets from the
input's own shape (Shape -> Gather -> Unsqueeze -> Concat). Shape inference follows the open
dims as symbols, so the same chains fuse as on a fixed-shape model; each model runs at
several batch sizes, fused and unfused, against a float64 numpy reference. Values whose open
dims are unrelated (different names) must not be treated as equal, and inputs that share a
dim name must agree at run time."""
import math
import os
import re
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

GIRDER = os.environ.get("GIRDER_BIN", "girder")
RNG = np.random.default_rng(5)
ERF = np.vectorize(math.erf)


def rand(*shape):
    return RNG.uniform(-1, 1, size=shape).astype(np.float32)


def node(op, ins, outs, **kw):
    return helper.make_node(op, ins, outs, **kw)


def save_model(tmp_path, name, nodes, inits, inputs):
    """inputs: name -> declared shape (ints, dim names, or None for an unnamed open dim)."""
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, s) for k, s in inputs.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    return path


def exec_nodes(path, fuse):
    p = subprocess.run([GIRDER, "run", str(path), "--info"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, GD_FUSE="1" if fuse else "0"))
    assert p.returncode == 0, p.stderr
    m = re.search(r"nodes: \d+ \((\d+) after constant folding\)", p.stdout)
    assert m, p.stdout
    return int(m.group(1))


def run(path, feeds, fuse, threads=2):
    out = path.parent / f"out_{int(fuse)}_{threads}"
    args = [GIRDER, "run", str(path), "--threads", str(threads), "--output-dir", str(out)]
    for k, v in feeds.items():
        f = path.parent / f"{k}.npy"
        np.save(f, v)
        args += ["--input", f"{k}={f}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, GD_FUSE="1" if fuse else "0"))
    return p, (np.load(out / "y.npy") if p.returncode == 0 else None)


def check_runs(path, feeds, want):
    for fuse in (True, False):
        p, got = run(path, feeds, fuse)
        assert p.returncode == 0, p.stderr
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=f"fuse={fuse}")


def shape_reshape(src, dst, tail):
    """Reshape src to [dim 0 of src] + tail, the target computed from Shape(src)."""
    return [node("Shape", [src], [dst + "_s"]),
            node("Gather", [dst + "_s", "zero"], [dst + "_b"], axis=0),
            node("Unsqueeze", [dst + "_b", "axes0"], [dst + "_bu"]),
            node("Concat", [dst + "_bu", dst + "_tail"], [dst + "_t"], axis=0),
            node("Reshape", [src, dst + "_t"], [dst])], {dst + "_tail": np.array(tail, np.int64)}


SHAPE_CONSTS = {"zero": np.array(0, np.int64), "axes0": np.array([0], np.int64)}


@pytest.mark.parametrize("batch_dim", ["batch", None])
def test_transformer_chain_with_open_batch(tmp_path, batch_dim):
    # x [B, 8, 32] -> Reshape([B, 8, 32] from Shape) -> MatMul + bias + residual, then
    # Reshape to [B, 8, 4, 8] (from Shape again), Transpose, and back; then MatMul + bias +
    # GELU (torch's spelling).
    k, n = 32, 48
    w1, b1, w2, b2 = rand(k, k), rand(k), rand(k, n), rand(n)
    nodes, inits = [], dict(SHAPE_CONSTS, w1=w1, b1=b1, w2=w2, b2=b2,
                            sqrt2=np.float32(math.sqrt(2)), one=np.float32(1),
                            half=np.float32(0.5))
    r, c = shape_reshape("x", "xr", [8, k])
    nodes += r
    inits.update(c)
    nodes += [node("MatMul", ["xr", "w1"], ["m1"]), node("Add", ["m1", "b1"], ["h1"]),
              node("Add", ["h1", "xr"], ["r1"])]
    r, c = shape_reshape("r1", "heads", [8, 4, 8])
    nodes += r
    inits.update(c)
    nodes += [node("Transpose", ["heads"], ["ht"], perm=[0, 2, 1, 3]),
              node("Transpose", ["ht"], ["hb"], perm=[0, 2, 1, 3])]
    r, c = shape_reshape("hb", "back", [8, k])
    nodes += r
    inits.update(c)
    nodes += [node("MatMul", ["back", "w2"], ["m2"]), node("Add", ["b2", "m2"], ["h2"]),
              node("Div", ["h2", "sqrt2"], ["gd"]), node("Erf", ["gd"], ["ge"]),
              node("Add", ["ge", "one"], ["ga"]), node("Mul", ["h2", "ga"], ["gm"]),
              node("Mul", ["gm", "half"], ["y"])]
    path = save_model(tmp_path, "tx", nodes, inits, {"x": [batch_dim, 8, k]})
    # both MatMul chains fuse: 3 nodes (MatMul, bias, residual) -> 1, 7 (MatMul, bias, GELU) -> 1
    assert exec_nodes(path, False) == len(nodes)
    assert exec_nodes(path, True) == len(nodes) - 2 - 6
    for b in (1, 3):
        x = rand(b, 8, k).astype(np.float64)
        r1 = x @ w1 + b1 + x
        h2 = r1 @ w2 + b2
        check_runs(path, {"x": x.astype(np.float32)},
                   0.5 * h2 * (1 + ERF(h2 / math.sqrt(2))))


def test_conv_residual_with_open_batch_and_size(tmp_path):
    # x [N, 4, H, W] -> Conv 3x3 pad 1 -> Add(x) -> Relu: one FusedConv, H and W open too
    w, b = rand(4, 4, 3, 3), rand(4)
    nodes = [node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             node("Add", ["c", "x"], ["a"]), node("Relu", ["a"], ["y"])]
    path = save_model(tmp_path, "conv", nodes, {"w": w, "b": b}, {"x": ["N", 4, "H", "W"]})
    assert exec_nodes(path, True) == 1
    for shape in ((1, 4, 6, 6), (2, 4, 5, 7)):
        x = rand(*shape)
        xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
        c = np.zeros(shape)
        for i in range(3):
            for j in range(3):
                c += np.einsum("oc,nchw->nohw", w[:, :, i, j],
                               xp[:, :, i:i + shape[2], j:j + shape[3]])
        check_runs(path, {"x": x}, np.maximum(c + b[None, :, None, None] + x, 0))


def test_unrelated_open_dims_do_not_fuse(tmp_path):
    # the residual's batch is another name: it may broadcast (M = 1), so the Add stays
    w = rand(4, 4, 1, 1)
    nodes = [node("Conv", ["x", "w"], ["c"]), node("Add", ["c", "z"], ["a"]),
             node("Relu", ["a"], ["y"])]
    path = save_model(tmp_path, "nofuse", nodes, {"w": w},
                      {"x": ["N", 4, 3, 3], "z": ["M", 4, 3, 3]})
    assert exec_nodes(path, True) == 3
    x, z = rand(2, 4, 3, 3), rand(1, 4, 3, 3)
    c = np.einsum("oc,nchw->nohw", w[:, :, 0, 0], x.astype(np.float64))
    check_runs(path, {"x": x, "z": z}, np.maximum(c + z, 0))


def test_inputs_sharing_a_dim_name_must_agree(tmp_path):
    nodes = [node("Add", ["a", "b"], ["y"])]
    path = save_model(tmp_path, "agree", nodes, {}, {"a": ["batch", 3], "b": ["batch", 3]})
    p, got = run(path, {"a": rand(2, 3), "b": rand(2, 3)}, True)
    assert p.returncode == 0, p.stderr
    p, _ = run(path, {"a": rand(2, 3), "b": rand(1, 3)}, True)
    assert p.returncode != 0
    assert "input 'b': dim 0 (batch) is 1, but input 'a' has batch = 2" in p.stderr, p.stderr

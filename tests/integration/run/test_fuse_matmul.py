"""MatMul fusion (src/engine/fuse.c -> ai.girder FusedMatMul, ops/matmul_fused.c) and the
load-time packed weights (prepack.c) end to end through `girder run`: transformer-shaped
chains built with python3-onnx (MatMul + bias + GELU in the torch and Hugging Face
spellings, bias + residual, bias + Relu, a scalar scale folded into alpha (also attention's
batched Q x K^T / sqrt(d) before Softmax), 2-d and 3-d A, odd sizes, one row), each run with
fusion on and off (GD_FUSE=0), packing on and off (GD_PREPACK=0), at 1 and 2 threads,
against a float64 numpy reference; and chains that must not fuse. `--info` counts the
nodes left to execute, so a fusion that silently stops happening fails."""
import math
import os
import re
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

GIRDER = os.environ.get("GIRDER_BIN", "girder")
RNG = np.random.default_rng(11)
ERF = np.vectorize(math.erf)


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def gelu(v):
    return 0.5 * v * (1 + ERF(v / math.sqrt(2)))


def make_model(tmp_path, name, nodes, inits, inputs, outputs):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    for k, v in inputs.items():
        np.save(tmp_path / f"{k}.npy", v)
    return path


def env_for(fuse, pack):
    return dict(os.environ, GD_FUSE="1" if fuse else "0", GD_PREPACK="1" if pack else "0")


def run(path, inputs, outputs, fuse, pack, threads):
    out = path.parent / f"out_{int(fuse)}{int(pack)}_{threads}"
    args = [GIRDER, "run", str(path), "--threads", str(threads), "--output-dir", str(out)]
    for k in inputs:
        args += ["--input", f"{k}={path.parent / (k + '.npy')}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env_for(fuse, pack))
    assert p.returncode == 0, p.stderr
    return [np.load(out / f"{k}.npy") for k in outputs]


def exec_nodes(path, fuse):
    p = subprocess.run([GIRDER, "run", str(path), "--info"], capture_output=True, text=True,
                       timeout=60, env=env_for(fuse, True))
    assert p.returncode == 0, p.stderr
    m = re.search(r"nodes: \d+ \((\d+) after constant folding\)", p.stdout)
    assert m, p.stdout
    return int(m.group(1))


def check(tmp_path, name, nodes, inits, inputs, want, fused_nodes):
    path = make_model(tmp_path, name, nodes, inits, inputs, list(want))
    assert exec_nodes(path, True) == fused_nodes
    assert exec_nodes(path, False) == len(nodes)
    for fuse, pack in ((True, True), (True, False), (False, True), (False, False)):
        for threads in (1, 2):
            got = run(path, inputs, list(want), fuse, pack, threads)
            for g, (k, w) in zip(got, want.items()):
                assert g.shape == w.shape, (k, g.shape, w.shape)
                np.testing.assert_allclose(
                    g, w, rtol=1e-4, atol=1e-4,
                    err_msg=f"{name}:{k} fuse={fuse} pack={pack} threads={threads}")


def node(op, ins, outs, **kw):
    return helper.make_node(op, ins, outs, **kw)


def consts(**kw):
    return {k: np.array(v, np.float32) for k, v in kw.items()}


def gelu_torch(h, y):
    """torch.nn.GELU's export: Div(sqrt 2), Erf, Add(1), Mul(h, .), Mul(., 0.5)."""
    return [node("Div", [h, "sqrt2"], ["gd"]), node("Erf", ["gd"], ["ge"]),
            node("Add", ["ge", "one"], ["ga"]), node("Mul", [h, "ga"], ["gm"]),
            node("Mul", ["gm", "half"], [y])]


def gelu_hf(h, y):
    """Hugging Face's: Mul(h, 0.5) first, Mul(h, 1/sqrt 2), constants on the left."""
    return [node("Mul", [h, "half"], ["gh"]), node("Mul", ["rsqrt2", h], ["gd"]),
            node("Erf", ["gd"], ["ge"]), node("Add", ["one", "ge"], ["ga"]),
            node("Mul", ["gh", "ga"], [y])]


GELU_CONSTS = consts(sqrt2=math.sqrt(2), rsqrt2=1 / math.sqrt(2), one=1.0, half=0.5)


@pytest.mark.parametrize("form", [gelu_torch, gelu_hf])
@pytest.mark.parametrize("shape", [(1, 37, 45, 129), (2, 16, 384, 1536), (1, 1, 64, 300)])
def test_matmul_bias_gelu(tmp_path, form, shape):
    b, m, k, n = shape
    x, w, bias = rand(b, m, k), rand(k, n, lo=-0.2, hi=0.2), rand(n)
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Add", ["bias", "mm"], ["h"])]
    nodes += form("h", "y")
    want = gelu(x.astype(np.float64) @ w + bias)
    check(tmp_path, "mm_gelu", nodes, {"w": w, "bias": bias, **GELU_CONSTS}, {"x": x},
          {"y": want}, 1)


def test_matmul_bias_residual_2d(tmp_path):
    x, w, bias, r = rand(50, 96), rand(96, 96), rand(96), rand(50, 96)
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Add", ["mm", "bias"], ["h"]),
             node("Add", ["r", "h"], ["y"])]
    want = x.astype(np.float64) @ w + bias + r
    check(tmp_path, "mm_res", nodes, {"w": w, "bias": bias}, {"x": x, "r": r}, {"y": want}, 1)


def test_matmul_bias_relu_single_row(tmp_path):
    """M = 1: the packed matrix-vector path."""
    x, w, bias = rand(1, 512), rand(512, 1000, lo=-0.1, hi=0.1), rand(1, 1000)
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Add", ["mm", "bias"], ["h"]),
             node("Relu", ["h"], ["y"])]
    want = np.maximum(x.astype(np.float64) @ w + bias, 0)
    check(tmp_path, "mm_relu", nodes, {"w": w, "bias": bias}, {"x": x}, {"y": want}, 1)


def test_plain_matmul_and_gemm_use_packed_weights(tmp_path):
    """No epilogue to fuse: MatMul and Gemm (transB) still read load-time packed panels."""
    x, w, w2, c = rand(3, 20, 200), rand(200, 70), rand(90, 70), rand(90)
    nodes = [node("MatMul", ["x", "w"], ["y"]), node("Reshape", ["y", "shp"], ["y2"]),
             node("Gemm", ["y2", "w2", "c"], ["z"], transB=1, alpha=0.5)]
    inits = {"w": w, "w2": w2, "c": c, "shp": np.array([60, 70], np.int64)}
    y = x.astype(np.float64) @ w
    want = {"y": y, "z": 0.5 * y.reshape(60, 70) @ w2.T.astype(np.float64) + c}
    check(tmp_path, "mm_plain", nodes, inits, {"x": x}, want, 3)


def test_patterns_that_must_not_fuse(tmp_path):
    x, w = rand(8, 32), rand(32, 40)
    # bias of shape [8, 40] (not a per-column vector) and the MatMul output also an output
    full = rand(8, 40)
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Add", ["mm", "full"], ["y"])]
    check(tmp_path, "mm_full_bias", nodes, {"w": w, "full": full}, {"x": x},
          {"y": x.astype(np.float64) @ w + full}, 2)
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Add", ["mm", "b"], ["y"])]
    b = rand(40)
    check(tmp_path, "mm_out_read", nodes, {"w": w, "b": b}, {"x": x},
          {"mm": x.astype(np.float64) @ w, "y": x.astype(np.float64) @ w + b}, 2)
    # GELU with a wrong constant (Div by 2): bias fuses, the rest stays
    bad = dict(GELU_CONSTS, sqrt2=np.array(2.0, np.float32))
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Add", ["mm", "b"], ["h"])]
    nodes += gelu_torch("h", "y")
    h = x.astype(np.float64) @ w + b
    check(tmp_path, "mm_bad_gelu", nodes, {"w": w, "b": b, **bad}, {"x": x},
          {"y": 0.5 * h * (1 + ERF(h / 2))}, 6)
    # B not a constant: the bias still fuses (B read unpacked)
    nodes = [node("MatMul", ["x", "wi"], ["mm"]), node("Add", ["mm", "b"], ["y"])]
    check(tmp_path, "mm_dyn_b", nodes, {"b": b}, {"x": x, "wi": w},
          {"y": x.astype(np.float64) @ w + b}, 1)
    # a 1-d B (matrix-vector): not fused
    v = rand(32)
    nodes = [node("MatMul", ["x", "v"], ["mm"]), node("Add", ["mm", "c"], ["y"])]
    c = rand(8)
    check(tmp_path, "mm_vec", nodes, {"v": v, "c": c}, {"x": x},
          {"y": x.astype(np.float64) @ v + c}, 2)


def softmax(v):
    e = np.exp(v - v.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_attention_scores_scale_into_alpha(tmp_path):
    """Q x K^T / sqrt(d) -> Softmax with batched dynamic operands: the Div becomes alpha."""
    q, k = rand(2, 3, 17, 8), rand(2, 3, 8, 19)
    nodes = [node("MatMul", ["q", "k"], ["s"]), node("Div", ["s", "d"], ["t"]),
             node("Softmax", ["t"], ["y"], axis=-1)]
    want = softmax((q.astype(np.float64) @ k) / math.sqrt(8))
    check(tmp_path, "attn", nodes, consts(d=math.sqrt(8)), {"q": q, "k": k}, {"y": want}, 2)


def test_scale_mul_then_bias_gelu(tmp_path):
    """Mul by a scalar (either side), then bias and GELU: one node; a zero divisor does not fold."""
    x, w, b = rand(4, 33, 70), rand(70, 50), rand(50)
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Mul", ["c", "mm"], ["s"]),
             node("Add", ["s", "b"], ["h"])] + gelu_torch("h", "y")
    want = gelu(0.25 * (x.astype(np.float64) @ w) + b)
    check(tmp_path, "mm_scale", nodes, {"w": w, "b": b, "c": np.array(0.25, np.float32),
                                        **GELU_CONSTS}, {"x": x}, {"y": want}, 1)
    nodes = [node("MatMul", ["x", "w"], ["mm"]), node("Div", ["mm", "zero"], ["y"])]
    with np.errstate(divide="ignore", invalid="ignore"):
        want = (x.astype(np.float64) @ w) / 0.0
    path = make_model(tmp_path, "mm_div0", nodes, {"w": w, "zero": np.array(0, np.float32)},
                      {"x": x}, ["y"])
    assert exec_nodes(path, True) == 2
    got = run(path, {"x": x}, ["y"], True, True, 1)[0]
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))

"""Graph fusion (src/engine/fuse.c) end to end through `girder run`: small ONNX graphs built
here with python3-onnx (Conv-BN-Relu, Conv-Clip, Conv-Add residual, depthwise + SiLU,
com.microsoft FusedConv, and patterns that must not fuse), each run with fusion on and off
(GD_FUSE=0) at 1 and 2 threads and compared with a float64 numpy reference. `--info`
tells how many nodes are left to execute, so a fusion that silently stops happening fails."""
import os
import re
import subprocess

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

GIRDER = os.environ.get("GIRDER_BIN", "girder")
RNG = np.random.default_rng(7)


def rand(*shape, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, size=shape).astype(np.float32)


def conv_ref(x, w, b=None, stride=1, pad=(0, 0, 0, 0), group=1, dil=1):
    """float64 NCHW conv, pads (top, left, bottom, right)."""
    x = x.astype(np.float64)
    w = w.astype(np.float64)
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[2]), (pad[1], pad[3])))
    oh = (x.shape[2] - (kh - 1) * dil - 1) // stride + 1
    ow = (x.shape[3] - (kw - 1) * dil - 1) // stride + 1
    y = np.zeros((n, m, oh, ow))
    mg = m // group
    for g in range(group):
        xs = x[:, g * cg:(g + 1) * cg]
        for u in range(kh):
            for v in range(kw):
                patch = xs[:, :, u * dil:u * dil + stride * (oh - 1) + 1:stride,
                           v * dil:v * dil + stride * (ow - 1) + 1:stride]
                y[:, g * mg:(g + 1) * mg] += np.einsum(
                    "nchw,mc->nmhw", patch, w[g * mg:(g + 1) * mg, :, u, v])
    if b is not None:
        y += b.astype(np.float64)[None, :, None, None]
    return y


def bn_ref(y, scale, bias, mean, var, eps=1e-5):
    s = (scale / np.sqrt(var.astype(np.float64) + eps))[None, :, None, None]
    return (y - mean[None, :, None, None]) * s + bias[None, :, None, None]


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def bn_params(m):
    return [rand(m, lo=0.5, hi=1.5), rand(m), rand(m), rand(m, lo=0.2, hi=2.0)]


def make_model(tmp_path, name, nodes, inits, inputs, outputs, opset=17, domains=()):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs.items()],
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, None) for k in outputs],
        [numpy_helper.from_array(v, k) for k, v in inits.items()])
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=ops)
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    for k, v in inputs.items():
        np.save(tmp_path / f"{k}.npy", v)
    return path


def run(path, inputs, outputs, fuse, threads):
    env = dict(os.environ, GD_FUSE="1" if fuse else "0")
    out = path.parent / f"out_{int(fuse)}_{threads}"
    args = [GIRDER, "run", str(path), "--threads", str(threads), "--output-dir", str(out)]
    for k in inputs:
        args += ["--input", f"{k}={path.parent / (k + '.npy')}"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    return [np.load(out / f"{k}.npy") for k in outputs]


def exec_nodes(path, fuse):
    env = dict(os.environ, GD_FUSE="1" if fuse else "0")
    p = subprocess.run([GIRDER, "run", str(path), "--info"], capture_output=True, text=True,
                       timeout=60, env=env)
    assert p.returncode == 0, p.stderr
    m = re.search(r"nodes: \d+ \((\d+) after constant folding\)", p.stdout)
    assert m, p.stdout
    return int(m.group(1))


def check(tmp_path, name, nodes, inits, inputs, want, fused_nodes, opset=17, domains=()):
    """want: {output name: float64 reference}."""
    path = make_model(tmp_path, name, nodes, inits, inputs, list(want), opset, domains)
    assert exec_nodes(path, True) == fused_nodes
    if not domains:
        assert exec_nodes(path, False) == len(nodes)
    for fuse in (True, False):
        for threads in (1, 2):
            got = run(path, inputs, list(want), fuse, threads)
            for g, (k, w) in zip(got, want.items()):
                assert g.shape == w.shape, (k, g.shape, w.shape)
                np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4,
                                           err_msg=f"{name}:{k} fuse={fuse} threads={threads}")


def conv(x, w, y, b=None, **attrs):
    return helper.make_node("Conv", [x, w] + ([b] if b else []), [y], **attrs)


def bn(x, y, p):
    return helper.make_node("BatchNormalization", [x] + p, [y], epsilon=1e-5)


def bn_inits(prefix, m):
    vals = bn_params(m)
    names = [f"{prefix}_{k}" for k in ("s", "b", "m", "v")]
    return names, dict(zip(names, vals)), vals


def test_conv_bn_relu(tmp_path):
    x, w, b = rand(1, 3, 11, 13), rand(8, 3, 3, 3), rand(8)
    names, inits, p = bn_inits("bn", 8)
    inits.update(w=w, b=b)
    nodes = [conv("x", "w", "c", "b", pads=[1, 1, 1, 1]), bn("c", "n", names),
             helper.make_node("Relu", ["n"], ["y"])]
    want = np.maximum(bn_ref(conv_ref(x, w, b, pad=(1, 1, 1, 1)), *p), 0)
    check(tmp_path, "conv_bn_relu", nodes, inits, {"x": x}, {"y": want}, 1)


@pytest.mark.parametrize("stride,pads,dil", [(2, (3, 3, 3, 3), 1), (1, (0, 2, 1, 0), 2)])
def test_stem_conv_builds_columns_per_tile(tmp_path, stride, pads, dil):
    # few input channels on a large image: each GEMM tile builds its own im2col panel
    # (ops/conv.c: 64 outputs make 512-column tiles); odd sizes so tiles start and end
    # inside output rows, batch 2; at 2 threads row blocks rebuild the panel
    x, w, b = rand(2, 3, 67, 71), rand(64, 3, 7, 7), rand(64)
    nodes = [conv("x", "w", "c", "b", pads=list(pads), strides=[stride, stride],
                  dilations=[dil, dil]),
             helper.make_node("Relu", ["c"], ["y"])]
    want = np.maximum(conv_ref(x, w, b, stride=stride, pad=pads, dil=dil), 0)
    check(tmp_path, "stem", nodes, {"w": w, "b": b}, {"x": x}, {"y": want}, 1)


def test_pointwise_without_bias_bn_leaky(tmp_path):
    """No Conv bias: BatchNormalization's B becomes it; a 1x1 conv (no im2col)."""
    x, w = rand(2, 16, 7, 9), rand(24, 16, 1, 1)
    names, inits, p = bn_inits("bn", 24)
    inits.update(w=w)
    nodes = [conv("x", "w", "c"), bn("c", "n", names),
             helper.make_node("LeakyRelu", ["n"], ["y"], alpha=0.2)]
    v = bn_ref(conv_ref(x, w), *p)
    check(tmp_path, "pw_bn_leaky", nodes, inits, {"x": x}, {"y": np.where(v >= 0, v, 0.2 * v)}, 1)


def test_conv_clip_relu6_both_opset_forms(tmp_path):
    x, w, b = rand(1, 4, 10, 10, lo=-3, hi=3), rand(6, 4, 3, 3, lo=-2, hi=2), rand(6)
    want = np.clip(conv_ref(x, w, b, stride=2), 0, 6)
    inits = {"w": w, "b": b, "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)}
    nodes = [conv("x", "w", "c", "b", strides=[2, 2]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    check(tmp_path, "conv_clip", nodes, inits, {"x": x}, {"y": want}, 1)
    nodes = [conv("x", "w", "c", "b", strides=[2, 2]),
             helper.make_node("Clip", ["c"], ["y"], min=0.0, max=6.0)]
    check(tmp_path, "conv_clip6", nodes, {"w": w, "b": b}, {"x": x}, {"y": want}, 1, opset=10)


def test_resnet_block_residual_add_relu(tmp_path):
    """Conv-BN-Add-Relu with the residual from a downsample Conv-BN: two fused nodes."""
    x = rand(1, 8, 12, 12)
    w1, w2 = rand(16, 8, 3, 3, lo=-0.3, hi=0.3), rand(16, 8, 1, 1)
    n1, i1, p1 = bn_inits("bn1", 16)
    n2, i2, p2 = bn_inits("bn2", 16)
    inits = {"w1": w1, "w2": w2, **i1, **i2}
    nodes = [conv("x", "w1", "c1", pads=[1, 1, 1, 1], strides=[2, 2]), bn("c1", "n1", n1),
             conv("x", "w2", "c2", strides=[2, 2]), bn("c2", "n2", n2),
             helper.make_node("Add", ["n1", "n2"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    r1 = bn_ref(conv_ref(x, w1, stride=2, pad=(1, 1, 1, 1)), *p1)
    r2 = bn_ref(conv_ref(x, w2, stride=2), *p2)
    check(tmp_path, "res_block", nodes, inits, {"x": x}, {"y": np.maximum(r1 + r2, 0)}, 2)


def test_identity_residual_without_activation(tmp_path):
    x, w, b = rand(1, 8, 9, 9), rand(8, 8, 3, 3), rand(8)
    nodes = [conv("x", "w", "c", "b", pads=[1, 1, 1, 1]), helper.make_node("Add", ["x", "c"], ["y"])]
    want = conv_ref(x, w, b, pad=(1, 1, 1, 1)) + x
    check(tmp_path, "res_add", nodes, {"w": w, "b": b}, {"x": x}, {"y": want}, 1)


@pytest.mark.parametrize("stride,pads", [(1, [1, 1, 1, 1]), (2, [0, 1, 1, 0]), (2, [1, 1, 1, 1])])
def test_depthwise_bn_silu(tmp_path, stride, pads):
    c = 17
    x, w = rand(1, c, 15, 14), rand(c, 1, 3, 3)
    names, inits, p = bn_inits("bn", c)
    inits.update(w=w)
    nodes = [conv("x", "w", "c", group=c, strides=[stride, stride], pads=pads),
             bn("c", "n", names), helper.make_node("Sigmoid", ["n"], ["g"]),
             helper.make_node("Mul", ["g", "n"], ["y"])]
    v = bn_ref(conv_ref(x, w, stride=stride, group=c, pad=(pads[0], pads[1], pads[2], pads[3])), *p)
    check(tmp_path, "dw_bn_silu", nodes, inits, {"x": x}, {"y": v * sigmoid(v)}, 1)


def test_depthwise_dilated_tanh(tmp_path):
    c = 32
    x, w, b = rand(2, c, 13, 11), rand(c, 1, 5, 5), rand(c)
    nodes = [conv("x", "w", "c", "b", group=c, strides=[3, 3], dilations=[2, 2],
                  pads=[2, 1, 0, 2]), helper.make_node("Tanh", ["c"], ["y"])]
    want = np.tanh(conv_ref(x, w, b, stride=3, group=c, dil=2, pad=(2, 1, 0, 2)))
    check(tmp_path, "dw_tanh", nodes, {"w": w, "b": b}, {"x": x}, {"y": want}, 1)


def test_contrib_fusedconv_node(tmp_path):
    """A model that already holds ONNX Runtime's com.microsoft FusedConv (with Z)."""
    x, w, b, z = rand(1, 3, 8, 8), rand(4, 3, 3, 3), rand(4), rand(1, 4, 8, 8)
    node = helper.make_node("FusedConv", ["x", "w", "b", "z"], ["y"], domain="com.microsoft",
                            pads=[1, 1, 1, 1], activation="Clip", activation_params=[-0.5, 0.5])
    want = np.clip(conv_ref(x, w, b, pad=(1, 1, 1, 1)) + z, -0.5, 0.5)
    check(tmp_path, "fusedconv", [node], {"w": w, "b": b}, {"x": x, "z": z}, {"y": want}, 1,
          domains=("com.microsoft",))


def test_patterns_that_must_not_fuse(tmp_path):
    x, w, b = rand(1, 8, 6, 6), rand(8, 8, 3, 3), rand(8)
    c = conv_ref(x, w, b, pad=(1, 1, 1, 1))
    # the Conv output is also a graph output: nothing may disappear
    nodes = [conv("x", "w", "c", "b", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    check(tmp_path, "keep_output", nodes, {"w": w, "b": b}, {"x": x},
          {"y": np.maximum(c, 0), "c": c}, 2)
    # a broadcasting Add is not a residual of the same shape
    z = rand(1, 8, 1, 1)
    nodes = [conv("x", "w", "c", "b", pads=[1, 1, 1, 1]), helper.make_node("Add", ["c", "z"], ["y"])]
    check(tmp_path, "bcast_add", nodes, {"w": w, "b": b, "z": z}, {"x": x}, {"y": c + z}, 2)
    # the Conv output read twice (Relu and Sigmoid, not a SiLU)
    nodes = [conv("x", "w", "c", "b", pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Add", ["r", "s"], ["y"])]
    check(tmp_path, "two_readers", nodes, {"w": w, "b": b}, {"x": x},
          {"y": np.maximum(c, 0) + sigmoid(c)}, 4)
    # weights shared by two Convs cannot take a BatchNorm fold (the Relu still fuses)
    names, inits, p = bn_inits("bn", 8)
    inits.update(w=w, b=b)
    nodes = [conv("x", "w", "c", "b", pads=[1, 1, 1, 1]), bn("c", "n", names),
             helper.make_node("Relu", ["n"], ["r"]), conv("x", "w", "c2", "b", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c2"], ["r2"]), helper.make_node("Add", ["r", "r2"], ["y"])]
    want = np.maximum(bn_ref(c, *p), 0) + np.maximum(c, 0)
    check(tmp_path, "shared_w", nodes, inits, {"x": x}, {"y": want}, 5)

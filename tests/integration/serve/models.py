"""Small ONNX models for the model-serving tests, built with Debian's python3-onnx.

mix.onnx    x, y: FP32 [batch, 3] -> sum = x + y (FP32), gt = x > y (BOOL),
            idx = argmax(x, axis 1) (INT64 [batch, 1])
half.onnx   h: FP16 [n] -> sq = h * h (FP16)
text.onnx   s: BYTES [n] -> same = s (BYTES)
dense.onnx  x: FP32 [batch, 64] -> y: FP32 [batch, 16], two MatMuls with a Relu between
slow.onnx   x: FP32 [1, 1], rows: INT64 [1] -> y: FP32 [1, 1]; expands x to
            [rows, 512] and multiplies it by a 512x512 matrix 8 times, so a request
            decides how long it runs (for queue and deadline tests)
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h


def _save(graph, path, opset=13):
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)],
                     producer_name="girder-tests")
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, path)


def mix(path):
    g = h.make_graph(
        [h.make_node("Add", ["x", "y"], ["sum"]),
         h.make_node("Greater", ["x", "y"], ["gt"]),
         h.make_node("ArgMax", ["x"], ["idx"], axis=1, keepdims=1)],
        "mix",
        [h.make_tensor_value_info("x", T.FLOAT, ["batch", 3]),
         h.make_tensor_value_info("y", T.FLOAT, ["batch", 3])],
        [h.make_tensor_value_info("sum", T.FLOAT, ["batch", 3]),
         h.make_tensor_value_info("gt", T.BOOL, ["batch", 3]),
         h.make_tensor_value_info("idx", T.INT64, ["batch", 1])])
    _save(g, path)


def half(path):
    g = h.make_graph([h.make_node("Mul", ["h", "h"], ["sq"])], "half",
                     [h.make_tensor_value_info("h", T.FLOAT16, ["n"])],
                     [h.make_tensor_value_info("sq", T.FLOAT16, ["n"])])
    _save(g, path)


def text(path):
    g = h.make_graph([h.make_node("Identity", ["s"], ["same"])], "text",
                     [h.make_tensor_value_info("s", T.STRING, ["n"])],
                     [h.make_tensor_value_info("same", T.STRING, ["n"])])
    _save(g, path)


def slow(path, width=512, layers=8):
    w = h.make_tensor("w", T.FLOAT, [width, width],
                      np.full(width * width, 1.0 / width, np.float32).tolist())
    nodes = [h.make_node("Concat", ["rows", "wide"], ["shape"], axis=0),
             h.make_node("Expand", ["x", "shape"], ["a0"])]
    for i in range(layers):
        nodes.append(h.make_node("MatMul", ["a%d" % i, "w"], ["a%d" % (i + 1)]))
    nodes.append(h.make_node("ReduceMean", ["a%d" % layers], ["y"], keepdims=1))
    g = h.make_graph(
        nodes, "slow",
        [h.make_tensor_value_info("x", T.FLOAT, [1, 1]),
         h.make_tensor_value_info("rows", T.INT64, [1])],
        [h.make_tensor_value_info("y", T.FLOAT, [1, 1])],
        initializer=[w, h.make_tensor("wide", T.INT64, [1], [width])])
    _save(g, path)


def dense(path):
    rng = np.random.default_rng(3)
    w1 = rng.standard_normal((64, 32)).astype(np.float32)
    w2 = rng.standard_normal((32, 16)).astype(np.float32)
    g = h.make_graph(
        [h.make_node("MatMul", ["x", "w1"], ["a"]), h.make_node("Relu", ["a"], ["r"]),
         h.make_node("MatMul", ["r", "w2"], ["y"])],
        "dense", [h.make_tensor_value_info("x", T.FLOAT, ["batch", 64])],
        [h.make_tensor_value_info("y", T.FLOAT, ["batch", 16])],
        initializer=[h.make_tensor("w1", T.FLOAT, [64, 32], w1.flatten().tolist()),
                     h.make_tensor("w2", T.FLOAT, [32, 16], w2.flatten().tolist())])
    _save(g, path)


def build_all(d):
    for name, fn in (("mix", mix), ("half", half), ("text", text), ("slow", slow),
                     ("dense", dense)):
        fn(os.path.join(d, name + ".onnx"))


if __name__ == "__main__":  # models.py OUTDIR [NAME...]: builds the named models (all by default)
    import sys
    out, names = sys.argv[1], sys.argv[2:] or ["mix", "half", "text", "slow", "dense"]
    os.makedirs(out, exist_ok=True)
    for n in names:
        globals()[n](os.path.join(out, n + ".onnx"))

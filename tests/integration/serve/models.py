"""Small ONNX models for the model-serving tests, built with Debian's python3-onnx.

mix.onnx    x, y: FP32 [batch, 3] -> sum = x + y (FP32), gt = x > y (BOOL),
            idx = argmax(x, axis 1) (INT64 [batch, 1])
half.onnx   h: FP16 [n] -> sq = h * h (FP16)
text.onnx   s: BYTES [n] -> same = s (BYTES)
dense.onnx  x: FP32 [batch, 64] -> y: FP32 [batch, 16], two MatMuls with a Relu between
embed.onnx  input_ids, attention_mask, token_type_ids: INT64 [batch, sequence] ->
            last_hidden_state FP32 [batch, sequence, 32]; a one-layer BERT-style encoder with
            random weights and its vocab.txt (embed_reference computes it in numpy)
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


EMBED_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?", "the", "a",
               "cat", "dog", "sat", "on", "mat", "is", "happy", "sad", "runs", "fast", "slow",
               "car", "engine", "red", "blue", "sky", "sea", "##s", "##ing", "play", "hello",
               "world", "cafe"]
EMBED_HIDDEN, EMBED_MAX_POS = 32, 64


def embed_weights():
    rng = np.random.default_rng(5)
    v, hd = len(EMBED_VOCAB), EMBED_HIDDEN
    f = lambda *shape: (rng.standard_normal(shape) * 0.5).astype(np.float32)  # noqa: E731
    return {"word": f(v, hd), "pos": f(EMBED_MAX_POS, hd), "type": f(2, hd),
            "wq": f(hd, hd), "wk": f(hd, hd), "wv": f(hd, hd), "wo": f(hd, hd),
            "g1": np.ones(hd, np.float32), "b1": np.zeros(hd, np.float32)}


def embed(path):
    """A one-layer BERT-style encoder: word + position + type embeddings, masked self-
    attention, residual, normalisation; last_hidden_state [batch, seq, 32]."""
    w = embed_weights()
    init = [h.make_tensor(k, T.FLOAT, list(a.shape), a.flatten().tolist()) for k, a in w.items()]
    init += [h.make_tensor("zero", T.INT64, [1], [0]), h.make_tensor("one", T.INT64, [1], [1]),
             h.make_tensor("scale", T.FLOAT, [], [1.0 / np.sqrt(EMBED_HIDDEN)]),
             h.make_tensor("neg", T.FLOAT, [], [-10000.0]),
             h.make_tensor("onef", T.FLOAT, [], [1.0]),
             h.make_tensor("two", T.INT64, [1], [2])]
    n = h.make_node
    nodes = [
        n("Gather", ["word", "input_ids"], ["we"]),
        n("Gather", ["type", "token_type_ids"], ["te"]),
        n("Shape", ["input_ids"], ["shp"]),
        n("Slice", ["shp", "one", "two"], ["seqlen"]),  # [sequence]
        n("Slice", ["pos", "zero", "seqlen"], ["pe"]),
        n("Add", ["we", "te"], ["e1"]), n("Add", ["e1", "pe"], ["x0"]),
        n("LayerNormalization", ["x0", "g1", "b1"], ["x"], axis=-1, epsilon=1e-5),
        n("MatMul", ["x", "wq"], ["q"]), n("MatMul", ["x", "wk"], ["k"]),
        n("MatMul", ["x", "wv"], ["v"]),
        n("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        n("MatMul", ["q", "kt"], ["s0"]), n("Mul", ["s0", "scale"], ["s1"]),
        n("Cast", ["attention_mask"], ["mf"], to=T.FLOAT),
        n("Sub", ["onef", "mf"], ["inv"]), n("Mul", ["inv", "neg"], ["bias0"]),
        n("Unsqueeze", ["bias0", "one"], ["bias"]),
        n("Add", ["s1", "bias"], ["s2"]), n("Softmax", ["s2"], ["p"], axis=-1),
        n("MatMul", ["p", "v"], ["ctx"]), n("MatMul", ["ctx", "wo"], ["o"]),
        n("Add", ["x", "o"], ["y0"]),
        n("LayerNormalization", ["y0", "g1", "b1"], ["last_hidden_state"], axis=-1,
          epsilon=1e-5),
    ]
    ids = lambda name: h.make_tensor_value_info(name, T.INT64, ["batch", "sequence"])  # noqa
    g = h.make_graph(nodes, "embed",
                     [ids("input_ids"), ids("attention_mask"), ids("token_type_ids")],
                     [h.make_tensor_value_info("last_hidden_state", T.FLOAT,
                                               ["batch", "sequence", EMBED_HIDDEN])],
                     initializer=init)
    _save(g, path, opset=17)
    with open(os.path.join(os.path.dirname(path), "vocab.txt"), "w") as f:
        f.write("\n".join(EMBED_VOCAB) + "\n")


def embed_reference(ids, mask):
    """numpy forward pass of embed.onnx for one sequence: token states [seq, hidden]."""
    w = embed_weights()
    ids = np.asarray(ids)
    seq = len(ids)

    def ln(t):
        mu = t.mean(-1, keepdims=True)
        var = ((t - mu) ** 2).mean(-1, keepdims=True)
        return (t - mu) / np.sqrt(var + 1e-5)

    x = ln(w["word"][ids] + w["type"][np.zeros(seq, int)] + w["pos"][:seq])
    q, k, v = x @ w["wq"], x @ w["wk"], x @ w["wv"]
    s = q @ k.T / np.sqrt(EMBED_HIDDEN) + (1.0 - np.asarray(mask, np.float32)) * -10000.0
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return ln(x + (p @ v) @ w["wo"])


def build_all(d):
    for name, fn in (("mix", mix), ("half", half), ("text", text), ("slow", slow),
                     ("dense", dense), ("embed", embed)):
        fn(os.path.join(d, name + ".onnx"))


if __name__ == "__main__":  # models.py OUTDIR [NAME...]: builds the named models (all by default)
    import sys
    out, names = sys.argv[1], sys.argv[2:] or ["mix", "half", "text", "slow", "dense", "embed"]
    os.makedirs(out, exist_ok=True)
    for n in names:
        globals()[n](os.path.join(out, n + ".onnx"))

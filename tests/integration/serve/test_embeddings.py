"""POST /v1/embeddings from a local model: WordPiece tokenization, padding into one batch,
mean/CLS pooling, L2 normalisation, float and base64 encodings, usage, truncation, OpenAI
error shapes; the same model also answers on /v2. The model (models.embed) is checked
against its own numpy forward pass, so the whole path is compared with an independent
implementation."""
import base64
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import models  # noqa: E402
from gwharness import assert_clean, request, start_girder  # noqa: E402

MAX_TOKENS = 12
CONFIG = """
serving:
  models:
    - name: tiny-embed
      path: embed.onnx
      max_batch_size: 64
      dynamic_batching: {max_queue_delay_us: 2000}
      embedding:
        tokenizer: vocab.txt
        max_tokens: %d
    - name: tiny-cls
      path: embed.onnx
      embedding: {tokenizer: vocab.txt, pooling: cls, normalize: false}
""" % MAX_TOKENS


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("embed")
    models.embed(str(d / "embed.onnx"))
    g, port = start_girder(CONFIG, d)
    yield port
    g.stop()
    assert_clean(g)


def wordpiece(text, max_tokens):
    """BERT's tokenization for the plain ASCII texts used here."""
    vocab = {t: i for i, t in enumerate(models.EMBED_VOCAB)}
    ids = [vocab["[CLS]"]]
    for word in re.findall(r"\w+|[^\w\s]", text.lower()):
        start, pieces = 0, []
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in vocab:
                    pieces.append(vocab[piece])
                    break
                end -= 1
            if end == start:
                pieces = [vocab["[UNK]"]]
                break
            start = end
        ids += pieces
    return ids[:max_tokens - 1] + [vocab["[SEP]"]]


def reference(text, max_tokens=MAX_TOKENS, pooling="mean", normalize=True):
    ids = wordpiece(text, max_tokens)
    states = models.embed_reference(ids, [1] * len(ids))
    v = states.mean(0) if pooling == "mean" else states[0]
    return (v / np.linalg.norm(v) if normalize else v), len(ids)


def embeddings(port, body):
    status, hdrs, out = request(port, "POST", "/v1/embeddings", body)
    return status, json.loads(out)


TEXTS = ["The cat sat on the mat.", "A dog runs fast!", "hello world", "Cats playing, dogs sad?"]


def test_float_embeddings_match_reference(server):
    status, resp = embeddings(server, {"model": "tiny-embed", "input": TEXTS,
                                       "encoding_format": "float"})
    assert status == 200, resp
    assert resp["object"] == "list" and resp["model"] == "tiny-embed"
    total = 0
    for i, (text, item) in enumerate(zip(TEXTS, resp["data"])):
        assert item["object"] == "embedding" and item["index"] == i
        want, n = reference(text)
        total += n
        got = np.array(item["embedding"], np.float32)
        assert got.shape == (models.EMBED_HIDDEN,)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert abs(np.linalg.norm(got) - 1) < 1e-5
    assert resp["usage"] == {"prompt_tokens": total, "total_tokens": total}


def test_base64_is_the_same_floats(server):
    _, f = embeddings(server, {"model": "tiny-embed", "input": TEXTS[:2]})
    _, b = embeddings(server, {"model": "tiny-embed", "input": TEXTS[:2],
                               "encoding_format": "base64"})
    for fi, bi in zip(f["data"], b["data"]):
        decoded = np.frombuffer(base64.b64decode(bi["embedding"]), "<f4")
        np.testing.assert_array_equal(decoded, np.array(fi["embedding"], np.float32))


def test_single_string_unknown_words_and_truncation(server):
    text = "the red car engine is blue sea sky cafe zebra and the red car engine again"
    status, resp = embeddings(server, {"model": "tiny-embed", "input": text})
    assert status == 200, resp
    want, n = reference(text)
    assert n == MAX_TOKENS and resp["usage"]["prompt_tokens"] == MAX_TOKENS
    np.testing.assert_allclose(resp["data"][0]["embedding"], want, rtol=1e-5, atol=1e-5)


def test_cls_pooling_without_normalisation(server):
    status, resp = embeddings(server, {"model": "tiny-cls", "input": ["the sad dog"]})
    assert status == 200, resp
    want, _ = reference("the sad dog", max_tokens=512, pooling="cls", normalize=False)
    np.testing.assert_allclose(resp["data"][0]["embedding"], want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("body,status,fragment", [
    ({"model": "nope", "input": "x"}, 404, "not a local embedding model"),
    ({"model": "tiny-embed", "input": ""}, 400, "empty"),
    ({"model": "tiny-embed", "input": []}, 400, "must not be empty"),
    ({"model": "tiny-embed", "input": [[1, 2, 3]]}, 400, "token arrays"),
    ({"model": "tiny-embed", "input": 5}, 400, "string or an array"),
    ({"model": "tiny-embed", "input": "x", "encoding_format": "int8"}, 400, "encoding_format"),
    ({"model": "tiny-embed", "input": "x", "dimensions": 8}, 400, "dimensions"),
    ({"input": "x"}, 400, "'model'"),
])
def test_errors_are_openai_shaped(server, body, status, fragment):
    got, resp = embeddings(server, body)
    assert got == status, resp
    assert fragment in resp["error"]["message"], resp
    assert "type" in resp["error"]


def test_invalid_json(server):
    status, _, out = request(server, "POST", "/v1/embeddings", "{nope")
    assert status == 400 and "not valid JSON" in json.loads(out)["error"]["message"]


def test_same_model_on_v2(server):
    ids = wordpiece("hello world", MAX_TOKENS)
    body = {"inputs": [
        {"name": "input_ids", "shape": [1, len(ids)], "datatype": "INT64", "data": ids},
        {"name": "attention_mask", "shape": [1, len(ids)], "datatype": "INT64",
         "data": [1] * len(ids)},
        {"name": "token_type_ids", "shape": [1, len(ids)], "datatype": "INT64",
         "data": [0] * len(ids)}]}
    status, _, out = request(server, "POST", "/v2/models/tiny-embed/infer", body)
    assert status == 200, out
    o = json.loads(out)["outputs"][0]
    assert o["shape"] == [1, len(ids), models.EMBED_HIDDEN]
    np.testing.assert_allclose(np.array(o["data"]).reshape(len(ids), -1),
                               models.embed_reference(ids, [1] * len(ids)), rtol=1e-5, atol=1e-5)


def test_tokenizer_errors(tmp_path):
    models.embed(str(tmp_path / "e.onnx"))
    (tmp_path / "g.yaml").write_text(
        "serving:\n  models:\n    - name: e\n      path: e.onnx\n"
        "      embedding: {tokenizer: missing.txt, pooling: max}\n")
    p = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(tmp_path / "g.yaml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "no tokenizer file" in p.stderr and "pooling" in p.stderr, p.stderr
    # a vocab without [UNK] refuses the start, naming the model
    (tmp_path / "v.txt").write_text("[PAD]\n[CLS]\n[SEP]\nhello\n")
    (tmp_path / "g.yaml").write_text(
        "serving:\n  models:\n    - name: e\n      path: e.onnx\n"
        "      embedding: {tokenizer: v.txt}\n")
    p = subprocess.run([os.environ["GIRDER_BIN"], "serve", "--config", str(tmp_path / "g.yaml"),
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "model 'e': tokenizer" in p.stdout + p.stderr


def test_gateway_and_local_models_share_the_route(tmp_path):
    """With the gateway configured, /v1/embeddings routes gateway aliases upstream and hands
    every other model to the model server: a local embedding model answers, an unknown name
    gets OpenAI's 404, and chat completions stay the gateway's alone."""
    from gwharness import start_mock
    models.embed(str(tmp_path / "embed.onnx"))
    mock, mport = start_mock()
    conf = ("providers:\n  - {name: mock, base_url: \"http://127.0.0.1:%d/v1\"}\n"
            "models:\n  - {alias: remote, deployments: [{provider: mock, model: m-e}]}\n"
            % mport) + CONFIG
    g, port = start_girder(conf, tmp_path)
    try:
        status, hdrs, out = request(port, "POST", "/v1/embeddings",
                                    {"model": "tiny-embed", "input": "the cat sat"})
        body = json.loads(out)
        assert status == 200 and body["model"] == "tiny-embed", body
        want, _ = reference("the cat sat")
        assert np.allclose(body["data"][0]["embedding"], want, atol=1e-4)
        status, hdrs, out = request(port, "POST", "/v1/embeddings",
                                    {"model": "remote", "input": "x"})
        assert status == 200, out
        assert "x-girder-deployment" in {k.lower() for k in hdrs}, hdrs
        status, _, out = request(port, "POST", "/v1/embeddings", {"model": "nope", "input": "x"})
        err = json.loads(out)["error"]
        assert status == 404 and err["code"] == "model_not_found", err
        status, _, out = request(port, "POST", "/v1/chat/completions",
                                 {"model": "tiny-embed", "messages": []})
        assert status == 404 and "does not exist" in json.loads(out)["error"]["message"]
    finally:
        g.stop()
        mock.stop()
    assert_clean(g)

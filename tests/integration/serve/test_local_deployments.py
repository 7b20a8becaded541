"""Gateway aliases whose deployments are this girder's own models (provider type: local):
one alias prefers the local embedding model and falls back to a remote provider, or the
reverse, with the gateway's retries and breakers; local models join GET /v1/models; a
chat request to a local deployment, a deployment naming no local model and remote-only
provider keys are refused with the reason."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
import models  # noqa: E402
from gwharness import (assert_clean, free_port, mock_reset, mock_stats, request,  # noqa: E402
                       start_girder, start_mock)
from test_embeddings import MAX_TOKENS, reference  # noqa: E402

SERVING = """
serving:
  models:
    - name: tiny-embed
      path: embed.onnx
      embedding: {tokenizer: vocab.txt, max_tokens: %d}
    - name: sick-embed
      path: embed.onnx
      required: false
      probe: {request: probe_req.json, expect: wrong_expect.json}
      embedding: {tokenizer: vocab.txt}
""" % MAX_TOKENS

GATEWAY = """
providers:
  - {name: here, type: local}
  - {name: mock, base_url: "http://127.0.0.1:%(mport)d/v1"}
  - {name: down, base_url: "http://127.0.0.1:%(dead)d/v1"}
models:
  - alias: embed
    deployments: [{provider: here, model: tiny-embed}]
    fallbacks: [embed-remote]
  - alias: embed-remote
    deployments: [{provider: mock, model: m-e}]
  - alias: remote-first
    retries: 0
    deployments: [{provider: down, model: m-e}]
    fallbacks: [embed]
  - alias: sick-first
    retries: 0
    deployments: [{provider: here, model: sick-embed}]
    fallbacks: [embed-remote]
  - alias: chat
    deployments: [{provider: here, model: tiny-embed}]
"""


def probe_files(d):
    ids = {"shape": [1, 2], "datatype": "INT64"}
    req = {"inputs": [dict(ids, name="input_ids", data=[1, 2]),
                      dict(ids, name="attention_mask", data=[1, 1]),
                      dict(ids, name="token_type_ids", data=[0, 0])]}
    (d / "probe_req.json").write_text(json.dumps(req))
    (d / "wrong_expect.json").write_text(json.dumps(
        {"outputs": [{"name": "last_hidden_state", "data": [999.0] * (2 * models.EMBED_HIDDEN)}]}))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("local")
    models.embed(str(d / "embed.onnx"))
    probe_files(d)
    mock, mport = start_mock()
    g, port = start_girder(GATEWAY % {"mport": mport, "dead": free_port()} + SERVING, d)
    yield port, mport
    g.stop()
    mock.stop()
    assert_clean(g)


def embed(port, model, text="the cat sat"):
    status, hdrs, out = request(port, "POST", "/v1/embeddings", {"model": model, "input": text})
    return status, hdrs, json.loads(out)


def test_alias_prefers_the_local_model(server):
    port, mport = server
    mock_reset(mport)
    status, hdrs, body = embed(port, "embed")
    assert status == 200, body
    assert hdrs["x-girder-deployment"] == "here/tiny-embed", hdrs
    want, n_tokens = reference("the cat sat")
    assert np.allclose(body["data"][0]["embedding"], want, atol=1e-4)
    assert body["usage"]["prompt_tokens"] == n_tokens, body
    assert mock_stats(mport)["by_model"] == {}


def test_unreachable_remote_falls_back_to_the_local_model(server):
    port, _ = server
    status, hdrs, body = embed(port, "remote-first")
    assert status == 200, body
    assert hdrs["x-girder-deployment"] == "here/tiny-embed", hdrs
    assert np.allclose(body["data"][0]["embedding"], reference("the cat sat")[0], atol=1e-4)


def test_local_model_failing_its_probe_falls_back_to_the_remote(server):
    port, mport = server
    mock_reset(mport)
    status, hdrs, body = embed(port, "sick-first")
    assert status == 200, body
    assert hdrs["x-girder-deployment"] == "mock/m-e", hdrs
    assert mock_stats(mport)["by_model"] == {"m-e": 1}


def test_bad_input_is_answered_by_the_local_model_without_fallback(server):
    port, mport = server
    mock_reset(mport)
    status, _, out = request(port, "POST", "/v1/embeddings", {"model": "embed", "input": []})
    err = json.loads(out)["error"]
    assert status == 400 and err["type"] == "invalid_request_error", err
    assert mock_stats(mport)["by_model"] == {}


def test_chat_to_a_local_deployment_is_refused(server):
    port, _ = server
    status, _, out = request(port, "POST", "/v1/chat/completions",
                             {"model": "chat", "messages": [{"role": "user", "content": "hi"}]})
    err = json.loads(out)["error"]
    assert status == 400 and "answers embeddings only" in err["message"], err


def test_local_models_join_the_models_list(server):
    port, _ = server
    status, _, out = request(port, "GET", "/v1/models")
    ids = [m["id"] for m in json.loads(out)["data"]]
    assert status == 200 and ids == ["embed", "embed-remote", "remote-first", "sick-first",
                                     "chat", "tiny-embed", "sick-embed"], ids
    caps = {m["id"]: m["capabilities"] for m in json.loads(out)["data"]}
    assert caps["embed-remote"] == ["chat", "completions", "embeddings"], caps
    assert caps["chat"] == caps["tiny-embed"] == ["embeddings"], caps  # local: embeddings only
    assert caps["remote-first"] == ["chat", "completions", "embeddings"], caps
    status, _, out = request(port, "GET", "/v1/models/tiny-embed")
    assert status == 200 and json.loads(out)["id"] == "tiny-embed"
    assert json.loads(out)["capabilities"] == ["embeddings"]
    assert request(port, "GET", "/v1/models/nope")[0] == 404


def test_direct_local_model_still_answers(server):
    port, _ = server
    status, hdrs, body = embed(port, "tiny-embed")
    assert status == 200 and hdrs["x-girder-model"] == "tiny-embed", hdrs


def test_deployment_naming_no_local_model_refuses_start(tmp_path):
    models.embed(str(tmp_path / "embed.onnx"))
    conf = ("providers:\n  - {name: here, type: local}\n"
            "models:\n  - {alias: e, deployments: [{provider: here, model: nope}]}\n"
            "serving:\n  models:\n    - name: tiny-embed\n      path: embed.onnx\n"
            "      embedding: {tokenizer: vocab.txt}\n")
    path = tmp_path / "g.yaml"
    path.write_text(conf)
    r = subprocess.run([os.environ["GIRDER_BIN"], "serve", "--config", str(path), "--listen",
                        "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "names no local embedding model" in r.stderr and 'model="nope"' in r.stderr, r.stderr


def test_remote_keys_on_a_local_provider_are_config_errors(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("providers:\n  - name: here\n    type: local\n"
                    "    base_url: http://127.0.0.1:1/v1\n"
                    "models:\n  - {alias: e, deployments: [{provider: here, model: m}]}\n")
    r = subprocess.run([os.environ["GIRDER_BIN"], "config", "check", str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert ":4:" in r.stderr and "takes no base_url" in r.stderr, r.stderr

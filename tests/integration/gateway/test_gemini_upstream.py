"""gemini_upstream.py, the stand-in for Google's Gemini API in girder's `type: gemini` tests,
refuses what the real API refuses (so the SDK tests through girder prove girder sends
what Google accepts): missing or wrong keys and tokens, unknown fields, bad roles, empty
contents, unmatched function responses, out-of-range generationConfig."""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
STUDIO = "/v1beta/models/gemini-ok:generateContent"
VERTEX = "/v1/projects/test-proj/locations/us-central1/publishers/google/models/gemini-ok:" \
         "generateContent"
OK = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.fixture(scope="module")
def port():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "gemini_upstream.py")],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("PORT ")
    yield int(line.split()[1])
    p.terminate()
    p.wait()


def post(port, path, body, headers=None):
    h = {"content-type": "application/json"}
    h.update(headers if headers is not None else {"x-goog-api-key": "gm-key-test"})
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data, h)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def refused(port, body, code, status, part, path=STUDIO, headers=None):
    c, text = post(port, path, body, headers)
    assert c == code, text
    err = json.loads(text)["error"]
    assert err["code"] == code and err["status"] == status, err
    assert part in err["message"], err


def test_accepts_a_valid_request_both_forms(port):
    c, text = post(port, STUDIO, OK)
    assert c == 200, text
    assert json.loads(text)["candidates"][0]["finishReason"] == "STOP"
    c, text = post(port, VERTEX, OK, {"authorization": "Bearer ya29.test-token"})
    assert c == 200, text


def test_keys_and_tokens(port):
    refused(port, OK, 403, "PERMISSION_DENIED", "unregistered callers", headers={})
    refused(port, OK, 400, "INVALID_ARGUMENT", "API key not valid",
            headers={"x-goog-api-key": "nope"})
    refused(port, OK, 401, "UNAUTHENTICATED", "invalid authentication", path=VERTEX,
            headers={"x-goog-api-key": "gm-key-test"})
    refused(port, OK, 403, "PERMISSION_DENIED", "other",
            path=VERTEX.replace("test-proj", "other"),
            headers={"authorization": "Bearer ya29.test-token"})


def test_request_shape(port):
    refused(port, dict(OK, frobnicate=1), 400, "INVALID_ARGUMENT", 'Unknown name "frobnicate"')
    refused(port, dict(OK, generationConfig={"max_tokens": 5}), 400, "INVALID_ARGUMENT",
            'Unknown name "max_tokens"')
    refused(port, dict(OK, generationConfig={"temperature": 2.5}), 400, "INVALID_ARGUMENT",
            "temperature")
    refused(port, dict(OK, generationConfig={"candidateCount": 2}), 400, "INVALID_ARGUMENT",
            "one candidate")
    refused(port, dict(OK, generationConfig={"stopSequences": list("abcdef")}), 400,
            "INVALID_ARGUMENT", "at most 5")
    refused(port, {"contents": []}, 400, "INVALID_ARGUMENT", "contents is not specified")
    refused(port, {"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, 400,
            "INVALID_ARGUMENT", "valid role: user, model")
    refused(port, {"contents": [{"role": "user", "parts": []}]}, 400, "INVALID_ARGUMENT",
            "must not be empty")
    refused(port, {"contents": [{"role": "user", "parts": [{"text": "a", "inlineData": {}}]}]},
            400, "INVALID_ARGUMENT", "oneof field")
    refused(port, {"contents": [{"role": "user", "parts": [{"inlineData": {
        "mimeType": "image/png", "data": "%%%"}}]}]}, 400, "INVALID_ARGUMENT",
            "Base64 decoding failed")
    refused(port, b"{nope", 400, "INVALID_ARGUMENT", "Invalid JSON payload")


def test_tools_and_function_turns(port):
    tools = [{"functionDeclarations": [{"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "string"}}}}]}]
    call = {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}}}]}
    resp = {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}
    c, text = post(port, STUDIO, {"contents": OK["contents"] + [call, resp], "tools": tools})
    assert c == 200, text
    refused(port, {"contents": OK["contents"] + [call, OK["contents"][0]], "tools": tools}, 400,
            "INVALID_ARGUMENT", "number of function response parts")
    refused(port, {"contents": OK["contents"] + [resp]}, 400, "INVALID_ARGUMENT",
            "function response turn")
    refused(port, {"contents": OK["contents"], "tools": [{"functionDeclarations": [
        {"name": "f", "parameters": {"type": "object", "properties": {}}}]}]}, 400,
            "INVALID_ARGUMENT", "non-empty for OBJECT")
    refused(port, {"contents": OK["contents"], "tools": tools, "toolConfig": {
        "functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}}, 400,
            "INVALID_ARGUMENT", "only be set when mode is ANY")
    refused(port, {"contents": OK["contents"] + [call]}, 400, "INVALID_ARGUMENT",
            "no such function declared")


def test_streams_only_as_sse(port):
    path = STUDIO.replace(":generateContent", ":streamGenerateContent")
    refused(port, OK, 400, "INVALID_ARGUMENT", "alt=sse", path=path)
    c, text = post(port, path + "?alt=sse", OK)
    assert c == 200
    events = [e for e in text.split("\r\n\r\n") if e]
    assert len(events) > 2 and all(e.startswith("data: {") for e in events)
    assert json.loads(events[-1][6:])["candidates"][0]["finishReason"] == "STOP"


def test_batch_embed_contents(port):
    path = "/v1beta/models/text-embedding-004:batchEmbedContents"
    one = {"model": "models/text-embedding-004", "content": {"parts": [{"text": "hi"}]}}
    c, text = post(port, path, {"requests": [one, dict(one, outputDimensionality=3)]})
    assert c == 200, text
    assert [len(e["values"]) for e in json.loads(text)["embeddings"]] == [4, 3]
    refused(port, {"requests": [dict(one, model="models/other")]}, 400, "INVALID_ARGUMENT",
            "must match the batch model", path=path)
    refused(port, {"requests": [one] * 101}, 400, "INVALID_ARGUMENT", "at most 100", path=path)
    refused(port, {"requests": []}, 400, "INVALID_ARGUMENT", "requests is not specified",
            path=path)
    refused(port, {"requests": [dict(one, dimensions=3)]}, 400, "INVALID_ARGUMENT",
            'Unknown name "dimensions"', path=path)
    refused(port, {"requests": [one]}, 403, "PERMISSION_DENIED", "unregistered", path=path,
            headers={})

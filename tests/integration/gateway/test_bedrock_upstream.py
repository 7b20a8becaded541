"""bedrock_upstream.py, the stand-in for AWS Bedrock Runtime in girder's `type: bedrock`
tests, checks what the real service checks (so the SDK tests through girder prove girder
sends what AWS accepts): its SigV4 verifier reproduces AWS's published test-suite
signatures; unsigned, wrongly signed, unknown-key and wrong-token requests get Bedrock's 403
bodies; malformed Converse bodies get ValidationException; streams are real event stream
framing with valid CRCs."""
import binascii
import datetime
import hashlib
import json
import os
import struct
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bedrock_upstream as bu  # noqa: E402

SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_HEADERS = {"host": ["example.amazonaws.com"], "x-amz-date": ["20150830T123600Z"]}
PATH = "/model/anthropic.claude-test-v1%3A0/converse"
OK = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}


def suite_sig(method, query="", headers=None, signed=("host", "x-amz-date")):
    creq = bu.canonical_request(method, "/", query, headers or SUITE_HEADERS, list(signed), b"")
    return bu.signature(SUITE_SECRET, "20150830T123600Z", "us-east-1", "service", creq)


def test_verifier_reproduces_the_aws_sigv4_test_suite():
    assert suite_sig("GET") == "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
    assert suite_sig("POST") == \
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
    assert suite_sig("GET", "Param2=value2&Param1=value1") == \
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
    token = ("AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAe"
             "MicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8ph"
             "UZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT"
             "38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJab"
             "IQwj2ICCR/oLxBA==")
    h = dict(SUITE_HEADERS, **{"x-amz-security-token": [token]})
    assert suite_sig("POST", headers=h, signed=("host", "x-amz-date", "x-amz-security-token")) \
        == "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"


@pytest.fixture(scope="module")
def port():
    p = subprocess.Popen([sys.executable, os.path.join(HERE, "bedrock_upstream.py"),
                          "--key", "AKIDTEST:secret-test", "--key", "ASIATEST:sess-secret:tok1"],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("PORT ")
    yield int(line.split()[1])
    p.terminate()
    p.wait()


def signed_headers(port, path, body, key="AKIDTEST", secret="secret-test", token=None,
                   region="us-east-1"):
    amz = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    h = {"host": ["127.0.0.1:%d" % port], "x-amz-date": [amz],
         "content-type": ["application/json"]}
    if token:
        h["x-amz-security-token"] = [token]
    signed = sorted(h)
    creq = bu.canonical_request("POST", path, "", h, signed, body)
    sig = bu.signature(secret, amz, region, "bedrock", creq)
    out = {k: v[0] for k, v in h.items() if k != "host"}
    out["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s/%s/bedrock/aws4_request, "
                            "SignedHeaders=%s, Signature=%s"
                            % (key, amz[:8], region, ";".join(signed), sig))
    return out


def post(port, path, body, headers=None, **sign):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h = headers if headers is not None else signed_headers(port, path, data, **sign)
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data, h)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def refused(port, body, status, kind, part, path=PATH, **kw):
    c, h, text = post(port, path, body, **kw)
    assert c == status, text
    assert h["x-amzn-ErrorType"].startswith(kind + ":"), h["x-amzn-ErrorType"]
    assert part in json.loads(text)["message"], text


def test_accepts_a_signed_request(port):
    c, h, text = post(port, PATH, OK)
    assert c == 200, text
    r = json.loads(text)
    assert r["output"]["message"]["content"] == [{"text": bu.TEXT}]
    assert r["stopReason"] == "end_turn" and r["usage"]["totalTokens"] == 18
    c, _, text = post(port, PATH, OK, key="ASIATEST", secret="sess-secret", token="tok1")
    assert c == 200, text


def test_signatures(port):
    refused(port, OK, 403, "MissingAuthenticationTokenException", "Missing Authentication",
            headers={"content-type": "application/json"})
    refused(port, OK, 403, "InvalidSignatureException", "signature we calculated",
            secret="wrong")
    refused(port, OK, 403, "UnrecognizedClientException", "security token", key="AKIDNOPE")
    refused(port, OK, 403, "UnrecognizedClientException", "security token", key="ASIATEST",
            secret="sess-secret")
    refused(port, OK, 403, "InvalidSignatureException", "region", region="eu-west-1")
    # the signature covers the body and the path as sent
    data = json.dumps(OK).encode()
    h = signed_headers(port, PATH, data)
    refused(port, data + b" ", 403, "InvalidSignatureException", "signature", headers=h)
    refused(port, data, 403, "InvalidSignatureException", "signature", headers=h,
            path=PATH.replace("%3A", ":"))


def test_converse_request_shape(port):
    refused(port, dict(OK, frobnicate=1), 400, "ValidationException", "extraneous key [frobnicate]")
    refused(port, dict(OK, inferenceConfig={"max_tokens": 5}), 400, "ValidationException",
            "extraneous key [max_tokens]")
    refused(port, dict(OK, inferenceConfig={"temperature": 1.5}), 400, "ValidationException",
            "temperature")
    refused(port, dict(OK, inferenceConfig={"stopSequences": list("abcde")}), 400,
            "ValidationException", "stopSequences")
    refused(port, {"messages": []}, 400, "ValidationException", "messages")
    refused(port, {"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}, 400,
            "ValidationException", "start with a user message")
    refused(port, {"messages": OK["messages"] * 2}, 400, "ValidationException", "alternate")
    refused(port, {"messages": [{"role": "user", "content": [{"text": " "}]}]}, 400,
            "ValidationException", "is blank")
    refused(port, {"messages": [{"role": "user", "content": [{"text": "a", "image": {}}]}]},
            400, "ValidationException", "exactly one member")
    refused(port, {"messages": [{"role": "user", "content": [{"image": {
        "format": "bmp", "source": {"bytes": "AAAA"}}}]}]}, 400, "ValidationException", "enum")
    refused(port, OK, 400, "ValidationException", "model identifier is invalid",
            path="/model/nope/converse")
    refused(port, b"{nope", 400, "SerializationException", "Unexpected character")


def test_tool_turns(port):
    tc = {"tools": [{"toolSpec": {"name": "weather", "inputSchema": {"json": {
        "type": "object", "properties": {}}}}}]}
    use = {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "weather",
                                                         "input": {}}}]}
    result = {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [
        {"text": "18C"}]}}]}
    path = "/model/tools-model/converse"
    c, _, text = post(port, path, {"messages": OK["messages"] + [use, result], "toolConfig": tc})
    assert c == 200, text
    assert json.loads(text)["output"]["message"]["content"][0]["text"].startswith("The weather")
    refused(port, {"messages": OK["messages"] + [use, result]}, 400, "ValidationException",
            "toolConfig field must be defined", path=path)
    bad = {"role": "user", "content": [{"toolResult": {"toolUseId": "t9", "content": [
        {"text": "x"}]}}]}
    refused(port, {"messages": OK["messages"] + [use, bad], "toolConfig": tc}, 400,
            "ValidationException", "does not match a toolUse", path=path)
    refused(port, {"messages": OK["messages"] + [use, OK["messages"][0]], "toolConfig": tc},
            400, "ValidationException", "Expected toolResult blocks", path=path)
    refused(port, dict(OK, toolConfig={"tools": tc["tools"], "toolChoice": {"tool": {
        "name": "other"}}}), 400, "ValidationException", "not in toolConfig.tools", path=path)


def parse_event_stream(data):
    msgs, i = [], 0
    while i < len(data):
        total, hlen, pcrc = struct.unpack(">III", data[i:i + 12])
        assert binascii.crc32(data[i:i + 8]) == pcrc
        msg = data[i:i + total]
        assert binascii.crc32(msg[:-4]) == struct.unpack(">I", msg[-4:])[0]
        h, j = {}, 12
        while j < 12 + hlen:
            n = msg[j]
            name = msg[j + 1:j + 1 + n].decode()
            assert msg[j + 1 + n] == 7
            vl = struct.unpack(">H", msg[j + 2 + n:j + 4 + n])[0]
            h[name] = msg[j + 4 + n:j + 4 + n + vl].decode()
            j += 4 + n + vl
        msgs.append((h, json.loads(msg[12 + hlen:-4])))
        i += total
    return msgs


def test_streams_are_event_stream_framed(port):
    c, h, data = post(port, PATH.replace("converse", "converse-stream"), OK)
    assert c == 200 and h["content-type"] == "application/vnd.amazon.eventstream"
    msgs = parse_event_stream(data)
    kinds = [m[0][":event-type"] for m in msgs]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    assert "".join(p["delta"]["text"] for hd, p in msgs
                   if hd[":event-type"] == "contentBlockDelta") == bu.TEXT
    c, h, data = post(port, "/model/stream-throttle-model/converse-stream", OK)
    last = parse_event_stream(data)[-1]
    assert last[0][":message-type"] == "exception"
    assert last[0][":exception-type"] == "throttlingException"

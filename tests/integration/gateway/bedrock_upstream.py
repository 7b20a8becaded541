#!/usr/bin/python3
"""A local server speaking AWS Bedrock Runtime's Converse wire protocol (stdlib only), for
girder's `type: bedrock` provider tests.

  POST /model/{modelId}/converse          JSON answer
  POST /model/{modelId}/converse-stream   application/vnd.amazon.eventstream answer

Every request must carry a valid AWS Signature Version 4 (header form), checked here with
Python's hmac/hashlib from the algorithm as AWS documents it ("Create a signed AWS API
request"), not from girder's code: the canonical URI is the wire path URI-encoded once more
(every service but S3), the canonical query sorted, the canonical headers those named in
SignedHeaders (host and x-amz-date required, x-amz-security-token when sent), the payload's
SHA-256; the credential scope must be <date>/<region>/bedrock/aws4_request and X-Amz-Date
within 15 minutes. Failures get Bedrock's 403 bodies and x-amzn-ErrorType:
  no Authorization          -> MissingAuthenticationTokenException "Missing Authentication Token"
  unknown access key        -> UnrecognizedClientException "The security token included in
                               the request is invalid."
  a bad signature           -> InvalidSignatureException "The request signature we calculated
                               does not match the signature you provided. ..."
  wrong or missing session token for the session key -> UnrecognizedClientException
The Converse body is validated as the real API does (ValidationException, 400, with AWS's
"1 validation error detected: ..." style): no unknown fields (top level, inferenceConfig,
toolConfig, content blocks, toolSpec), messages non-empty, starting with user and
alternating, content non-empty with exactly one member per block, non-blank text, image
format png/jpeg/gif/webp with valid base64 bytes, toolUse only from the assistant and
toolResult only from the user answering the toolUse ids of the turn before, toolConfig
present when the conversation has tool blocks, tool names [a-zA-Z0-9_-]{1,64},
inferenceConfig ranges (maxTokens >= 1, temperature and topP 0..1, at most 4
stopSequences), toolChoice one of auto/any/tool (naming a declared tool).
What it answers is chosen by the model id:
  anthropic.claude-test-v1:0   text TEXT (streamed in several deltas)
  tools-model                  a toolUse of the first tool with ARGS, unless the last user
                               turn holds toolResults: then "The weather in Paris is 18C."
  images-model                 "images: N" with N the image blocks of the last user turn
  maxtok-model                 some text, stopReason max_tokens
  guard-model                  stopReason guardrail_intervened
  throttled-model              429 ThrottlingException
  unavailable-model            503 ServiceUnavailableException
  stream-throttle-model        stream: one delta, then a throttlingException message
  (anything else)              400 ValidationException "The provided model identifier is
                               invalid."
Usage: inputTokens 11, outputTokens 7, totalTokens 18. Streams go out chunked, each event
stream message split across two chunks and some chunks holding two messages, so the
client's decoder sees every kind of boundary.
GET /_stats -> {"by_model": {...}, "last": {model: {"headers", "path", "body"}}}.
Usage: bedrock_upstream.py [--port 0] [--region R] --key ID:SECRET[:TOKEN] ...;
prints "PORT <n>" when listening.
"""
import argparse
import base64
import binascii
import datetime
import hashlib
import hmac
import json
import re
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

TEXT = "Hello from Bedrock! Streaming \"works\", token by token — ünïcode too.\nThe end."
ARGS = {"city": "Paris", "unit": "celsius"}
USAGE = {"inputTokens": 11, "outputTokens": 7, "totalTokens": 18}
TOP = {"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
       "additionalModelRequestFields", "promptVariables", "additionalModelResponseFieldPaths",
       "requestMetadata", "performanceConfig"}
INFERENCE = {"maxTokens", "temperature", "topP", "stopSequences"}
BLOCK = {"text", "image", "document", "video", "toolUse", "toolResult", "guardContent",
         "cachePoint", "reasoningContent", "citationsContent"}
FORMATS = {"png", "jpeg", "gif", "webp"}
SIGNATURE_MISMATCH = ("The request signature we calculated does not match the signature you "
                      "provided. Check your AWS Secret Access Key and signing method. Consult "
                      "the service documentation for details.")

STATS = {"by_model": {}, "last": {}}
LOCK = threading.Lock()


class AwsError(Exception):
    def __init__(self, status, kind, message):
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


def validation(msg):
    return AwsError(400, "ValidationException", "1 validation error detected: " + msg)


# -- SigV4, from AWS's documented algorithm ---------------------------------------------------

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    k = _hmac(("AWS4" + secret).encode(), date)
    k = _hmac(k, region)
    k = _hmac(k, service)
    return _hmac(k, "aws4_request")


def canonical_query(q):
    pairs = []
    for part in q.split("&") if q else []:
        if not part:
            continue
        k, _, v = part.partition("=")
        pairs.append((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")))
    return "&".join("%s=%s" % kv for kv in sorted(pairs))


def canonical_request(method, raw_path, query, headers, signed, payload):
    """headers: {lowercase name: [values]}; signed: lowercase names in order."""
    uri = quote(raw_path or "/", safe="/-_.~")  # the wire path encoded again (not S3)
    lines = []
    for name in signed:
        vals = headers.get(name, [])
        lines.append(name + ":" + ",".join(re.sub(r"\s+", " ", v.strip()) for v in vals))
    return "\n".join([method, uri, canonical_query(query), "\n".join(lines) + "\n",
                      ";".join(signed), hashlib.sha256(payload).hexdigest()])


def signature(secret, amz_date, region, service, creq):
    scope = "%s/%s/%s/aws4_request" % (amz_date[:8], region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    return hmac.new(signing_key(secret, amz_date[:8], region, service), sts.encode(),
                    hashlib.sha256).hexdigest()


AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([a-z0-9-]+)/"
                     r"([a-z0-9-]+)/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?"
                     r"Signature=([0-9a-f]{64})$")


def verify(method, raw_path, query, headers, body, keys, region):
    """Raises AwsError unless the request is signed with one of keys for region/bedrock."""
    auth = headers.get("authorization", [None])[0]
    if not auth:
        raise AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
    m = AUTH_RE.match(auth)
    if not m:
        raise AwsError(403, "IncompleteSignatureException",
                       "Authorization header requires 'Credential', 'Signature' and "
                       "'SignedHeaders' parameters.")
    key_id, date, reg, service, signed_s, sig = m.groups()
    if key_id not in keys:
        raise AwsError(403, "UnrecognizedClientException",
                       "The security token included in the request is invalid.")
    secret, token = keys[key_id]
    signed = signed_s.split(";")
    amz_date = headers.get("x-amz-date", [""])[0]
    if signed != sorted(signed) or "host" not in signed or "x-amz-date" not in signed:
        raise AwsError(403, "InvalidSignatureException", SIGNATURE_MISMATCH)
    if reg != region or service != "bedrock":
        raise AwsError(403, "InvalidSignatureException",
                       "Credential should be scoped to a valid region / correct service.")
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        raise AwsError(403, "IncompleteSignatureException", "Date must be in ISO-8601 format")
    now = datetime.datetime.now(datetime.timezone.utc)
    if abs((now - t).total_seconds()) > 900 or date != amz_date[:8]:
        raise AwsError(403, "InvalidSignatureException", "Signature expired: " + amz_date)
    sent_token = headers.get("x-amz-security-token", [None])[0]
    if sent_token is not None and "x-amz-security-token" not in signed:
        raise AwsError(403, "InvalidSignatureException", SIGNATURE_MISMATCH)
    if token != sent_token:
        raise AwsError(403, "UnrecognizedClientException",
                       "The security token included in the request is invalid.")
    creq = canonical_request(method, raw_path, query, headers, signed, body)
    want = signature(secret, amz_date, reg, service, creq)
    if not hmac.compare_digest(want, sig):
        raise AwsError(403, "InvalidSignatureException", SIGNATURE_MISMATCH)


# -- event stream framing ---------------------------------------------------------------------

def es_header(name, value):
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v


def es_message(headers, payload):
    h = b"".join(es_header(k, v) for k, v in headers)
    prelude = struct.pack(">II", 16 + len(h) + len(payload), len(h))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    body = prelude + h + payload
    return body + struct.pack(">I", binascii.crc32(body))


def es_event(kind, obj):
    return es_message([(":event-type", kind), (":content-type", "application/json"),
                       (":message-type", "event")], json.dumps(obj).encode())


def es_exception(kind, message):
    return es_message([(":exception-type", kind), (":content-type", "application/json"),
                       (":message-type", "exception")],
                      json.dumps({"message": message}).encode())


# -- Converse validation ------------------------------------------------------------------

def check_keys(obj, allowed, where):
    if not isinstance(obj, dict):
        raise validation("Value at '%s' failed to satisfy constraint: Member must be an "
                         "object" % where)
    for k in obj:
        if k not in allowed:
            raise AwsError(400, "ValidationException",
                           "Malformed input request: extraneous key [%s] is not permitted, "
                           "please reformat your input and try again. (at %s)" % (k, where))


def check_block(b, where, role, prev_tool_ids, seen_results):
    check_keys(b, BLOCK, where)
    if len(b) != 1:
        raise validation("Value at '%s' failed to satisfy constraint: Member must have "
                         "exactly one member set" % where)
    (kind, v), = b.items()
    if kind == "text":
        if not isinstance(v, str) or not v.strip():
            raise AwsError(400, "ValidationException",
                           "The text field in the ContentBlock object at %s is blank. Add "
                           "text to the text field, and try again." % where)
    elif kind == "image":
        if role != "user":
            raise AwsError(400, "ValidationException",
                           "Images are only supported in user messages (%s)" % where)
        check_keys(v, {"format", "source"}, where + ".image")
        if v.get("format") not in FORMATS:
            raise validation("Value at '%s.image.format' failed to satisfy constraint: Member "
                             "must satisfy enum value set: [png, jpeg, gif, webp]" % where)
        check_keys(v.get("source"), {"bytes", "s3Location"}, where + ".image.source")
        try:
            data = base64.b64decode(v["source"]["bytes"], validate=True)
        except (KeyError, binascii.Error, TypeError):
            raise AwsError(400, "ValidationException", "Invalid base64 image bytes at " + where)
        if not data:
            raise AwsError(400, "ValidationException", "Empty image at " + where)
    elif kind == "toolUse":
        if role != "assistant":
            raise AwsError(400, "ValidationException",
                           "toolUse blocks are only allowed in assistant messages (%s)" % where)
        check_keys(v, {"toolUseId", "name", "input"}, where + ".toolUse")
        if not isinstance(v.get("toolUseId"), str) or not isinstance(v.get("name"), str) or \
                not isinstance(v.get("input"), dict):
            raise validation("Value at '%s.toolUse' failed to satisfy constraint: toolUseId, "
                             "name and input are required" % where)
    elif kind == "toolResult":
        if role != "user":
            raise AwsError(400, "ValidationException",
                           "toolResult blocks are only allowed in user messages (%s)" % where)
        check_keys(v, {"toolUseId", "content", "status"}, where + ".toolResult")
        if v.get("toolUseId") not in prev_tool_ids:
            raise AwsError(400, "ValidationException",
                           "The toolUseId %r in %s does not match a toolUse block of the "
                           "previous turn." % (v.get("toolUseId"), where))
        seen_results.add(v["toolUseId"])
        if v.get("status", "success") not in ("success", "error"):
            raise validation("Value at '%s.toolResult.status' failed to satisfy constraint"
                             % where)
        content = v.get("content")
        if not isinstance(content, list) or not content:
            raise validation("Value at '%s.toolResult.content' failed to satisfy constraint: "
                             "Member must have length greater than or equal to 1" % where)
        for i, c in enumerate(content):
            check_keys(c, {"text", "json", "image", "document", "video"},
                       "%s.toolResult.content.%d" % (where, i))
    else:
        raise AwsError(400, "ValidationException", "Unsupported content block %s at %s"
                       % (kind, where))
    return kind


def check_messages(msgs, has_tool_config):
    if not isinstance(msgs, list) or not msgs:
        raise validation("Value at 'messages' failed to satisfy constraint: Member must have "
                         "length greater than or equal to 1")
    prev_tool_ids, tool_blocks = set(), False
    for i, m in enumerate(msgs):
        where = "messages.%d" % i
        check_keys(m, {"role", "content"}, where)
        role = m.get("role")
        if role not in ("user", "assistant"):
            raise validation("Value at '%s.role' failed to satisfy constraint: Member must "
                             "satisfy enum value set: [user, assistant]" % where)
        if i == 0 and role != "user":
            raise AwsError(400, "ValidationException",
                           "A conversation must start with a user message. Try again with a "
                           "conversation that starts with a user message.")
        if i > 0 and msgs[i - 1].get("role") == role:
            raise AwsError(400, "ValidationException",
                           "A conversation must alternate between user and assistant roles. "
                           "Make sure the conversation alternates between user and assistant "
                           "roles and try again.")
        content = m.get("content")
        if not isinstance(content, list) or not content:
            raise validation("Value at '%s.content' failed to satisfy constraint: Member must "
                             "have length greater than or equal to 1" % where)
        ids, results = set(), set()
        for j, b in enumerate(content):
            kind = check_block(b, "%s.content.%d" % (where, j), role, prev_tool_ids, results)
            if kind == "toolUse":
                ids.add(b["toolUse"]["toolUseId"])
            tool_blocks |= kind in ("toolUse", "toolResult")
        if role == "user" and prev_tool_ids and results != prev_tool_ids:
            raise AwsError(400, "ValidationException",
                           "Expected toolResult blocks at %s.content for Ids: %s"
                           % (where, ", ".join(sorted(prev_tool_ids - results))))
        prev_tool_ids = ids
    if tool_blocks and not has_tool_config:
        raise AwsError(400, "ValidationException",
                       "The toolConfig field must be defined when using toolUse and toolResult "
                       "content blocks.")


def check_tool_config(tc):
    check_keys(tc, {"tools", "toolChoice"}, "toolConfig")
    tools = tc.get("tools")
    if not isinstance(tools, list) or not tools:
        raise validation("Value at 'toolConfig.tools' failed to satisfy constraint: Member "
                         "must have length greater than or equal to 1")
    names = []
    for i, t in enumerate(tools):
        check_keys(t, {"toolSpec", "cachePoint"}, "toolConfig.tools.%d" % i)
        spec = t.get("toolSpec")
        check_keys(spec, {"name", "description", "inputSchema"}, "toolConfig.tools.%d.toolSpec"
                   % i)
        name = spec.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", name):
            raise validation("Value at 'toolConfig.tools.%d.member.toolSpec.name' failed to "
                             "satisfy constraint: Member must satisfy regular expression "
                             "pattern: [a-zA-Z0-9_-]+" % i)
        schema = spec.get("inputSchema")
        check_keys(schema, {"json"}, "toolConfig.tools.%d.toolSpec.inputSchema" % i)
        if not isinstance(schema.get("json"), dict) or schema["json"].get("type") != "object":
            raise AwsError(400, "ValidationException",
                           "The value at toolConfig.tools.%d.toolSpec.inputSchema.json.type "
                           "must be object" % i)
        names.append(name)
    ch = tc.get("toolChoice")
    if ch is not None:
        check_keys(ch, {"auto", "any", "tool"}, "toolConfig.toolChoice")
        if len(ch) != 1:
            raise validation("Value at 'toolConfig.toolChoice' failed to satisfy constraint: "
                             "Member must have exactly one member set")
        if "tool" in ch and ch["tool"].get("name") not in names:
            raise AwsError(400, "ValidationException",
                           "The tool %r in toolChoice is not in toolConfig.tools"
                           % ch["tool"].get("name"))
    return names


def check_inference(inf):
    check_keys(inf, INFERENCE, "inferenceConfig")
    mt = inf.get("maxTokens")
    if mt is not None and (not isinstance(mt, int) or isinstance(mt, bool) or mt < 1):
        raise validation("Value '%s' at 'inferenceConfig.maxTokens' failed to satisfy "
                         "constraint: Member must have value greater than or equal to 1" % mt)
    for k in ("temperature", "topP"):
        v = inf.get(k)
        if v is not None and (not isinstance(v, (int, float)) or not 0 <= v <= 1):
            raise validation("Value '%s' at 'inferenceConfig.%s' failed to satisfy constraint: "
                             "Member must have value less than or equal to 1" % (v, k))
    ss = inf.get("stopSequences")
    if ss is not None and (not isinstance(ss, list) or len(ss) > 4 or
                           not all(isinstance(s, str) and s for s in ss)):
        raise validation("Value at 'inferenceConfig.stopSequences' failed to satisfy "
                         "constraint: Member must have length less than or equal to 4")


def check_request(body):
    try:
        req = json.loads(body)
    except ValueError:
        raise AwsError(400, "SerializationException", "Unexpected character in request body")
    check_keys(req, TOP, "request")
    tools = check_tool_config(req["toolConfig"]) if "toolConfig" in req else []
    check_messages(req.get("messages"), "toolConfig" in req)
    system = req.get("system", [])
    if not isinstance(system, list):
        raise validation("Value at 'system' failed to satisfy constraint: Member must be a list")
    for i, s in enumerate(system):
        check_keys(s, {"text", "guardContent", "cachePoint"}, "system.%d" % i)
        if not isinstance(s.get("text"), str) or not s["text"].strip():
            raise AwsError(400, "ValidationException", "The text field in system.%d is blank" % i)
    if "inferenceConfig" in req:
        check_inference(req["inferenceConfig"])
    return req, tools


# -- answers --------------------------------------------------------------------------------

def answer(model, req, tools):
    """(content blocks, stopReason) for the model, or raises AwsError."""
    last = req["messages"][-1]
    if model == "anthropic.claude-test-v1:0":
        return [{"text": TEXT}], "end_turn"
    if model == "tools-model":
        if any("toolResult" in b for b in last["content"]):
            return [{"text": "The weather in Paris is 18C."}], "end_turn"
        if not tools:
            return [{"text": "no tools"}], "end_turn"
        return [{"toolUse": {"toolUseId": "tooluse_bdrk01", "name": tools[0],
                             "input": ARGS}}], "tool_use"
    if model == "images-model":
        n = sum(1 for b in last["content"] if "image" in b)
        return [{"text": "images: %d" % n}], "end_turn"
    if model == "maxtok-model":
        return [{"text": "Cut"}], "max_tokens"
    if model == "guard-model":
        return [{"text": "Sorry, the model cannot answer this question."}], \
            "guardrail_intervened"
    if model == "throttled-model":
        raise AwsError(429, "ThrottlingException",
                       "Too many requests, please wait before trying again.")
    if model == "unavailable-model":
        raise AwsError(503, "ServiceUnavailableException",
                       "Bedrock is unable to process your request.")
    if model == "stream-throttle-model":
        return [{"text": TEXT}], "end_turn"
    raise AwsError(400, "ValidationException", "The provided model identifier is invalid.")


def stream_messages(model, blocks, stop):
    yield es_event("messageStart", {"role": "assistant", "p": "abcd"})
    for i, b in enumerate(blocks):
        if "text" in b:
            t = b["text"]
            pieces = [t[k:k + 9] for k in range(0, len(t), 9)]
            for n, piece in enumerate(pieces):
                yield es_event("contentBlockDelta", {"contentBlockIndex": i,
                                                     "delta": {"text": piece}, "p": "x" * n})
                if model == "stream-throttle-model":
                    yield es_exception("throttlingException",
                                       "Too many tokens, please wait before trying again.")
                    return
        else:
            tu = b["toolUse"]
            yield es_event("contentBlockStart", {"contentBlockIndex": i, "start": {
                "toolUse": {"toolUseId": tu["toolUseId"], "name": tu["name"]}}})
            s = json.dumps(tu["input"])
            for k in range(0, len(s), 7):
                yield es_event("contentBlockDelta", {"contentBlockIndex": i, "delta": {
                    "toolUse": {"input": s[k:k + 7]}}})
        yield es_event("contentBlockStop", {"contentBlockIndex": i})
    yield es_event("messageStop", {"stopReason": stop})
    yield es_event("metadata", {"usage": USAGE, "metrics": {"latencyMs": 42}})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    keys = {}
    region = "us-east-1"

    def log_message(self, *a):
        pass

    def send_json(self, status, obj, kind=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("x-amzn-requestid", "11111111-2222-3333-4444-555555555555")
        if kind:
            self.send_header("x-amzn-ErrorType", kind + ":http://internal.amazon.com/coral/")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                self.send_json(200, STATS)
        else:
            self.send_json(404, {"message": "not found"})

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(n)
        raw_path, _, query = self.path.partition("?")
        headers = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        m = re.fullmatch(r"/model/([^/]+)/(converse|converse-stream)", raw_path)
        model = unquote(m.group(1)) if m else None
        with LOCK:
            if model:
                STATS["by_model"][model] = STATS["by_model"].get(model, 0) + 1
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = body.decode("utf-8", "replace")
                STATS["last"][model] = {"headers": {k.lower(): v for k, v in self.headers.items()},
                                        "path": raw_path, "body": parsed}
        try:
            verify("POST", raw_path, query, headers, body, self.keys, self.region)
            if not m:
                raise AwsError(404, "UnknownOperationException", "")
            if headers.get("content-type", [""])[0].split(";")[0] != "application/json":
                raise AwsError(415, "UnsupportedMediaTypeException", "Unsupported media type")
            req, tools = check_request(body)
            blocks, stop = answer(model, req, tools)
        except AwsError as e:
            self.send_json(e.status, {"message": e.message}, e.kind)
            return
        if m.group(2) == "converse":
            self.send_json(200, {"output": {"message": {"role": "assistant", "content": blocks}},
                                 "stopReason": stop, "usage": USAGE,
                                 "metrics": {"latencyMs": 42}})
            return
        self.send_response(200)
        self.send_header("content-type", "application/vnd.amazon.eventstream")
        self.send_header("x-amzn-requestid", "11111111-2222-3333-4444-555555555555")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        held = b""
        for k, msg in enumerate(stream_messages(model, blocks, stop)):
            cut = 1 + (k * 7) % (len(msg) - 1)  # every message split across two chunks ...
            self.chunk(held + msg[:cut])
            held = msg[cut:]
            if k % 3 == 2:  # ... and some chunks hold the end of one and a whole next one
                continue
            self.chunk(held)
            held = b""
        if held:
            self.chunk(held)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--key", action="append", default=[],
                    help="ACCESS_KEY_ID:SECRET[:SESSION_TOKEN] (repeatable)")
    a = ap.parse_args()
    for k in a.key:
        parts = k.split(":", 2)
        Handler.keys[parts[0]] = (parts[1], parts[2] if len(parts) > 2 else None)
    Handler.region = a.region
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

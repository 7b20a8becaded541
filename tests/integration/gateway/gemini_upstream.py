#!/usr/bin/python3
"""A local server speaking Google's Gemini API wire protocol (stdlib only), for girder's
`type: gemini` provider tests: AI Studio and Vertex AI URL forms.

  POST /v1beta/models/{model}:generateContent                 (AI Studio, x-goog-api-key)
  POST /v1beta/models/{model}:streamGenerateContent?alt=sse
  POST /v1beta/models/{model}:batchEmbedContents             (AI Studio embeddings: a
                     deterministic vector per text, 4 values unless outputDimensionality)
  POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent
                                                              (Vertex AI, Authorization: Bearer)
Requests are validated the way the real API does; failures get Google's error shape
{"error":{"code":N,"message":...,"status":...}}:
  - AI Studio: no key -> 403 PERMISSION_DENIED, a wrong key -> 400 INVALID_ARGUMENT "API key
    not valid"; Vertex: no/wrong bearer token -> 401 UNAUTHENTICATED, another project or
    location -> 403 PERMISSION_DENIED; streamGenerateContent without alt=sse is refused here
    (girder must ask for SSE);
  - body: unknown fields anywhere it checks (top level, generationConfig, parts,
    functionDeclarations, toolConfig) -> 400 'Invalid JSON payload received. Unknown name
    "x"'; contents non-empty; roles user/model only; parts non-empty with exactly one of
    text/inlineData/functionCall/functionResponse; inlineData with a supported mimeType and
    valid base64; functionCall only from the model, functionResponse only from the user,
    as many responses as the model turn before made calls, named after those calls;
    function names valid and declared; parameters an OBJECT schema with non-empty
    properties; toolConfig mode AUTO/ANY/NONE, allowedFunctionNames only with ANY;
    generationConfig ranges (temperature 0..2, topP 0..1, maxOutputTokens >= 1, at most 5
    stopSequences, candidateCount 1).
What it answers is chosen by the model name:
  gemini-ok          text TEXT (streamed in several chunks, \\r\\n line endings)
  gemini-tools       a functionCall of the first declared function with ARGS, unless the last
                     user turn holds functionResponses: then "The weather in Paris is 18C."
  gemini-images      text "images: N" with N the inlineData parts of the last user turn
  gemini-blocked     promptFeedback.blockReason SAFETY, no candidates
  gemini-safety      some text, then finishReason SAFETY
  gemini-overloaded  503 UNAVAILABLE
  gemini-cut         stream: one chunk of text, then the connection closes
Usage: prompt 11, candidates 7, total 18, cached 2.
GET /_stats -> {"by_model": {...}, "last": {model: {"headers", "path", "body"}}}.
Usage: gemini_upstream.py [--port 0] [--key K] [--token T] [--project P] [--location L];
prints "PORT <n>" when listening.
"""
import argparse
import base64
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

TEXT = "Hello from Gemini! Streaming \"works\", token by token — ünïcode too.\nThe end."
ARGS = {"city": "Paris", "unit": "celsius"}
USAGE = {"promptTokenCount": 11, "candidatesTokenCount": 7, "totalTokenCount": 18,
         "cachedContentTokenCount": 2}
TOP = {"contents", "systemInstruction", "tools", "toolConfig", "generationConfig",
       "safetySettings", "cachedContent", "labels"}
GEN = {"stopSequences", "responseMimeType", "responseSchema", "responseJsonSchema",
       "candidateCount", "maxOutputTokens", "temperature", "topP", "topK", "seed",
       "presencePenalty", "frequencyPenalty", "responseLogprobs", "logprobs",
       "thinkingConfig", "responseModalities", "mediaResolution"}
PART = {"text", "inlineData", "functionCall", "functionResponse", "fileData", "thought",
        "thoughtSignature"}
MIME = {"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"}
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")
LOCK = threading.Lock()
STATE = {"by_model": {}, "last": {}}
CFG = {}


class Invalid(Exception):
    def __init__(self, message, code=400, status="INVALID_ARGUMENT"):
        super().__init__(message)
        self.code, self.status = code, status


def unknown(obj, allowed, where):
    for k in obj:
        if k not in allowed:
            raise Invalid('Invalid JSON payload received. Unknown name "%s" at \'%s\': Cannot '
                          'find field.' % (k, where))


def check_schema(s, where):
    if not isinstance(s, dict) or str(s.get("type", "")).upper() != "OBJECT":
        raise Invalid("%s: parameters must be an OBJECT schema" % where)
    if not s.get("properties"):
        raise Invalid("%s.properties: should be non-empty for OBJECT type" % where)


def check_tools(b):
    names = []
    tools = b.get("tools", [])
    if not isinstance(tools, list):
        raise Invalid("tools: must be a list")
    for i, t in enumerate(tools):
        unknown(t, {"functionDeclarations", "googleSearch", "codeExecution"}, "tools[%d]" % i)
        for j, d in enumerate(t.get("functionDeclarations", [])):
            w = "tools[%d].function_declarations[%d]" % (i, j)
            unknown(d, {"name", "description", "parameters", "parametersJsonSchema",
                        "response"}, w)
            if not NAME.match(d.get("name", "")):
                raise Invalid("* GenerateContentRequest.%s.name: Invalid function name." % w)
            if "parameters" in d:
                check_schema(d["parameters"], w + ".parameters")
            names.append(d["name"])
    tc = b.get("toolConfig")
    if tc is not None:
        unknown(tc, {"functionCallingConfig"}, "tool_config")
        fc = tc.get("functionCallingConfig", {})
        unknown(fc, {"mode", "allowedFunctionNames"}, "tool_config.function_calling_config")
        if fc.get("mode", "AUTO") not in ("AUTO", "ANY", "NONE", "VALIDATED"):
            raise Invalid('Invalid value at \'tool_config.function_calling_config.mode\'')
        allowed = fc.get("allowedFunctionNames")
        if allowed is not None:
            if fc.get("mode") != "ANY":
                raise Invalid("allowed_function_names may only be set when mode is ANY")
            if any(n not in names for n in allowed):
                raise Invalid("allowed_function_names: unknown function")
    return names


def check_parts(role, parts, where, prev_calls, names):
    if not isinstance(parts, list) or not parts:
        raise Invalid("* GenerateContentRequest.%s.parts: contents.parts must not be empty."
                      % where)
    calls, responses, images = [], [], 0
    for j, p in enumerate(parts):
        w = "%s.parts[%d]" % (where, j)
        if not isinstance(p, dict):
            raise Invalid(w + ": must be an object")
        unknown(p, PART, w)
        data = [k for k in p if k not in ("thought", "thoughtSignature")]
        if len(data) != 1:
            raise Invalid("* GenerateContentRequest.%s.data: required oneof field 'data' must "
                          "have one initialized field" % w)
        k = data[0]
        if k == "text" and not isinstance(p["text"], str):
            raise Invalid(w + ".text: must be a string")
        if k == "inlineData":
            d = p["inlineData"]
            unknown(d, {"mimeType", "data"}, w + ".inline_data")
            if d.get("mimeType") not in MIME:
                raise Invalid("Unsupported MIME type: %s" % d.get("mimeType"))
            try:
                base64.b64decode(d.get("data", ""), validate=True)
            except Exception:
                raise Invalid('Invalid value at \'%s.inline_data.data\' (TYPE_BYTES), Base64 '
                              'decoding failed' % w)
            images += 1
        if k == "functionCall":
            if role != "model":
                raise Invalid("%s: function calls can only come from the model" % w)
            fc = p["functionCall"]
            unknown(fc, {"name", "args", "id"}, w + ".function_call")
            if fc.get("name") not in names:
                raise Invalid("%s.function_call.name: no such function declared" % w)
            if not isinstance(fc.get("args", {}), dict):
                raise Invalid("%s.function_call.args: must be an object" % w)
            calls.append(fc["name"])
        if k == "functionResponse":
            if role != "user":
                raise Invalid("%s: function responses must come from the user" % w)
            fr = p["functionResponse"]
            unknown(fr, {"name", "response", "id"}, w + ".function_response")
            if not isinstance(fr.get("response"), dict):
                raise Invalid("%s.function_response.response: must be an object" % w)
            responses.append(fr.get("name"))
    if prev_calls and sorted(responses) != sorted(prev_calls):
        raise Invalid("Please ensure that the number of function response parts is equal to "
                      "the number of function call parts of the function call turn.")
    if responses and not prev_calls:
        raise Invalid("Please ensure that function response turn comes immediately after a "
                      "function call turn.")
    return calls, images


def validate(b):
    if not isinstance(b, dict):
        raise Invalid("Invalid JSON payload received.")
    unknown(b, TOP, "")
    names = check_tools(b)
    si = b.get("systemInstruction")
    if si is not None:
        unknown(si, {"parts", "role"}, "system_instruction")
        check_parts("user", si.get("parts"), "system_instruction", [], [])
    contents = b.get("contents")
    if not isinstance(contents, list) or not contents:
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    prev_calls = []
    for i, c in enumerate(contents):
        unknown(c, {"role", "parts"}, "contents[%d]" % i)
        role = c.get("role", "user")
        if role not in ("user", "model"):
            raise Invalid("Please use a valid role: user, model.")
        calls, _ = check_parts(role, c.get("parts"), "contents[%d]" % i, prev_calls, names)
        prev_calls = calls
    g = b.get("generationConfig", {})
    unknown(g, GEN, "generation_config")
    if not 0 <= g.get("temperature", 1) <= 2:
        raise Invalid("generation_config.temperature: must be in [0.0, 2.0]")
    if not 0 <= g.get("topP", 1) <= 1:
        raise Invalid("generation_config.top_p: must be in [0.0, 1.0]")
    if g.get("maxOutputTokens", 1) < 1:
        raise Invalid("generation_config.max_output_tokens: must be positive")
    if len(g.get("stopSequences", [])) > 5:
        raise Invalid("generation_config.stop_sequences: at most 5")
    if g.get("candidateCount", 1) != 1:
        raise Invalid("Only one candidate can be specified in the current model")


def validate_embed(model, b):
    """batchEmbedContents: requests[] (1..100), each naming the URL's model, with text parts."""
    if not isinstance(b, dict):
        raise Invalid("Invalid JSON payload received.")
    unknown(b, {"requests"}, "")
    reqs = b.get("requests")
    if not isinstance(reqs, list) or not reqs:
        raise Invalid("* BatchEmbedContentsRequest.requests: requests is not specified")
    if len(reqs) > 100:
        raise Invalid("* BatchEmbedContentsRequest.requests: at most 100 requests can be in "
                      "one batch")
    for i, r in enumerate(reqs):
        w = "requests[%d]" % i
        unknown(r, {"model", "content", "taskType", "title", "outputDimensionality"}, w)
        if r.get("model") != "models/" + model:
            raise Invalid("* BatchEmbedContentsRequest.%s.model: the model must match the "
                          "batch model models/%s" % (w, model))
        c = r.get("content") or {}
        unknown(c, {"parts", "role"}, w + ".content")
        parts = c.get("parts")
        if not isinstance(parts, list) or not parts or \
                not all(isinstance(p, dict) and set(p) == {"text"} for p in parts):
            raise Invalid("* BatchEmbedContentsRequest.%s.content: text parts only here" % w)
        d = r.get("outputDimensionality", 4)
        if not isinstance(d, int) or d < 1:
            raise Invalid("* BatchEmbedContentsRequest.%s.output_dimensionality: must be "
                          "positive" % w)


def embedding(text, dims):
    """A deterministic vector: exactly representable in float32 (k / 8)."""
    return [((ord(text[k % len(text)]) + k) % 16) / 8.0 for k in range(dims)] if text else \
        [0.0] * dims


def answer(model, b):
    last = b["contents"][-1]
    if model == "gemini-tools":
        if any("functionResponse" in p for p in last["parts"]):
            return [{"text": "The weather in Paris is 18C."}], "STOP"
        name = b["tools"][0]["functionDeclarations"][0]["name"]
        return [{"functionCall": {"name": name, "args": ARGS}}], "STOP"
    if model == "gemini-images":
        n = sum(1 for p in last["parts"] if "inlineData" in p)
        return [{"text": "images: %d" % n}], "STOP"
    if model == "gemini-safety":
        return [{"text": "I was about to"}], "SAFETY"
    return [{"text": TEXT}], "STOP"


def pieces(s, n):
    step = max(1, len(s) // n)
    return [s[i:i + step] for i in range(0, len(s), step)]


ROUTE = re.compile(r"^/v1beta/models/([^/:]+):(generateContent|streamGenerateContent|"
                   r"batchEmbedContents)$")
VERTEX = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/publishers/google/models/"
                    r"([^/:]+):(generateContent|streamGenerateContent)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json; charset=UTF-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, e):
        self.send_json(e.code, {"error": {"code": e.code, "message": str(e),
                                          "status": e.status}})

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                return self.send_json(200, STATE)
        self.error(Invalid("Not found", 404, "NOT_FOUND"))

    def auth(self, hdrs, vertex, project, location):
        if vertex:
            if hdrs.get("authorization") != "Bearer " + CFG["token"]:
                raise Invalid("Request had invalid authentication credentials.", 401,
                              "UNAUTHENTICATED")
            if (project, location) != (CFG["project"], CFG["location"]):
                raise Invalid("Permission denied on resource project %s." % project, 403,
                              "PERMISSION_DENIED")
        else:
            key = hdrs.get("x-goog-api-key")
            if key is None:
                raise Invalid("Method doesn't allow unregistered callers (callers without "
                              "established identity). Please use API Key or other form of API "
                              "consumer identity to call this API.", 403, "PERMISSION_DENIED")
            if key != CFG["key"]:
                raise Invalid("API key not valid. Please pass a valid API key.")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        u = urlsplit(self.path)
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        m, v = ROUTE.match(u.path), VERTEX.match(u.path)
        if not m and not v:
            return self.error(Invalid("Not found: " + u.path, 404, "NOT_FOUND"))
        model, method = (m.group(1), m.group(2)) if m else (v.group(3), v.group(4))
        stream = method == "streamGenerateContent"
        b = None
        try:
            self.auth(hdrs, bool(v), v and v.group(1), v and v.group(2))
            if stream and parse_qs(u.query).get("alt") != ["sse"]:
                raise Invalid("this test server streams only with alt=sse")
            if not hdrs.get("content-type", "").startswith("application/json"):
                raise Invalid("Invalid JSON payload received.")
            try:
                b = json.loads(body)
            except ValueError:
                raise Invalid("Invalid JSON payload received.")
            if method == "batchEmbedContents":
                validate_embed(model, b)
            else:
                validate(b)
            status = None
        except Invalid as e:
            status = e
        with LOCK:
            key = model if status is None else "invalid"
            STATE["by_model"][key] = STATE["by_model"].get(key, 0) + 1
            STATE["last"][key] = {"headers": hdrs, "path": self.path, "body": b}
        if status is not None:
            return self.error(status)
        if model == "gemini-overloaded":
            return self.error(Invalid("The model is overloaded. Please try again later.", 503,
                                      "UNAVAILABLE"))
        if method == "batchEmbedContents":
            return self.send_json(200, {"embeddings": [
                {"values": embedding(r["content"]["parts"][0]["text"],
                                     r.get("outputDimensionality", 4))}
                for r in b["requests"]]})
        base = {"modelVersion": model, "responseId": "resp-" + model}
        if model == "gemini-blocked":
            r = dict(base, promptFeedback={"blockReason": "SAFETY"},
                     usageMetadata={"promptTokenCount": 11, "totalTokenCount": 11})
            return self.stream_events([r]) if stream else self.send_json(200, r)
        parts, finish = answer(model, b)
        if not stream:
            cand = {"content": {"role": "model", "parts": parts}, "finishReason": finish,
                    "index": 0, "safetyRatings": []}
            return self.send_json(200, dict(base, candidates=[cand], usageMetadata=USAGE))
        events = []
        for p in parts:
            chunks = pieces(p["text"], 6) if "text" in p else [None]
            for t in chunks:
                part = {"text": t} if t is not None else p
                events.append(dict(base, candidates=[{"content": {"role": "model",
                                                                  "parts": [part]},
                                                      "index": 0}],
                                   usageMetadata={"promptTokenCount": 11,
                                                  "totalTokenCount": 11}))
        events[-1]["candidates"][0]["finishReason"] = finish
        events[-1]["usageMetadata"] = USAGE
        self.stream_events(events, cut=model == "gemini-cut")

    def stream_events(self, events, cut=False):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for ev in events:
            data = ("data: %s\r\n\r\n" % json.dumps(ev, ensure_ascii=False)).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            if cut:
                self.close_connection = True
                break
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default="gm-key-test")
    ap.add_argument("--token", default="ya29.test-token")
    ap.add_argument("--project", default="test-proj")
    ap.add_argument("--location", default="us-central1")
    a = ap.parse_args()
    CFG.update(key=a.key, token=a.token, project=a.project, location=a.location)
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

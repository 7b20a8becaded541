#!/usr/bin/python3
"""A local server speaking Azure OpenAI's data-plane wire protocol (stdlib only), for girder's
`type: azure` provider tests.

  POST /openai/deployments/{deployment}/chat/completions?api-version=V
  POST /openai/deployments/{deployment}/completions?api-version=V
  POST /openai/deployments/{deployment}/embeddings?api-version=V

It rejects what Azure rejects, with Azure's status and error bodies:
  - no api-version query, or one Azure does not serve, or any other path:
    404 {"error":{"code":"404","message":"Resource not found"}}
  - neither an `api-key` header nor `Authorization: Bearer`: 401 "missing subscription key";
    a wrong api-key: 401 code "401" "Access denied due to invalid subscription key or wrong
    API endpoint..."; a wrong bearer token: 401 "Unauthorized. Access token is missing,
    invalid, audience is incorrect..."
  - an unknown deployment: 404 {"error":{"code":"DeploymentNotFound",...}}
  - an operation the deployment's model cannot do (chat on an embeddings deployment):
    400 code OperationNotSupported
  - a body that is not a JSON object, lacks messages/prompt/input, or has an unknown
    top-level key: 400 invalid_request_error ("Unrecognized request argument supplied")
Deployments (name -> model):
  gpt-4o                  chat: TEXT, streamed in several chunks
  gpt-4o-filtered         chat: the answer is cut by the output content filter
                          (finish_reason content_filter, violence filtered: true)
  gpt-35-turbo-instruct   completions: TEXT
  text-embedding-3-small  embeddings (base64 when encoding_format asks, as the SDKs do)
Every answer carries Azure's content filter annotations: prompt_filter_results and
per-choice content_filter_results (streams: a first chunk with empty choices and
prompt_filter_results, an empty-model chunk as Azure sends it). Usage: prompt 9, completion 7.
GET /_stats -> {"by_deployment": {...}, "last": {deployment: {"headers", "query", "body"}}}.
Usage: azure_upstream.py [--port 0] [--key K] [--token T]; prints "PORT <n>" when listening.
"""
import argparse
import base64
import json
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

TEXT = "Hello from Azure! Streaming \"works\", chunk by chunk — ünïcode too.\nThe end."
VERSIONS = {"2024-02-01", "2024-06-01", "2024-10-21", "2024-12-01-preview",
            "2025-01-01-preview"}
DEPLOYMENTS = {"gpt-4o": ("gpt-4o-2024-08-06", "chat"),
               "gpt-4o-filtered": ("gpt-4o-2024-08-06", "chat"),
               "gpt-35-turbo-instruct": ("gpt-35-turbo-instruct", "completions"),
               "text-embedding-3-small": ("text-embedding-3-small", "embeddings")}
OPS = {"chat/completions": ("chat", "chatCompletion"), "completions": ("completions", "completion"),
       "embeddings": ("embeddings", "embeddings")}
CHAT_KEYS = {"messages", "model", "stream", "stream_options", "temperature", "top_p", "n", "stop",
             "max_tokens", "max_completion_tokens", "presence_penalty", "frequency_penalty",
             "logit_bias", "user", "tools", "tool_choice", "parallel_tool_calls", "seed",
             "response_format", "logprobs", "top_logprobs", "data_sources", "functions",
             "function_call", "store", "metadata", "reasoning_effort", "modalities", "audio",
             "prediction", "user_security_context"}
COMPLETION_KEYS = {"prompt", "model", "stream", "stream_options", "temperature", "top_p", "n",
                   "stop", "max_tokens", "presence_penalty", "frequency_penalty", "logit_bias",
                   "user", "logprobs", "echo", "best_of", "suffix", "seed"}
EMBEDDING_KEYS = {"input", "model", "encoding_format", "dimensions", "user", "input_type"}
SAFE = {k: {"filtered": False, "severity": "safe"}
        for k in ("hate", "self_harm", "sexual", "violence")}
PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": dict(
    SAFE, jailbreak={"filtered": False, "detected": False})}]
USAGE = {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16}
LOCK = threading.Lock()
STATE = {"by_deployment": {}, "last": {}}
KEY = TOKEN = None


class Refused(Exception):
    def __init__(self, status, error):
        super().__init__(status)
        self.status, self.error = status, error


def not_found():
    return Refused(404, {"code": "404", "message": "Resource not found"})


def invalid(message, param=None):
    return Refused(400, {"message": message, "type": "invalid_request_error", "param": param,
                         "code": None})


def check_auth(h):
    if "api-key" in h:
        if h["api-key"] != KEY:
            raise Refused(401, {"code": "401", "message": (
                "Access denied due to invalid subscription key or wrong API endpoint. Make "
                "sure to provide a valid key for an active subscription and use a correct "
                "regional API endpoint for your resource.")})
        return
    auth = h.get("authorization", "")
    if not auth.startswith("Bearer "):
        raise Refused(401, {"code": "401", "message": (
            "Access denied due to missing subscription key. Make sure to include "
            "subscription key when making requests to an API.")})
    if auth[7:] != TOKEN:
        raise Refused(401, {"code": "401", "message": (
            "Unauthorized. Access token is missing, invalid, audience is incorrect "
            "(https://cognitiveservices.azure.com), or have expired.")})


def route(path):
    """-> (deployment, operation) or raises 404 the way Azure answers."""
    u = urlsplit(path)
    versions = parse_qs(u.query).get("api-version", [])
    parts = u.path.split("/", 4)  # '', 'openai', 'deployments', name, op
    if (len(versions) != 1 or versions[0] not in VERSIONS or len(parts) != 5 or
            parts[:3] != ["", "openai", "deployments"] or parts[4] not in OPS):
        raise not_found()
    return parts[3], parts[4]


def check_body(kind, raw):
    try:
        b = json.loads(raw)
    except ValueError:
        raise invalid("We could not parse the JSON body of your request. (HINT: This likely "
                      "means you aren't using your HTTP library correctly.)")
    if not isinstance(b, dict):
        raise invalid("Invalid type for request body: expected an object")
    keys = {"chat": CHAT_KEYS, "completions": COMPLETION_KEYS, "embeddings": EMBEDDING_KEYS}[kind]
    for k in b:
        if k not in keys:
            raise invalid("Unrecognized request argument supplied: %s" % k)
    need = {"chat": "messages", "completions": "prompt", "embeddings": "input"}[kind]
    if need not in b:
        raise invalid("'%s' is a required property" % need, need)
    if kind == "chat":
        msgs = b["messages"]
        if not isinstance(msgs, list) or not msgs:
            raise invalid("[] is too short - 'messages'", "messages")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict) or m.get("role") not in (
                    "system", "developer", "user", "assistant", "tool", "function"):
                raise invalid("Invalid value for 'messages[%d].role'" % i, "messages")
    return b


def pieces(s, n):
    step = max(1, len(s) // n)
    return [s[i:i + step] for i in range(0, len(s), step)]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("apim-request-id", "0f1e2d3c-test")
        self.send_header("x-ratelimit-remaining-requests", "99")
        self.send_header("x-ms-region", "Sweden Central")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                return self.send_json(200, STATE)
        self.send_json(404, {"error": {"code": "404", "message": "Resource not found"}})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        try:
            dep, op = route(self.path)
            check_auth(hdrs)
            if dep not in DEPLOYMENTS:
                raise Refused(404, {"code": "DeploymentNotFound", "message": (
                    "The API deployment for this resource does not exist. If you created the "
                    "deployment within the last 5 minutes, please wait a moment and try again.")})
            model, can = DEPLOYMENTS[dep]
            kind, opname = OPS[op]
            if kind != can:
                raise Refused(400, {"code": "OperationNotSupported", "message": (
                    "The %s operation does not work with the specified model, %s. Please "
                    "choose different model and try again. You can learn more about which "
                    "models can be used with each operation here: "
                    "https://go.microsoft.com/fwlink/?linkid=2197993." % (opname, model))})
            b = check_body(kind, raw)
        except Refused as e:
            return self.send_json(e.status, {"error": e.error})
        with LOCK:
            STATE["by_deployment"][dep] = STATE["by_deployment"].get(dep, 0) + 1
            STATE["last"][dep] = {"headers": hdrs, "query": urlsplit(self.path).query, "body": b}
        if kind == "embeddings":
            return self.embeddings(b, model)
        if b.get("stream"):
            return self.stream(b, kind, dep, model)
        self.send_json(200, self.answer(kind, dep, model))

    def answer(self, kind, dep, model):
        filtered = dep == "gpt-4o-filtered"
        cfr = dict(SAFE, violence={"filtered": True, "severity": "medium"}) if filtered else SAFE
        text = TEXT[:20] if filtered else TEXT
        choice = {"index": 0, "finish_reason": "content_filter" if filtered else "stop",
                  "logprobs": None, "content_filter_results": cfr}
        if kind == "chat":
            choice["message"] = {"role": "assistant", "content": text, "refusal": None}
        else:
            choice["text"] = text
        return {"id": "chatcmpl-AZ1" if kind == "chat" else "cmpl-AZ1",
                "object": "chat.completion" if kind == "chat" else "text_completion",
                "created": 1733500000, "model": model, "system_fingerprint": "fp_azure",
                "prompt_filter_results": PROMPT_FILTER, "choices": [choice], "usage": USAGE}

    def embeddings(self, b, model):
        inputs = b["input"] if isinstance(b["input"], list) else [b["input"]]
        vecs = [[float(len(str(s))), 0.5, -0.25, float(i)] for i, s in enumerate(inputs)]
        if b.get("encoding_format") == "base64":  # what the openai SDKs ask for
            vecs = [base64.b64encode(struct.pack("<%df" % len(v), *v)).decode() for v in vecs]
        self.send_json(200, {"object": "list", "model": model, "usage": {
            "prompt_tokens": 3 * len(inputs), "total_tokens": 3 * len(inputs)},
            "data": [{"object": "embedding", "index": i, "embedding": v}
                     for i, v in enumerate(vecs)]})

    def chunk(self, obj):
        data = ("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))).encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def stream(self, b, kind, dep, model):
        full = self.answer(kind, dep, model)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("apim-request-id", "0f1e2d3c-test")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        # Azure's first event: the prompt's filter results, no choices, empty id and model
        self.chunk({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                    "prompt_filter_results": PROMPT_FILTER})
        base = {"id": full["id"], "created": full["created"], "model": model,
                "system_fingerprint": "fp_azure",
                "object": "chat.completion.chunk" if kind == "chat" else "text_completion"}
        c0 = full["choices"][0]
        text = c0["message"]["content"] if kind == "chat" else c0["text"]
        if kind == "chat":
            self.chunk(dict(base, choices=[{"index": 0, "delta": {"role": "assistant",
                                                                   "content": ""},
                                            "finish_reason": None, "logprobs": None,
                                            "content_filter_results": {}}]))
        for p in pieces(text, 6):
            d = {"content": p} if kind == "chat" else None
            ch = {"index": 0, "finish_reason": None, "logprobs": None,
                  "content_filter_results": SAFE}
            ch.update({"delta": d} if kind == "chat" else {"text": p})
            self.chunk(dict(base, choices=[ch]))
        last = {"index": 0, "finish_reason": c0["finish_reason"], "logprobs": None,
                "content_filter_results": c0["content_filter_results"]}
        last.update({"delta": {}} if kind == "chat" else {"text": ""})
        self.chunk(dict(base, choices=[last]))
        if (b.get("stream_options") or {}).get("include_usage"):
            self.chunk(dict(base, choices=[], usage=USAGE))
        self.chunk("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    global KEY, TOKEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default="az-key-test")
    ap.add_argument("--token", default="entra-token-test")
    args = ap.parse_args()
    KEY, TOKEN = args.key, args.token
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

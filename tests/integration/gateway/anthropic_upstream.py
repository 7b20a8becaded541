#!/usr/bin/python3
"""A local server speaking Anthropic's Messages API wire protocol (stdlib only), for girder's
`type: anthropic` provider tests.

POST /v1/messages validates the request the way the real API does and answers with
Anthropic's error shape ({"type":"error","error":{"type":...,"message":...}}) otherwise:
  - headers: x-api-key (must equal --key), anthropic-version (must be 2023-06-01 or
    2024-10-22), content-type application/json;
  - body: only known top-level keys ("Extra inputs are not permitted"), model string,
    max_tokens integer >= 1 (required), messages non-empty, roles user/assistant only
    (a "system" role inside messages is refused), first message from the user, roles
    strictly alternating, content blocks well formed (text, image with base64 source of an
    allowed media type or a url source, tool_use only from the assistant, tool_result only
    from the user, first in its message, naming a tool_use id of the assistant message just
    before it, and every tool_use answered), tools with valid names and an object
    input_schema, tool_choice auto/any/tool/none, temperature/top_p in [0, 1],
    stop_sequences a list of strings.
What it answers is chosen by the model name:
  claude-ok          text TEXT (streamed in several text_delta events)
  claude-tools       a tool_use of the first tool with ARGS (streamed as input_json_delta
                     fragments) unless the last user turn holds tool_results: then text
                     "The weather in Paris is 18C." ; always after a short text block
  claude-overloaded  529 overloaded_error
  claude-images      text "images: N" with N the image blocks of the last user turn
  claude-cut         stream: message_start, one text delta, then the connection closes
Usage: input 11, output 7, cache_read 2, cache_creation 1.
GET /_stats -> {"by_model": {...}, "last": {model: {"headers": {...}, "body": obj}}}.
Usage: anthropic_upstream.py [--port 0] [--key K]; prints "PORT <n>" when listening.
"""
import argparse
import base64
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TEXT = "Hello from Claude! Streaming \"works\", token by token — ünïcode too.\nThe end."
ARGS = '{"city": "Paris", "unit": "celsius"}'
USAGE = {"input_tokens": 11, "output_tokens": 7, "cache_read_input_tokens": 2,
         "cache_creation_input_tokens": 1}
KEYS = {"model", "messages", "max_tokens", "system", "stop_sequences", "temperature", "top_p",
        "top_k", "stream", "tools", "tool_choice", "metadata", "thinking", "service_tier"}
MEDIA = {"image/jpeg", "image/png", "image/gif", "image/webp"}
LOCK = threading.Lock()
STATE = {"by_model": {}, "last": {}}
KEY = None


class Invalid(Exception):
    pass


def check_blocks(role, content, where, prev_tool_ids):
    if isinstance(content, str):
        if prev_tool_ids:
            raise Invalid("%s: tool_use ids were found without tool_result blocks immediately "
                          "after: %s" % (where, ", ".join(sorted(prev_tool_ids))))
        return set(), 0
    if not isinstance(content, list) or not content:
        raise Invalid("%s.content: must be a non-empty string or list" % where)
    tool_ids, results, images, seen_other = set(), set(), 0, False
    for j, b in enumerate(content):
        w = "%s.content.%d" % (where, j)
        t = b.get("type") if isinstance(b, dict) else None
        if t == "text":
            if not isinstance(b.get("text"), str) or set(b) - {"type", "text", "cache_control"}:
                raise Invalid(w + ": invalid text block")
            seen_other = True
        elif t == "image":
            src = b.get("source") or {}
            if src.get("type") == "base64":
                if src.get("media_type") not in MEDIA:
                    raise Invalid(w + ".source.media_type: unsupported")
                try:
                    base64.b64decode(src.get("data", ""), validate=True)
                except Exception:
                    raise Invalid(w + ".source.data: invalid base64")
            elif src.get("type") == "url":
                if not re.match(r"^https?://", src.get("url", "")):
                    raise Invalid(w + ".source.url: invalid")
            else:
                raise Invalid(w + ".source: invalid")
            images += 1
            seen_other = True
        elif t == "tool_use":
            if role != "assistant":
                raise Invalid(w + ": tool_use blocks are only allowed in assistant messages")
            if not isinstance(b.get("input"), dict) or not b.get("id") or not b.get("name"):
                raise Invalid(w + ": invalid tool_use block")
            tool_ids.add(b["id"])
        elif t == "tool_result":
            if role != "user":
                raise Invalid(w + ": tool_result blocks are only allowed in user messages")
            if seen_other:
                raise Invalid(w + ": tool_result blocks must come first in the user message")
            if b.get("tool_use_id") not in prev_tool_ids:
                raise Invalid("%s: unexpected `tool_use_id` found in `tool_result` blocks: %s. "
                              "Each `tool_result` block must have a corresponding `tool_use` "
                              "block in the previous message." % (w, b.get("tool_use_id")))
            results.add(b["tool_use_id"])
            inner = b.get("content", "")
            if not isinstance(inner, str):
                check_blocks("user", inner, w, set())
        else:
            raise Invalid(w + ": unknown block type %r" % t)
    if prev_tool_ids - results:
        raise Invalid("%s: tool_use ids were found without tool_result blocks immediately "
                      "after: %s" % (where, ", ".join(sorted(prev_tool_ids - results))))
    return tool_ids, images


def validate(headers, body):
    if headers.get("x-api-key") is None:
        return 401, "authentication_error", "x-api-key header is required"
    if headers.get("x-api-key") != KEY:
        return 401, "authentication_error", "invalid x-api-key"
    if headers.get("authorization"):
        return 400, "invalid_request_error", "unexpected Authorization header"
    if headers.get("anthropic-version") not in ("2023-06-01", "2024-10-22"):
        return 400, "invalid_request_error", "anthropic-version: header is required"
    if not (headers.get("content-type") or "").startswith("application/json"):
        return 400, "invalid_request_error", "content-type must be application/json"
    try:
        b = json.loads(body)
    except ValueError:
        return 400, "invalid_request_error", "invalid JSON"
    if not isinstance(b, dict):
        return 400, "invalid_request_error", "body must be an object"
    extra = set(b) - KEYS
    if extra:
        return 400, "invalid_request_error", "%s: Extra inputs are not permitted" % sorted(extra)[0]
    if not isinstance(b.get("model"), str):
        return 400, "invalid_request_error", "model: Field required"
    mt = b.get("max_tokens")
    if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
        return 400, "invalid_request_error", "max_tokens: Field required"
    for k in ("temperature", "top_p"):
        if k in b and not (isinstance(b[k], (int, float)) and 0 <= b[k] <= 1):
            return 400, "invalid_request_error", "%s: must be in [0, 1]" % k
    ss = b.get("stop_sequences", [])
    if not isinstance(ss, list) or not all(isinstance(s, str) for s in ss):
        return 400, "invalid_request_error", "stop_sequences: must be a list of strings"
    sysv = b.get("system", "")
    if not isinstance(sysv, str):
        try:
            check_blocks("user", sysv, "system", set())
        except Invalid as e:
            return 400, "invalid_request_error", str(e)
    msgs = b.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return 400, "invalid_request_error", "messages: at least one message is required"
    prev_role, prev_tools = None, set()
    for i, m in enumerate(msgs):
        role = m.get("role") if isinstance(m, dict) else None
        if role == "system":
            return (400, "invalid_request_error", "messages.%d.role: Unexpected role \"system\". "
                    "The Messages API accepts a top-level `system` parameter, not \"system\" as "
                    "an input message role." % i)
        if role not in ("user", "assistant"):
            return 400, "invalid_request_error", "messages.%d.role: invalid" % i
        if i == 0 and role != "user":
            return 400, "invalid_request_error", "messages: first message must use the user role"
        if role == prev_role:
            return (400, "invalid_request_error",
                    "messages: roles must alternate between \"user\" and \"assistant\"")
        try:
            ids, _ = check_blocks(role, m.get("content"), "messages.%d" % i,
                                  prev_tools if role == "user" else set())
        except Invalid as e:
            return 400, "invalid_request_error", str(e)
        prev_role, prev_tools = role, ids
    names = []
    for i, t in enumerate(b.get("tools", [])):
        if not re.match(r"^[a-zA-Z0-9_-]{1,64}$", t.get("name", "")):
            return 400, "invalid_request_error", "tools.%d.name: invalid" % i
        sch = t.get("input_schema")
        if not isinstance(sch, dict) or sch.get("type") != "object":
            return 400, "invalid_request_error", "tools.%d.input_schema: type must be object" % i
        if set(t) - {"name", "description", "input_schema", "cache_control"}:
            return 400, "invalid_request_error", "tools.%d: Extra inputs are not permitted" % i
        names.append(t["name"])
    tc = b.get("tool_choice")
    if tc is not None:
        if tc.get("type") not in ("auto", "any", "tool", "none"):
            return 400, "invalid_request_error", "tool_choice.type: invalid"
        if tc["type"] == "tool" and tc.get("name") not in names:
            return 400, "invalid_request_error", "tool_choice.name: unknown tool"
    return 200, None, b


def last_user(b):
    return b["messages"][-1]["content"]


def answer_blocks(model, b):
    if model == "claude-tools":
        content = last_user(b)
        if isinstance(content, list) and any(x["type"] == "tool_result" for x in content):
            return [{"type": "text", "text": "The weather in Paris is 18C."}], "end_turn"
        name = b["tools"][0]["name"]
        return ([{"type": "text", "text": "Let me look."},
                 {"type": "tool_use", "id": "toolu_01A", "name": name, "input": json.loads(ARGS)}],
                "tool_use")
    if model == "claude-images":
        content = last_user(b)
        n = sum(1 for x in content if x["type"] == "image") if isinstance(content, list) else 0
        return [{"type": "text", "text": "images: %d" % n}], "end_turn"
    return [{"type": "text", "text": TEXT}], "end_turn"


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
        self.send_header("request-id", "req_test")
        self.send_header("anthropic-ratelimit-requests-remaining", "99")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, etype, message):
        self.send_json(status, {"type": "error", "error": {"type": etype, "message": message}})

    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                return self.send_json(200, STATE)
        self.error(404, "not_found_error", "Not found")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path != "/v1/messages":
            return self.error(404, "not_found_error", "Not found")
        hdrs = {k.lower(): v for k, v in self.headers.items()}
        status, etype, b = validate(hdrs, body)
        model = b.get("model") if status == 200 else "invalid"
        with LOCK:
            STATE["by_model"][model] = STATE["by_model"].get(model, 0) + 1
            STATE["last"][model] = {"headers": hdrs, "body": b if status == 200 else None}
        if status != 200:
            return self.error(status, etype, b)
        if model == "claude-overloaded":
            return self.error(529, "overloaded_error", "Overloaded")
        blocks, stop = answer_blocks(model, b)
        msg = {"id": "msg_01XYZ", "type": "message", "role": "assistant", "model": model,
               "content": blocks, "stop_reason": stop, "stop_sequence": None, "usage": USAGE}
        if not b.get("stream"):
            return self.send_json(200, msg)
        self.stream(msg, model)

    def event(self, name, obj):
        data = ("event: %s\ndata: %s\n\n" % (name, json.dumps(obj))).encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def stream(self, msg, model):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        start = dict(msg, content=[], stop_reason=None,
                     usage={"input_tokens": 11, "output_tokens": 1, "cache_read_input_tokens": 2,
                            "cache_creation_input_tokens": 1})
        self.event("message_start", {"type": "message_start", "message": start})
        self.event("ping", {"type": "ping"})
        for i, blk in enumerate(msg["content"]):
            if blk["type"] == "text":
                self.event("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "text", "text": ""}})
                for p in pieces(blk["text"], 6):
                    self.event("content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "text_delta", "text": p}})
                    if model == "claude-cut":
                        self.close_connection = True
                        self.wfile.write(b"0\r\n\r\n")
                        return
            else:
                self.event("content_block_start", {
                    "type": "content_block_start", "index": i,
                    "content_block": {"type": "tool_use", "id": blk["id"], "name": blk["name"],
                                      "input": {}}})
                self.event("content_block_delta", {
                    "type": "content_block_delta", "index": i,
                    "delta": {"type": "input_json_delta", "partial_json": ""}})
                for p in pieces(ARGS, 5):
                    self.event("content_block_delta", {
                        "type": "content_block_delta", "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": p}})
            self.event("content_block_stop", {"type": "content_block_stop", "index": i})
        self.event("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": msg["stop_reason"],
                                               "stop_sequence": None},
                                     "usage": {"output_tokens": 7}})
        self.event("message_stop", {"type": "message_stop"})
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    global KEY
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", default="sk-ant-test")
    args = ap.parse_args()
    KEY = args.key
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

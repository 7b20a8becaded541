#!/usr/bin/python3
"""A misbehaving OpenAI-compatible upstream for girder's gateway tests (stdlib only).

Serves POST /v1/chat/completions (streaming and not), /v1/completions, /v1/embeddings,
POST /v1/responses (OpenAI's Responses API: a Response object or its event stream; a body
with `messages` or without `input` is a 400, as the real API answers) and GET /v1/models
over HTTP/1.1 keep-alive, one thread per connection.

What each request does is chosen by the model name the gateway forwards (a deployment's
upstream model), optionally remapped at run time with POST /_mode {"model": m, "mode": x}
so a test can make a deployment fail and recover. Modes ("name" or "name:arg"):
  ok              normal answer (default for unknown names)
  rate429[:s]     429 with retry-after: s (default 1)
  err500, err503  server error with an OpenAI error body
  err400          non-retryable client error
  slow:ms         wait ms before the first byte, then answer normally
  hang            never answer (until the client goes away)
  reset[:n]       stream: n events (default 2) then a TCP reset; non-stream: reset at once
  badjson         200 with a malformed JSON body
  drip:ms[:n]     stream n events (default 100000), one every ms (disconnect tests)
  long:n[:size]   stream n events of `size` content bytes as fast as possible
  echo[:n]        stream the request's x_unknown text back in pieces of n characters
                  (default 3), so a placeholder girder masked arrives split
  oddheader       normal answer plus an x-ratelimit-odd header whose value holds a control
                  byte (girder must not relay it; strict clients reject it)
Every answer carries x-ratelimit-limit-requests: 100, x-ratelimit-remaining-requests (0 on a
429, else 99) and a Set-Cookie, which girder must not relay.
Bookkeeping: GET /_stats -> {"by_model": {m: n}, "by_mode": {...}, "aborted": n,
"last": {m: {"headers": {...}, "body": str}}}; POST /_reset clears it all.

Usage: mock_upstream.py [--port 0]; prints "PORT <n>" on stdout when listening.
"""
import argparse
import base64
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
RESPONSES_TEXT = "Native Responses answer from the mock, word by word."
STATE = {"by_model": {}, "by_mode": {}, "aborted": 0, "last": {}, "modes": {}}
TEXT = "Hello from the mock upstream! Streaming works, token by token, until the end."


def reset_state():
    with LOCK:
        STATE.update(by_model={}, by_mode={}, aborted=0, last={}, modes={})


def count(model, mode, headers, body, target=None):
    with LOCK:
        STATE["by_model"][model] = STATE["by_model"].get(model, 0) + 1
        STATE["by_mode"][mode] = STATE["by_mode"].get(mode, 0) + 1
        STATE["last"][model] = {"headers": {k.lower(): v for k, v in headers.items()},
                                "body": body, "target": target}


def words(text):
    out, cur = [], ""
    for ch in text:
        cur += ch
        if ch == " ":
            out.append(cur)
            cur = ""
    if cur:
        out.append(cur)
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-upstream/1"
    odd_header = False

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---- plumbing ----
    def send_upstream_headers(self, status):
        """What OpenAI sends along (rate limits: 0 left on a 429) and a header that must
        not be relayed to girder's clients."""
        self.send_header("x-ratelimit-limit-requests", "100")
        self.send_header("x-ratelimit-remaining-requests", "0" if status == 429 else "99")
        self.send_header("Set-Cookie", "mock-session=1")
        if self.odd_header:
            self.send_header("x-ratelimit-odd", "control\x01byte")

    def send_json(self, status, obj, extra=None):
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_upstream_headers(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, etype, extra=None):
        self.send_json(status, {"error": {"message": message, "type": etype, "param": None,
                                          "code": None}}, extra)

    def tcp_reset(self):
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def wait_gone(self, seconds):
        """Sleeps up to seconds, returning early (True) when the client closed."""
        end = time.monotonic() + seconds
        self.connection.settimeout(0.05)
        try:
            while time.monotonic() < end:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except socket.timeout:
                    pass
            return False
        except OSError:
            return True
        finally:
            self.connection.settimeout(None)

    # ---- routes ----
    def do_GET(self):
        if self.path == "/_stats":
            with LOCK:
                self.send_json(200, {k: STATE[k] for k in ("by_model", "by_mode", "aborted",
                                                           "last")})
        elif self.path.rstrip("/").endswith("/models"):
            self.send_json(200, {"object": "list", "data": [
                {"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}]})
        else:
            self.error(404, "no such route", "invalid_request_error")

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode("utf-8", "replace")
        if self.path == "/_reset":
            reset_state()
            return self.send_json(200, {"ok": True})
        if self.path == "/_mode":
            req = json.loads(raw)
            with LOCK:
                STATE["modes"][req["model"]] = req["mode"]
            return self.send_json(200, {"ok": True})
        try:
            req = json.loads(raw)
        except ValueError:
            return self.error(400, "mock: invalid JSON", "invalid_request_error")
        model = str(req.get("model", ""))
        with LOCK:
            mode = STATE["modes"].get(model, model)
        name, _, arg = mode.partition(":")
        self.odd_header = name == "oddheader"
        count(model, name, self.headers, raw, self.path)
        self.dispatch(req, model, name, arg)

    def dispatch(self, req, model, name, arg):
        if name == "rate429":
            return self.error(429, "mock: rate limited", "rate_limit_error",
                              {"Retry-After": arg or "1"})
        if name in ("err500", "err503"):
            return self.error(int(name[3:]), "mock: server error", "api_error")
        if name == "err400":
            return self.error(400, "mock: bad request", "invalid_request_error")
        if name == "hang":
            if self.wait_gone(300):
                with LOCK:
                    STATE["aborted"] += 1
            self.close_connection = True
            return
        if name == "slow":
            time.sleep(int(arg or "100") / 1000.0)
        if name == "badjson":
            return self.send_json(200, b'{"id": "x", "choices": [ {"message": ')
        if self.path.endswith("/responses"):
            return self.responses_api(req, model, name, arg)
        if name == "reset" and not req.get("stream"):
            return self.tcp_reset()
        if self.path.endswith("/embeddings"):
            return self.embeddings(req, model)
        if req.get("stream"):
            return self.stream(req, model, name, arg)
        return self.complete(req, model)

    def complete(self, req, model):
        usage = {"prompt_tokens": 9, "completion_tokens": len(words(TEXT)),
                 "total_tokens": 9 + len(words(TEXT))}
        if self.path.endswith("/chat/completions"):
            choice = {"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": TEXT}}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "finish_reason": "stop", "text": TEXT, "logprobs": None}
            obj = "text_completion"
        self.send_json(200, {"id": "cmpl-mock", "object": obj, "created": 1700000000,
                             "model": model, "choices": [choice], "usage": usage,
                             "x_echo_unknown": req.get("x_unknown")})

    def embeddings(self, req, model):
        inp = req.get("input", "")
        items = inp if isinstance(inp, list) else [inp]
        vecs = [[round(0.001 * (len(str(t)) + k), 6) for k in range(8)] for t in items]
        if req.get("encoding_format") == "base64":  # what the openai SDKs ask for
            vecs = [base64.b64encode(struct.pack("<%df" % len(v), *v)).decode() for v in vecs]
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)]
        self.send_json(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": len(items), "total_tokens": len(items)}})

    def chunk(self, model, delta, finish=None, usage=None, with_usage_field=False):
        c = {"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1700000000,
             "model": model, "choices": [{"index": 0, "delta": delta,
                                          "finish_reason": finish}]}
        if with_usage_field:
            c["usage"] = usage
        return "data: " + json.dumps(c) + "\n\n"

    def events(self, req, model, name, arg):
        include = bool((req.get("stream_options") or {}).get("include_usage"))
        if name == "long":
            parts = arg.split(":")
            n, size = int(parts[0]), int(parts[1]) if len(parts) > 1 else 64
            pieces = ["x" * size] * n
        elif name == "echo":
            text, k = str(req.get("x_unknown") or ""), int(arg or "3")
            pieces = [text[i:i + k] for i in range(0, len(text), k)]
        elif name == "drip":
            parts = arg.split(":")
            pieces = ["tick "] * (int(parts[1]) if len(parts) > 1 else 100000)
        else:
            pieces = words(TEXT)
        yield self.chunk(model, {"role": "assistant", "content": ""}, None, None, include)
        for p in pieces:
            yield self.chunk(model, {"content": p}, None, None, include)
        yield self.chunk(model, {}, "stop", None, include)
        if include:
            u = {"prompt_tokens": 9, "completion_tokens": len(pieces),
                 "total_tokens": 9 + len(pieces)}
            c = {"id": "chatcmpl-mock", "object": "chat.completion.chunk",
                 "created": 1700000000, "model": model, "choices": [], "usage": u}
            yield "data: " + json.dumps(c) + "\n\n"
        yield "data: [DONE]\n\n"

    def responses_api(self, req, model, name, arg):
        if "messages" in req or "input" not in req:
            return self.error(400, "mock: Unsupported parameter: 'messages'; use 'input'",
                              "invalid_request_error")
        rid, mid = "resp_mock1", "msg_mock1"
        text = RESPONSES_TEXT
        usage = {"input_tokens": 7, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": len(words(text)), "output_tokens_details":
                 {"reasoning_tokens": 0}, "total_tokens": 7 + len(words(text))}
        part = {"type": "output_text", "text": text, "annotations": []}
        item = {"id": mid, "type": "message", "status": "completed", "role": "assistant",
                "content": [part]}
        done = {"id": rid, "object": "response", "created_at": 1700000000,
                "status": "completed", "error": None, "incomplete_details": None,
                "model": model, "output": [item], "usage": usage}
        if not req.get("stream"):
            return self.send_json(200, done)
        start = dict(done, status="in_progress", output=[], usage=None)
        evs = [{"type": "response.created", "response": start},
               {"type": "response.in_progress", "response": start},
               {"type": "response.output_item.added", "output_index": 0,
                "item": dict(item, status="in_progress", content=[])},
               {"type": "response.content_part.added", "item_id": mid, "output_index": 0,
                "content_index": 0, "part": dict(part, text="")}]
        evs += [{"type": "response.output_text.delta", "item_id": mid, "output_index": 0,
                 "content_index": 0, "delta": w} for w in words(text)]
        evs += [{"type": "response.output_text.done", "item_id": mid, "output_index": 0,
                 "content_index": 0, "text": text},
                {"type": "response.content_part.done", "item_id": mid, "output_index": 0,
                 "content_index": 0, "part": part},
                {"type": "response.output_item.done", "output_index": 0, "item": item},
                {"type": "response.completed", "response": done}]
        self.send_response(200)
        self.send_upstream_headers(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        limit = int(arg or "2") if name == "reset" else None
        for i, ev in enumerate(evs):
            if limit is not None and i >= limit:
                return self.tcp_reset()
            ev["sequence_number"] = i
            self.wfile.write(("event: %s\ndata: %s\n\n" % (ev["type"], json.dumps(ev))).encode())
            self.wfile.flush()

    def stream(self, req, model, name, arg):
        self.send_response(200)
        self.send_upstream_headers(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        limit = int(arg or "2") if name == "reset" else None
        delay = int(arg.split(":")[0]) / 1000.0 if name == "drip" else 0
        try:
            for i, ev in enumerate(self.events(req, model, name, arg)):
                if limit is not None and i >= limit:
                    return self.tcp_reset()
                self.wfile.write(ev.encode())
                self.wfile.flush()
                if delay:
                    time.sleep(delay)
        except OSError:
            with LOCK:
                STATE["aborted"] += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print("PORT %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Canned upstream answers for bench/translate.sh: the same answer (TOKENS text pieces) in
OpenAI's, Anthropic's and Gemini's wire forms, as JSON and as SSE streams of SHORT and LONG pieces,
written as an nginx `return 200` locations file (no file I/O at request time), plus the
client's request bodies.

  /v1/chat/completions, /openai/deployments/bench-model/chat/completions   OpenAI JSON
  /v1/messages                                                              Messages JSON
  /s{N}/v1/chat/completions, /s{N}/openai/deployments/bench-model/...      OpenAI SSE, N pieces
  /s{N}/v1/messages                                                         Messages SSE, N pieces
  /v1beta/models/bench-model:generateContent                                Gemini JSON
  /s{N}/v1beta/models/bench-model:streamGenerateContent                     Gemini SSE, N pieces
  /model/bench-model/converse                                               Bedrock JSON
  /s{N}/model/bench-model/converse-stream                                   Bedrock event stream
                     (binary: served from br_s{N}.bin through an internal GET, the only file read)

Usage: translate_bodies.py DIR SHORT LONG
"""
import binascii
import json
import struct
import sys

d, short, long_ = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
J = lambda o: json.dumps(o, separators=(",", ":"))
TEXT = "The quick brown fox jumps over the lazy dog."


def oai_json():
    return J({"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000,
              "model": "bench-model", "choices": [{"index": 0, "finish_reason": "stop",
              "message": {"role": "assistant", "content": TEXT}}],
              "usage": {"prompt_tokens": 12, "completion_tokens": 10, "total_tokens": 22}})


def anth_json():
    return J({"id": "msg_bench", "type": "message", "role": "assistant", "model": "bench-model",
              "content": [{"type": "text", "text": TEXT}], "stop_reason": "end_turn",
              "stop_sequence": None, "usage": {"input_tokens": 12, "output_tokens": 10}})


def oai_sse(n):
    """What an OpenAI-compatible server streams: a role chunk, n content chunks, a finish
    chunk, [DONE] (n + 3 events)."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
            "model": "bench-model"}
    ev = [dict(head, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""},
                               "finish_reason": None}])]
    ev += [dict(head, choices=[{"index": 0, "delta": {"content": "tok%03d " % i},
                                "finish_reason": None}]) for i in range(n)]
    ev.append(dict(head, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
    return "".join("data: %s\n\n" % J(e) for e in ev) + "data: [DONE]\n\n"


def anth_sse(n):
    """What the Messages API streams for one text block: message_start, content_block_start,
    ping, n text deltas, content_block_stop, message_delta, message_stop (n + 6 events)."""
    ev = [("message_start", {"type": "message_start", "message": {
        "id": "msg_bench", "type": "message", "role": "assistant", "model": "bench-model",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"})]
    ev += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                    "delta": {"type": "text_delta", "text": "tok%03d " % i}})
           for i in range(n)]
    ev += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
           ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                              "stop_sequence": None}, "usage": {"output_tokens": n}}),
           ("message_stop", {"type": "message_stop"})]
    return "".join("event: %s\ndata: %s\n\n" % (t, J(o)) for t, o in ev)


GEM_USAGE = {"promptTokenCount": 12, "candidatesTokenCount": 10, "totalTokenCount": 22}


def gem_json():
    return J({"candidates": [{"content": {"parts": [{"text": TEXT}], "role": "model"},
                              "finishReason": "STOP", "index": 0}],
              "usageMetadata": GEM_USAGE, "modelVersion": "bench-model"})


def gem_sse(n):
    """What streamGenerateContent?alt=sse sends: n chunks of one text part each, the last
    with finishReason, every one with usageMetadata (n events)."""
    def ev(i):
        c = {"content": {"parts": [{"text": "tok%03d " % i}], "role": "model"}, "index": 0}
        if i == n - 1:
            c["finishReason"] = "STOP"
        return {"candidates": [c], "usageMetadata": GEM_USAGE, "modelVersion": "bench-model"}
    return "".join("data: %s\r\n\r\n" % J(ev(i)) for i in range(n))


def br_json():
    return J({"output": {"message": {"role": "assistant", "content": [{"text": TEXT}]}},
              "stopReason": "end_turn", "metrics": {"latencyMs": 5},
              "usage": {"inputTokens": 12, "outputTokens": 10, "totalTokens": 22}})


def es_message(event, obj):
    h = b""
    for k, v in ((":event-type", event), (":content-type", "application/json"),
                 (":message-type", "event")):
        h += bytes([len(k)]) + k.encode() + b"\x07" + struct.pack(">H", len(v)) + v.encode()
    payload = J(obj).encode()
    pre = struct.pack(">II", 16 + len(h) + len(payload), len(h))
    pre += struct.pack(">I", binascii.crc32(pre))
    body = pre + h + payload
    return body + struct.pack(">I", binascii.crc32(body))


def br_stream(n):
    """What ConverseStream sends for one text block: messageStart, n contentBlockDelta,
    contentBlockStop, messageStop, metadata (n + 4 event stream messages)."""
    ev = [es_message("messageStart", {"role": "assistant", "p": "abcdefgh"})]
    ev += [es_message("contentBlockDelta", {"contentBlockIndex": 0, "delta": {
        "text": "tok%03d " % i}, "p": "abcdefghijkl"}) for i in range(n)]
    ev += [es_message("contentBlockStop", {"contentBlockIndex": 0, "p": "abcd"}),
           es_message("messageStop", {"stopReason": "end_turn", "p": "abcdefgh"}),
           es_message("metadata", {"usage": {"inputTokens": 12, "outputTokens": n,
                                             "totalTokens": 12 + n},
                                   "metrics": {"latencyMs": 5}, "p": "ab"})]
    return b"".join(ev)


def location(path, ctype, body, k):
    """nginx caps one config parameter at 4 KiB: long bodies are set in pieces and joined."""
    assert "'" not in body and "$" not in body and "\\" not in body
    parts = [body[i:i + 3000] for i in range(0, len(body), 3000)]
    sets = " ".join("set $b%d_%d '%s';" % (k, i, p) for i, p in enumerate(parts))
    joined = "".join("$b%d_%d" % (k, i) for i in range(len(parts)))
    return "location = %s { default_type %s; %s return 200 \"%s\"; }\n" % (path, ctype, sets,
                                                                           joined)


AZ = "/openai/deployments/bench-model/chat/completions"
locs = [("/v1/chat/completions", "application/json", oai_json()),
        (AZ, "application/json", oai_json()),
        ("/v1/messages", "application/json", anth_json()),
        ("/v1beta/models/bench-model:generateContent", "application/json", gem_json()),
        ("/model/bench-model/converse", "application/json", br_json())]
for n in (short, long_):
    locs += [("/s%d/v1/chat/completions" % n, "text/event-stream", oai_sse(n)),
             ("/s%d%s" % (n, AZ), "text/event-stream", oai_sse(n)),
             ("/s%d/v1/messages" % n, "text/event-stream", anth_sse(n)),
             ("/s%d/v1beta/models/bench-model:streamGenerateContent" % n, "text/event-stream",
              gem_sse(n))]
with open(d + "/locations.conf", "w") as f:
    for k, (p, t, b) in enumerate(locs):
        f.write(location(p, t, b, k))
    for n in (short, long_):
        with open("%s/br_s%d.bin" % (d, n), "wb") as b:
            b.write(br_stream(n))
        # the static module answers POST with 405: error_page turns it into an internal GET
        f.write("location = /s%d/model/bench-model/converse-stream { error_page 405 =200 "
                "/_br_s%d; return 405; }\n" % (n, n))
        f.write("location = /_br_s%d { internal; default_type "
                "application/vnd.amazon.eventstream; alias %s/br_s%d.bin; }\n" % (n, d, n))
msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say something."}]
for name, stream in (("json", False), ("sse", True)):
    with open("%s/body_%s.json" % (d, name), "w") as f:
        f.write(J({"model": "MODEL", "stream": stream, "max_tokens": 100, "temperature": 0.5,
                   "messages": msgs}))

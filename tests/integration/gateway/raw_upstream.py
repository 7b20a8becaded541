"""A byte-exact upstream for tests of girder's own HTTP/1.1 client (stdlib only, runs in a
thread of the test process). Every answer is written as raw bytes, so a test can send what
no well-behaved server library would: 1xx heads, bad chunk sizes, duplicate lengths, bare
LFs, oversized heads, short bodies.

The behaviour of a request is chosen by the upstream model name girder forwards (the
deployment's `model`), "name" or "name:arg":
  ok            200 JSON with Content-Length, connection kept alive
  close         200 JSON with Connection: close, then the connection is closed
  idleclose:ms  200 JSON kept alive, then the server closes it after ms idle milliseconds
  info          100 Continue and 103 Early Hints heads, then 200 JSON
  big:n         200 JSON of about n bytes, chunked in uneven chunks (sha256 in x-body-sha256)
  bigsse:n      200 text/event-stream, n events of ~1 KiB, chunked (sha256 in x-body-sha256)
  slow:ms       200 JSON after ms milliseconds
  badchunk      chunked body whose chunk size is not hex
  dupcl         two Content-Length headers
  clte          Content-Length together with Transfer-Encoding: chunked
  barelf        a head with bare LF line ends
  hugehead      a 20 KiB header
  short         Content-Length: 100 with 10 bytes, then close
Bookkeeping (thread-safe): .connections (accepted), .requests {model: n}, .max_open (most
connections open at once)."""
import hashlib
import json
import socket
import threading
import time


def chat_json(model, pad=0):
    doc = {"id": "chatcmpl-raw", "object": "chat.completion", "created": 1700000000,
           "model": model, "choices": [{"index": 0, "finish_reason": "stop",
           "message": {"role": "assistant", "content": "raw upstream " + "x" * pad}}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
    return json.dumps(doc).encode()


def chunked(body, sizes=(1, 7, 4096, 65537, 300, 16383)):
    out, i, k = [], 0, 0
    while i < len(body):
        n = sizes[k % len(sizes)]
        k += 1
        piece = body[i:i + n]
        out.append(b"%x\r\n" % len(piece) + piece + b"\r\n")
        i += n
    out.append(b"0\r\n\r\n")
    return b"".join(out)


class RawUpstream:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.requests = {}
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopping = True
        self.sock.close()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.open += 1
                self.max_open = max(self.max_open, self.open)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _read_request(self, c, buf):
        while b"\r\n\r\n" not in buf:
            d = c.recv(65536)
            if not d:
                return None, b""
            buf += d
        head, rest = buf.split(b"\r\n\r\n", 1)
        n = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                n = int(v.strip())
        while len(rest) < n:
            d = c.recv(65536)
            if not d:
                return None, b""
            rest += d
        return json.loads(rest[:n] or b"{}"), rest[n:]

    def _serve(self, c):
        buf = b""
        try:
            while True:
                req, buf = self._read_request(c, buf)
                if req is None:
                    return
                model = req.get("model", "")
                with self.lock:
                    self.requests[model] = self.requests.get(model, 0) + 1
                name, _, arg = model.partition(":")
                if not self._answer(c, name, arg, model):
                    return
        except OSError:
            pass
        finally:
            c.close()
            with self.lock:
                self.open -= 1

    def _answer(self, c, name, arg, model):
        """Writes the answer; returns False when the connection is to be closed."""
        body = chat_json(model)
        ok = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
        if name == "ok":
            c.sendall(ok)
        elif name == "slow":
            time.sleep(int(arg) / 1000.0)
            c.sendall(ok)
        elif name == "close":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return False
        elif name == "idleclose":
            c.sendall(ok)
            c.settimeout(int(arg) / 1000.0)
            try:
                self.pending = c.recv(1, socket.MSG_PEEK)  # a request in time keeps it
            except socket.timeout:
                return False
            c.settimeout(None)
        elif name == "info":
            c.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
                      b"Link: </style.css>; rel=preload\r\n\r\n" + ok)
        elif name in ("big", "bigsse"):
            n = int(arg)
            if name == "big":
                body, ctype = chat_json(model, n), b"application/json"
            else:
                ev = b"data: " + json.dumps({"choices": [{"delta": {"content": "y" * 1000}}]}).encode()
                body, ctype = b"\n\n".join([ev] * n) + b"\n\ndata: [DONE]\n\n", b"text/event-stream"
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype + b"\r\nx-body-sha256: " +
                      hashlib.sha256(body).hexdigest().encode() +
                      b"\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body))
        elif name == "badchunk":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            return False
        elif name == "dupcl":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}")
            return False
        elif name == "clte":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"2\r\n{}\r\n0\r\n\r\n")
            return False
        elif name == "barelf":
            c.sendall(b"HTTP/1.1 200 OK\nContent-Length: 2\n\n{}")
            return False
        elif name == "hugehead":
            c.sendall(b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 20000 + b"\r\nContent-Length: 2\r\n\r\n{}")
            return False
        elif name == "short":
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 100\r\n\r\n{\"id\": 1,")
            return False
        else:
            c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        return True

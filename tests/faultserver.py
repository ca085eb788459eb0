#!/usr/bin/env python3
"""A file server for vs-pull's tests that misbehaves on purpose.

It serves the files under --root over HTTP or HTTPS (loopback only), the
way a datastore's /folder does (GET with a single Range, HEAD), and can be
told to:

  --drop-every BYTES     close a connection abruptly after sending about
                         BYTES of bodies on it (randomised by +-50%)
  --p503 P / --p429 P    answer 503 / 429 (with Retry-After: 0) to a GET
                         with probability P
  --stall-every BYTES    stop sending for --stall-secs after about BYTES
                         on a connection, then close it
  --truncate P           announce the full length, send a random part of
                         it and close, with probability P
  --p200 P               answer 200 with the whole file to a range request
                         with probability P
  --ignore-range         always answer 200 with the whole file
  --rate BYTES_PER_SEC   throttle each connection to this rate
  --upstream URL         forward POST /sdk to URL (a vCenter simulator):
                         the server then fronts it like a vCenter whose
                         /folder it serves from --root
  --require-cookie NAME  answer 401 to file requests that do not carry
                         cookie NAME with its current value: the value the
                         upstream last set at login (or one that GET /login
                         hands out); with --expire-after N a value is
                         revoked after N file requests, until the next
                         login (to test session renewal)

Faults are drawn from a random generator seeded with --seed, and every
fault rule stops after --max-faults faults in all, so a test always ends.
Bytes of bodies served, requests and faults are counted; GET /_stats
returns them as JSON, GET /_reset zeroes them (bytes a request begun
before the reset still sends, to a client killed mid-transfer, are not
counted after it), and --stats FILE writes them at exit.  The server
prints "PORT=N" on stdout once it listens, and exits on SIGTERM or after
--lifetime seconds.
"""

import argparse
import email.utils
import http.client
import json
import os
import random
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        # Bumped by reset(): a handler that began before a reset may still
        # be writing to a socket whose client died, and those bytes belong
        # to the old count, not to the rerun a test measures.
        self.generation = 0
        self.d = {"bytes": 0, "requests": 0, "gets": 0, "heads": 0,
                  "faults": {"drop": 0, "503": 0, "429": 0, "stall": 0,
                             "truncate": 0, "200": 0, "401": 0}}

    def add(self, key, n=1, generation=None):
        with self.lock:
            if generation is None or generation == self.generation:
                self.d[key] += n

    def fault(self, kind):
        with self.lock:
            self.d["faults"][kind] += 1

    def total_faults(self):
        with self.lock:
            return sum(self.d["faults"].values())

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.d))

    def reset(self):
        with self.lock:
            self.generation += 1
            self.d["bytes"] = self.d["requests"] = 0
            self.d["gets"] = self.d["heads"] = 0
            for k in self.d["faults"]:
                self.d["faults"][k] = 0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "h2k-faultserver"

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write("faultserver: " + (fmt % args) + "\n")

    def setup(self):
        super().setup()
        o = self.server.opts
        self.conn_sent = 0
        self.drop_at = self.jitter(o.drop_every) if o.drop_every else None
        self.stall_at = self.jitter(o.stall_every) if o.stall_every else None

    def jitter(self, n):
        with self.server.rng_lock:
            return int(n * self.server.rng.uniform(0.5, 1.5))

    def chance(self, p):
        if p <= 0 or self.server.stats.total_faults() >= self.server.opts.max_faults:
            return False
        with self.server.rng_lock:
            return self.server.rng.random() < p

    def fault_allowed(self):
        return self.server.stats.total_faults() < self.server.opts.max_faults

    def path_to_file(self):
        u = urllib.parse.urlsplit(self.path)
        p = urllib.parse.unquote(u.path)
        if p.startswith("/folder/"):
            p = p[len("/folder/"):]
        p = p.lstrip("/")
        parts = [x for x in p.split("/") if x not in ("", ".")]
        if ".." in parts:
            return None
        return os.path.join(self.server.opts.root, *parts)

    def send_simple(self, code, body=b"", extra=None):
        self.send_response(code)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def new_cookie(self, value):
        with self.server.rng_lock:
            self.server.cookie = "%s=%s" % (self.server.opts.require_cookie, value)
            self.server.cookie_uses = 0

    def cookie_ok(self):
        o = self.server.opts
        if not o.require_cookie:
            return True
        if self.path.startswith("/login"):
            with self.server.rng_lock:
                self.server.cookie_gen += 1
                gen = self.server.cookie_gen
            self.new_cookie("v%d" % gen)
            self.send_simple(200, b"ok\n", {"Set-Cookie": self.server.cookie})
            return False
        got = self.headers.get("Cookie", "")
        with self.server.rng_lock:
            good = self.server.cookie is not None and \
                self.server.cookie in [c.strip() for c in got.split(";")]
            if good:
                self.server.cookie_uses += 1
                if o.expire_after and self.server.cookie_uses > o.expire_after:
                    self.server.cookie = None       # revoked until a login
                    good = False
        if not good:
            self.server.stats.fault("401")
            self.send_simple(401, b"session expired\n")
        return good

    def do_POST(self):
        """Forward a SOAP call to the upstream simulator."""
        self.server.stats.add("requests")
        o = self.server.opts
        if not o.upstream:
            return self.send_simple(405, b"no upstream\n")
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        u = urllib.parse.urlsplit(o.upstream)
        if u.scheme == "https":
            conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=60,
                                               context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() in ("content-type", "soapaction", "cookie")}
        conn.request("POST", self.path, body, headers)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-type", "set-cookie"):
                self.send_header(k, v)
            if k.lower() == "set-cookie" and o.require_cookie:
                name, _, rest = v.partition("=")
                if name.strip() == o.require_cookie:
                    self.new_cookie(rest.split(";")[0])
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    def do_HEAD(self):
        self.server.stats.add("requests")
        self.server.stats.add("heads")
        self.serve(head=True)

    def do_GET(self):
        self.server.stats.add("requests")
        if self.path.startswith("/_stats"):
            body = json.dumps(self.server.stats.snapshot()).encode() + b"\n"
            return self.send_simple(200, body, {"Content-Type": "application/json"})
        if self.path.startswith("/_reset"):
            self.server.stats.reset()
            return self.send_simple(200, b"ok\n")
        self.server.stats.add("gets")
        self.generation = self.server.stats.generation
        self.serve(head=False)

    def serve(self, head):
        o = self.server.opts
        if not self.cookie_ok():
            return
        if not head:
            if self.chance(o.p503):
                self.server.stats.fault("503")
                return self.send_simple(503, b"Service Unavailable (injected)\n")
            if self.chance(o.p429):
                self.server.stats.fault("429")
                return self.send_simple(429, b"Too Many Requests (injected)\n",
                                        {"Retry-After": "0"})
        path = self.path_to_file()
        if path is None or not os.path.isfile(path):
            return self.send_simple(404, b"Not Found\n")
        size = os.path.getsize(path)
        mtime = os.path.getmtime(path)
        start, end = 0, size            # [start, end)
        status = 200
        rng = self.headers.get("Range")
        if rng and not o.ignore_range and not head:
            if not rng.startswith("bytes=") or "," in rng:
                return self.send_simple(416, b"bad range\n")
            a, _, b = rng[6:].partition("-")
            try:
                if a == "":
                    start, end = max(0, size - int(b)), size
                else:
                    start = int(a)
                    end = min(size, int(b) + 1) if b else size
            except ValueError:
                return self.send_simple(416, b"bad range\n")
            if start >= size or start >= end:
                return self.send_simple(416, b"range not satisfiable\n",
                                        {"Content-Range": "bytes */%d" % size})
            status = 206
            if self.chance(o.p200):
                self.server.stats.fault("200")
                start, end, status = 0, size, 200
        elif rng and o.ignore_range and not head and self.fault_allowed():
            self.server.stats.fault("200")
        length = end - start
        self.send_response(status)
        self.send_header("Content-Length", str(length))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Last-Modified", email.utils.formatdate(mtime, usegmt=True))
        self.send_header("Content-Type", "application/octet-stream")
        if status == 206:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end - 1, size))
        self.end_headers()
        if head:
            return
        cut = None
        if self.chance(o.truncate):
            with self.server.rng_lock:
                cut = self.server.rng.randrange(0, max(1, length))
            self.server.stats.fault("truncate")
        self.send_body(path, start, length, cut)

    def send_body(self, path, start, length, cut):
        o = self.server.opts
        t0 = time.monotonic()
        sent = 0
        with open(path, "rb") as f:
            f.seek(start)
            while sent < length:
                n = min(256 * 1024, length - sent)
                if o.rate:
                    n = min(n, max(16384, o.rate // 20))
                if cut is not None and sent + n > cut:
                    n = cut - sent
                    if n > 0:
                        self.write(f.read(n))
                    return self.abort()
                if self.drop_at is not None and self.conn_sent + n > self.drop_at \
                        and self.fault_allowed():
                    n = max(0, self.drop_at - self.conn_sent)
                    if n:
                        self.write(f.read(n))
                    self.server.stats.fault("drop")
                    return self.abort()
                if self.stall_at is not None and self.conn_sent + n > self.stall_at \
                        and self.fault_allowed():
                    self.server.stats.fault("stall")
                    self.stall_at = None
                    time.sleep(o.stall_secs)
                    return self.abort()
                data = f.read(n)
                if not data:
                    return self.abort()
                self.write(data)
                sent += len(data)
                if o.rate:
                    ahead = sent / o.rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)

    def write(self, data):
        self.wfile.write(data)
        self.conn_sent += len(data)
        self.server.stats.add("bytes", len(data),
                              getattr(self, "generation", None))

    def abort(self):
        # Close without a proper shutdown: the client sees a reset or an
        # early end of the body.
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, opts):
        super().__init__(("127.0.0.1", opts.port), Handler)
        self.opts = opts
        self.stats = Stats()
        self.rng = random.Random(opts.seed)
        self.rng_lock = threading.Lock()
        self.cookie = None
        self.cookie_gen = 0
        self.cookie_uses = 0
        self.ctx = None
        if opts.cert:
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(opts.cert, opts.key)

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.ctx:
            # The handshake happens in the handler's thread (first read).
            sock = self.ctx.wrap_socket(sock, server_side=True,
                                        do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        if self.ctx:
            try:
                request.do_handshake()
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        pass    # clients that go away are part of the game


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--drop-every", type=int, default=0)
    ap.add_argument("--p503", type=float, default=0)
    ap.add_argument("--p429", type=float, default=0)
    ap.add_argument("--stall-every", type=int, default=0)
    ap.add_argument("--stall-secs", type=float, default=5)
    ap.add_argument("--truncate", type=float, default=0)
    ap.add_argument("--p200", type=float, default=0)
    ap.add_argument("--ignore-range", action="store_true")
    ap.add_argument("--rate", type=int, default=0)
    ap.add_argument("--require-cookie")
    ap.add_argument("--upstream")
    ap.add_argument("--expire-after", type=int, default=0)
    ap.add_argument("--max-faults", type=int, default=1000)
    ap.add_argument("--stats")
    ap.add_argument("--lifetime", type=float, default=900)
    ap.add_argument("--verbose", action="store_true")
    opts = ap.parse_args()

    srv = Server(opts)

    def stop(*_):
        if opts.stats:
            with open(opts.stats, "w") as f:
                json.dump(srv.stats.snapshot(), f)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Timer(opts.lifetime, stop).start()
    print("PORT=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

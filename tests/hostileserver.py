#!/usr/bin/env python3
"""A vCenter that attacks its client, for tests/test-harden-hostile.sh.

Listens on --host (127.0.0.0/8 only) and answers POST /sdk according to
--mode:

  truncated          a ServiceContent reply cut in the middle
  laughs             a "billion laughs" entity expansion bomb
  xxe                an external entity naming --secret-file
  huge               a reply of --huge-mib MiB that never closes its element
  wrongns            an Envelope in another namespace
  fault-nodetail     a SOAP fault with a faultstring and no detail
  fault-empty        a SOAP fault with neither
  redirect           302 to --redirect-to for every request
  login-echo         a ServiceContent, then a Login fault quoting the request
  die-after-login    a ServiceContent, then the connection dropped at Login
  redirect-after-login  a ServiceContent and a Login (with a session
                     cookie), then 302 to --redirect-to
  folder-cr-wrong    /folder: 206 with the Content-Range of other bytes
  folder-cr-total    /folder: 206 whose total is not the HEAD's size
  folder-cl-short    /folder: 200 with a Content-Length longer than its body
  folder-cl-long     /folder: HEAD size, then 200 with more bytes than that

Every request is logged to --log as one JSON line (method, path,
headers, body): the tests look there for what a client sent.  Prints
"PORT=N" once it listens; exits on SIGTERM or after --lifetime seconds.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SC = ('<?xml version="1.0" encoding="UTF-8"?>\n'
      '<soapenv:Envelope xmlns:soapenv="%s" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
      '<soapenv:Body><RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>'
      '<rootFolder type="Folder">%s</rootFolder>'
      '<propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>'
      '<viewManager type="ViewManager">ViewManager</viewManager>'
      '<about><name>hostile</name><fullName>hostile vCenter</fullName><apiType>VirtualCenter</apiType>'
      '<apiVersion>8.0.2.0</apiVersion><instanceUuid>x</instanceUuid></about>'
      '<sessionManager type="SessionManager">SessionManager</sessionManager>'
      '</returnval></RetrieveServiceContentResponse></soapenv:Body></soapenv:Envelope>\n')
LOGIN = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body><LoginResponse xmlns="urn:vim25">'
         '<returnval><key>k</key><userName>u</userName></returnval></LoginResponse>'
         '</soapenv:Body></soapenv:Envelope>\n' % ENV)
FAULT = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         '<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body><soapenv:Fault>'
         '<faultcode>ServerFaultCode</faultcode>%s</soapenv:Fault></soapenv:Body>'
         '</soapenv:Envelope>\n')
FILE_SIZE = 1 << 20


def laughs():
    s = '<?xml version="1.0"?>\n<!DOCTYPE soapenv:Envelope [\n<!ENTITY l0 "lol">\n'
    for i in range(1, 10):
        s += '<!ENTITY l%d "%s">\n' % (i, ('&l%d;' % (i - 1)) * 10)
    return s + ']>\n' + SC % (ENV, '&l9;')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def record(self, body=b""):
        with self.server.lock:
            with open(self.server.opts.log, "a") as f:
                f.write(json.dumps({
                    "method": self.command, "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": body.decode("utf-8", "replace")}) + "\n")

    def send(self, code, body, ctype="text/xml; charset=utf-8", extra=()):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def redirect(self):
        self.send(302, "moved", "text/plain",
                  [("Location", self.server.opts.redirect_to)])

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.record(body)
        mode = self.server.opts.mode
        method = b"Login" if b"<Login" in body else b"RetrieveServiceContent" \
            if b"RetrieveServiceContent" in body else b"other"
        if mode == "truncated":
            s = SC % (ENV, "group-d1")
            self.send(200, s[:len(s) // 2])
        elif mode == "laughs":
            self.send(200, laughs())
        elif mode == "xxe":
            s = SC % (ENV, "&x;")
            s = s.replace('<soapenv:Envelope', '<!DOCTYPE soapenv:Envelope [<!ENTITY x SYSTEM "file://%s">]>\n<soapenv:Envelope' % self.server.opts.secret_file, 1)
            self.send(200, s)
        elif mode == "huge":
            total = self.server.opts.huge_mib << 20
            self.send_response(200)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(total))
            self.end_headers()
            head = ('<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body><x>' % ENV).encode()
            chunk = b"a" * (1 << 20)
            try:
                self.wfile.write(head)
                sent = len(head)
                while sent + len(chunk) <= total:
                    self.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            self.close_connection = True
        elif mode == "wrongns":
            self.send(200, (SC % ("urn:not-soap", "group-d1")))
        elif mode == "fault-nodetail":
            self.send(500, FAULT % (ENV, "<faultstring>Permission to perform this operation was denied.</faultstring>"))
        elif mode == "fault-empty":
            self.send(500, FAULT % (ENV, ""))
        elif mode == "redirect":
            self.redirect()
        elif mode in ("login-echo", "die-after-login"):
            if method == b"RetrieveServiceContent":
                self.send(200, SC % (ENV, "group-d1"))
            elif mode == "login-echo":
                # A server that quotes the request it refuses, password
                # and all (escaped for XML as the client sent it).
                self.send(500, FAULT % (ENV, "<faultstring>cannot log in with %s</faultstring>"
                                        % body.decode("utf-8", "replace")
                                        .replace("&", "&amp;").replace("<", "&lt;")))
            else:
                # The server dies mid-session: the connection drops.
                self.close_connection = True
                self.connection.shutdown(2)
        elif mode == "redirect-after-login":
            if method == b"RetrieveServiceContent":
                self.send(200, SC % (ENV, "group-d1"))
            elif method == b"Login":
                self.send(200, LOGIN, extra=[("Set-Cookie", 'vmware_soap_session="s3cr3t-session"; Path=/; HttpOnly')])
            else:
                self.redirect()
        else:
            self.send(500, FAULT % (ENV, "<faultstring>no SOAP in mode %s</faultstring>" % mode))

    def folder(self):
        self.record()
        mode = self.server.opts.mode
        data = bytes(i % 251 for i in range(FILE_SIZE))
        if self.command == "HEAD":
            self.send(200, data, "application/octet-stream",
                      [("Accept-Ranges", "bytes")])
            return
        rng = self.headers.get("Range", "")
        if mode == "folder-cr-wrong" and rng:
            self.send(206, data[:4096], "application/octet-stream",
                      [("Content-Range", "bytes 8192-12287/%d" % FILE_SIZE)])
        elif mode == "folder-cr-total" and rng:
            a, b = rng[6:].split("-")
            a, b = int(a), min(int(b), FILE_SIZE - 1)
            self.send(206, data[a:b + 1], "application/octet-stream",
                      [("Content-Range", "bytes %d-%d/%d" % (a, b, FILE_SIZE * 2))])
        elif mode == "folder-cl-short":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(FILE_SIZE))
            self.end_headers()
            self.wfile.write(data[:FILE_SIZE // 3])
            self.close_connection = True
        elif mode == "folder-cl-long":
            self.send(200, data + data, "application/octet-stream")
        else:
            self.send(200, data, "application/octet-stream")

    def do_GET(self):
        if self.path.startswith("/folder/"):
            return self.folder()
        self.record()
        if self.server.opts.mode.startswith("redirect"):
            return self.redirect()
        self.send(404, "not here", "text/plain")

    do_HEAD = do_GET


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--log", required=True)
    ap.add_argument("--redirect-to", default="http://127.0.0.2:9/sdk")
    ap.add_argument("--secret-file", default="/etc/hostname")
    ap.add_argument("--huge-mib", type=int, default=300)
    ap.add_argument("--lifetime", type=float, default=120)
    opts = ap.parse_args()
    if not opts.host.startswith("127."):
        sys.exit("hostileserver: loopback only")
    srv = ThreadingHTTPServer((opts.host, 0), Handler)
    srv.daemon_threads = True
    # Clients that hang up on a lying reply are the point, not an error.
    srv.handle_error = lambda request, client_address: None
    srv.opts = opts
    srv.lock = threading.Lock()
    open(opts.log, "a").close()

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    timer = threading.Timer(opts.lifetime, stop)
    timer.daemon = True
    timer.start()
    print("PORT=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

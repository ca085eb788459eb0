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
  slowloris          every reply (SOAP and /folder GET) trickled, one byte
                     each --trickle seconds, after honest headers
  objects-*          a ServiceContent, a Login and the datacenter listing,
                     then the VMs' RetrievePropertiesEx answered with
                     --objects VMs in one reply that goes wrong half way:
    objects-close      the connection closed in the middle of a VM
    objects-cut        the XML ends in the middle of a VM (Content-Length
                       honest)
    objects-laughs     a billion-laughs DOCTYPE before the Envelope
    objects-xxe        an external entity naming --secret-file, used in a VM
    objects-utf16      the whole reply in UTF-16
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


DATACENTER = ('<objects><obj type="Datacenter">datacenter-2</obj>'
              '<propSet><name>name</name><val xsi:type="xsd:string">DC0</val></propSet>'
              '<propSet><name>parent</name><val type="Folder" xsi:type="ManagedObjectReference">group-d1</val></propSet>'
              '<propSet><name>vmFolder</name><val type="Folder" xsi:type="ManagedObjectReference">group-v3</val></propSet>'
              '<propSet><name>hostFolder</name><val type="Folder" xsi:type="ManagedObjectReference">group-h4</val></propSet>'
              '<propSet><name>datastoreFolder</name><val type="Folder" xsi:type="ManagedObjectReference">group-s5</val></propSet>'
              '<propSet><name>networkFolder</name><val type="Folder" xsi:type="ManagedObjectReference">group-n6</val></propSet>'
              '</objects>')


def vm_object(i):
    return ('<objects><obj type="VirtualMachine">vm-%d</obj>'
            '<propSet><name>name</name><val xsi:type="xsd:string">vm%d</val></propSet>'
            '<propSet><name>config.hardware.numCPU</name><val xsi:type="xsd:int">2</val></propSet>'
            '<propSet><name>parent</name><val type="Folder" xsi:type="ManagedObjectReference">group-v3</val></propSet>'
            '<propSet><name>runtime.powerState</name><val xsi:type="VirtualMachinePowerState">poweredOff</val></propSet>'
            '</objects>' % (i, i))


def retrieve_reply(objects):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<soapenv:Envelope xmlns:soapenv="%s" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
            '<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>%s</returnval>'
            '</RetrievePropertiesExResponse></soapenv:Body></soapenv:Envelope>\n'
            % (ENV, "".join(objects)))


def other_reply(body):
    # CreateContainerView, DestroyView, Logout: a view moref or nothing.
    for m in (b"CreateContainerView", b"DestroyView", b"Logout"):
        if m in body:
            name = m.decode()
            rv = '<returnval type="ContainerView">session[x]view-1</returnval>' \
                if m == b"CreateContainerView" else ""
            return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<soapenv:Envelope xmlns:soapenv="%s"><soapenv:Body><%sResponse xmlns="urn:vim25">%s'
                    '</%sResponse></soapenv:Body></soapenv:Envelope>\n' % (ENV, name, rv, name))
    return FAULT % (ENV, "<faultstring>not simulated</faultstring>")


def laughs_prolog():
    s = '<?xml version="1.0"?>\n<!DOCTYPE soapenv:Envelope [\n<!ENTITY l0 "lol">\n'
    for i in range(1, 10):
        s += '<!ENTITY l%d "%s">\n' % (i, ('&l%d;' % (i - 1)) * 10)
    return s + ']>\n'


def laughs():
    return laughs_prolog() + SC % (ENV, '&l9;')


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

    def trickle(self, code, body, ctype="text/xml; charset=utf-8"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.flush()
        try:
            for i in range(len(body)):
                if self.server.stopping.wait(self.server.opts.trickle):
                    break
                self.wfile.write(body[i:i + 1])
                self.wfile.flush()
        except OSError:
            pass
        self.close_connection = True

    def bad_objects(self, mode):
        objs = [vm_object(i) for i in range(self.server.opts.objects)]
        if mode == "objects-xxe":
            objs[len(objs) // 2] = objs[len(objs) // 2].replace("vm%d<" % (len(objs) // 2), "&x;<")
        reply = retrieve_reply(objs)
        cut = reply.index("<objects>", len(reply) // 2) + 40
        if mode == "objects-close":
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply[:cut].encode())
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif mode == "objects-cut":
            self.send(200, reply[:cut])
        elif mode == "objects-laughs":
            self.send(200, laughs_prolog() + reply[reply.index("<soapenv:Envelope"):])
        elif mode == "objects-xxe":
            self.send(200, reply.replace('<soapenv:Envelope', '<!DOCTYPE soapenv:Envelope [<!ENTITY x SYSTEM "file://%s">]>\n<soapenv:Envelope' % self.server.opts.secret_file, 1))
        elif mode == "objects-utf16":
            self.send(200, reply.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16"))
        else:
            self.send(200, reply)

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
        elif mode == "slowloris":
            self.trickle(200, SC % (ENV, "group-d1"))
        elif mode.startswith("objects-"):
            if method == b"RetrieveServiceContent":
                self.send(200, SC % (ENV, "group-d1"))
            elif method == b"Login":
                self.send(200, LOGIN, extra=[("Set-Cookie", 'vmware_soap_session="s"; Path=/')])
            elif b"RetrievePropertiesEx" in body:
                if b"<type>Datacenter</type>" in body:
                    self.send(200, retrieve_reply([DATACENTER]))
                else:
                    self.bad_objects(mode)
            else:
                self.send(200, other_reply(body))
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
        if mode == "slowloris":
            self.trickle(200, data, "application/octet-stream")
        elif mode == "folder-cr-wrong" and rng:
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
    ap.add_argument("--trickle", type=float, default=0.2)
    ap.add_argument("--objects", type=int, default=500)
    opts = ap.parse_args()
    if not opts.host.startswith("127."):
        sys.exit("hostileserver: loopback only")
    srv = ThreadingHTTPServer((opts.host, 0), Handler)
    srv.daemon_threads = True
    # Clients that hang up on a lying reply are the point, not an error.
    srv.handle_error = lambda request, client_address: None
    srv.opts = opts
    srv.lock = threading.Lock()
    srv.stopping = threading.Event()
    open(opts.log, "a").close()

    def stop(*_):
        srv.stopping.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    timer = threading.Timer(opts.lifetime, stop)
    timer.daemon = True
    timer.start()
    print("PORT=%d" % srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()

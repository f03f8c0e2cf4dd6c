# A registry stand-in for the tests: canned answers, every request logged.
#
# fake-registry.py ADDR PORTFILE LOG [--location URL] [--redirect URL]
#                  [--files DIR] [--endless BYTES] [--bearer REALM]
#                  [--range] [--range-shift N] [--range-extra N] [--slow SECONDS]
#                  [--multi MODE] [--log-range]
#
# Listens on ADDR (port 0: a free one, written to PORTFILE) and appends one
# line per request to LOG: "METHOD PATH AUTH", AUTH being the Authorization
# header or "-".
#   --bearer:      a GET under /v2/ without "Authorization: Bearer ..." gets
#                  401, WWW-Authenticate: Bearer realm="REALM",service="fake",
#                  scope="repository:NAME:pull"; with one it goes on as below
#   HEAD           404 (no blob is there)
#   POST           202, Location: URL (--location; default a relative /upload/1?state=x)
#                  ({self} in URL is ADDR:PORT)
#   PUT            201
#   GET /v2/       200
#   GET /v2/...    --redirect: 307 to URL + the path's last component ({self}
#                  as above);
#                  --endless: 200, BYTES bytes, no Content-Length;
#                  --files: DIR/LAST (LAST the path's last component), 404 without it;
#                  whole (200) even when a Range is asked, unless --range: then
#                  206 with the range asked; --range-shift N answers the range
#                  N bytes further (saying so in its Content-Range), --range-extra N
#                  adds N bytes to the range's body, --slow sends it 4 KiB at a
#                  time, SECONDS apart; a Range of several ranges (with --range)
#                  gets 206 multipart/byteranges, a part each range (MODE
#                  parts, the default), the parts last first (reversed), one
#                  single-part answer from the first range's start to the last
#                  one's end (coalesced)
#   --log-range:   the Range header asked for ends the log line ("-": none)
import argparse
import http.server
import os
import sys
import time

ap = argparse.ArgumentParser()
ap.add_argument("addr")
ap.add_argument("portfile")
ap.add_argument("log")
ap.add_argument("--location", default="/upload/1?state=x")
ap.add_argument("--redirect")
ap.add_argument("--files")
ap.add_argument("--endless", type=int)
ap.add_argument("--bearer")
ap.add_argument("--range", action="store_true")
ap.add_argument("--range-shift", type=int, default=0)
ap.add_argument("--range-extra", type=int, default=0)
ap.add_argument("--slow", type=float, default=0)
ap.add_argument("--multi", default="parts", choices=["parts", "reversed", "coalesced"])
ap.add_argument("--log-range", action="store_true")
opt = ap.parse_args()


class H(http.server.BaseHTTPRequestHandler):
    def log_request(self, *a):
        with open(opt.log, "a") as f:
            line = "%s %s %s" % (self.command, self.path, self.headers.get("Authorization", "-"))
            if opt.log_range:
                line += " " + self.headers.get("Range", "-")
            f.write(line + "\n")

    def log_message(self, *a):
        pass

    def answer(self, code, headers=(), body=b""):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def drain(self):
        n = int(self.headers.get("Content-Length", "0"))
        while n > 0:
            b = self.rfile.read(min(n, 1 << 16))
            if not b:
                break
            n -= len(b)

    def do_HEAD(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        self.drain()
        self.answer(202, [("Location", opt.location.replace("{self}", self_addr))])

    def do_PUT(self):
        self.drain()
        self.answer(201)

    def do_GET(self):
        last = self.path.split("?")[0].rstrip("/").split("/")[-1]
        if opt.bearer and self.path.startswith("/v2/") and \
                not self.headers.get("Authorization", "").startswith("Bearer "):
            name = "/".join(self.path.split("/")[2:-2])
            return self.answer(401, [("WWW-Authenticate", 'Bearer realm="%s",service="fake",scope="repository:%s:pull"'
                                      % (opt.bearer, name))])
        if self.path == "/v2/":
            return self.answer(200, [("Content-Type", "application/json")], b"{}")
        if opt.redirect and self.path.startswith("/v2/"):
            return self.answer(307, [("Location", opt.redirect.replace("{self}", self_addr) + last)])
        if opt.endless is not None and "/blobs/" in self.path:
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"\0" * (1 << 16)
            left = opt.endless
            try:
                while left > 0:
                    self.wfile.write(chunk[:left])
                    left -= len(chunk)
            except OSError:
                pass
            return
        path = os.path.join(opt.files or "/nonexistent", last)
        if not os.path.isfile(path):
            return self.answer(404)
        with open(path, "rb") as f:
            body = f.read()
        ctype = "application/vnd.oci.image.manifest.v1+json" if "/manifests/" in self.path else "application/octet-stream"
        rng = self.headers.get("Range", "")
        if opt.range and rng.startswith("bytes=") and "," in rng:
            return self.multi(body, [tuple(int(x) for x in r.split("-")) for r in rng[6:].split(",")])
        if opt.range and rng.startswith("bytes="):
            a, b = (int(x) + opt.range_shift for x in rng[6:].split("-"))
            part = body[a:b + 1] + b"\0" * opt.range_extra
            if not opt.slow:
                return self.answer(206, [("Content-Type", ctype), ("Content-Range", "bytes %d-%d/%d" % (a, b, len(body)))],
                                   part)
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (a, b, len(body)))
            self.send_header("Content-Length", str(len(part)))
            self.end_headers()
            for i in range(0, len(part), 4096):
                self.wfile.write(part[i:i + 4096])
                self.wfile.flush()
                time.sleep(opt.slow)
            return
        self.answer(200, [("Content-Type", ctype)], body)


    def multi(self, body, ranges):
        if opt.multi == "coalesced":
            a, b = ranges[0][0], ranges[-1][1]
            return self.answer(206, [("Content-Type", "application/octet-stream"),
                                     ("Content-Range", "bytes %d-%d/%d" % (a, b, len(body)))], body[a:b + 1])
        if opt.multi == "reversed":
            ranges = ranges[::-1]
        out = b""
        for a, b in ranges:
            out += b"--XyZ\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes %d-%d/%d\r\n\r\n" % (
                a, b, len(body))
            out += body[a:b + 1] + b"\r\n"
        out += b"--XyZ--\r\n"
        self.answer(206, [("Content-Type", "multipart/byteranges; boundary=XyZ")], out)


s = http.server.ThreadingHTTPServer((opt.addr, 0), H)
self_addr = "%s:%d" % (opt.addr, s.server_address[1])
with open(opt.portfile + ".tmp", "w") as f:
    f.write(str(s.server_address[1]))
os.rename(opt.portfile + ".tmp", opt.portfile)
sys.stdout.close()
s.serve_forever()

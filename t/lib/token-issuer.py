#!/usr/bin/env python3
"""A registry token issuer for tests (the distribution token spec).

token-issuer.py ADDR PORTFILE LOG KEY ISSUER USERS ANONYMOUS

Serves GET /token?service=S&scope=repository:NAME:ACTIONS on ADDR and a free
port (written to PORTFILE). Tokens are JWTs signed RS256 with the private key
KEY (PEM) by the openssl command, with the libtrust key id docker-registry
looks up in its rootcertbundle, issued by ISSUER for audience S. USERS holds
"user:password" lines: those get every action they ask for; wrong
credentials get 401. ANONYMOUS is "none" (401 without credentials) or "pull"
(anonymous pull only). Each request adds a line to LOG: "user=U scope=S",
U being "-" when anonymous.
"""
import base64, hashlib, http.server, json, os, subprocess, sys, time, urllib.parse

addr, portfile, log, key, issuer, users_file, anonymous = sys.argv[1:8]


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


der = subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-outform", "DER"],
                     check=True, capture_output=True).stdout
kid32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
kid = ":".join(kid32[i:i + 4] for i in range(0, len(kid32), 4))
users = dict(l.strip().split(":", 1) for l in open(users_file) if ":" in l)


def sign(claims):
    head = b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(claims).encode())
    inp = (head + "." + body).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=inp,
                         check=True, capture_output=True).stdout
    return head + "." + body + "." + b64(sig)


class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def deny(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="gear-test"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            name, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
            if users.get(name) != pw:
                return self.deny()
            user = name
        scopes = q.get("scope", [])
        with open(log, "a") as f:
            f.write("user=%s scope=%s\n" % (user or "-", " ".join(scopes)))
        if u.path != "/token":
            self.send_response(404)
            self.end_headers()
            return
        if user is None and anonymous == "none":
            return self.deny()
        access = []
        for s in scopes:
            t, name, actions = s.split(":")[0], ":".join(s.split(":")[1:-1]), s.split(":")[-1].split(",")
            if user is None:
                actions = [a for a in actions if a == "pull"]
            access.append({"type": t, "name": name, "actions": actions})
        now = int(time.time())
        tok = sign({"iss": issuer, "sub": user or "", "aud": q.get("service", [""])[0], "exp": now + 300,
                    "nbf": now - 10, "iat": now, "jti": b64(os.urandom(12)), "access": access})
        body = json.dumps({"token": tok, "access_token": tok, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer((addr, 0), H)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()

#!/usr/bin/env python3
# tests/host/oci_registry_token.py — a TEST bearer-token front for tests/host/oci_registry.sh
# (python3 standard library only). It stands in front of a real (anonymous) docker-registry
# and enforces the OCI Distribution token flow a registry with `auth: token` uses:
#
#   GET /v2/...  without "Authorization: Bearer <the token>"
#        → 401 with WWW-Authenticate: Bearer realm="http://127.0.0.1:PORT/token",
#          service="silo-test",scope="repository:REPO:pull"
#   GET /token?service=silo-test&scope=repository:REPO:pull  with HTTP basic USER:PASS
#        → 200 {"token": "<a fresh random token>"}; wrong or no credentials → 401
#   GET /v2/...  with the bearer token → forwarded to the registry, its answer relayed
#
# Every request is logged to stdout, one line each ("token issued", "bearer ok", "challenge"),
# so the test can check that the flow really happened. Usage:
#   oci_registry_token.py LISTEN_PORT UPSTREAM_PORT USER PASS
import base64
import http.client
import http.server
import secrets
import sys
import urllib.parse

listen_port, upstream_port, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
tokens = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def say(self, what):
        print(f"{what} {self.command} {self.path}", flush=True)

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/token":
            q = urllib.parse.parse_qs(url.query)
            want = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            if self.headers.get("Authorization") != want or q.get("service") != ["silo-test"] or \
                    not q.get("scope", [""])[0].startswith("repository:"):
                self.say("token refused")
                return self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [("Content-Type", "application/json")])
            tok = secrets.token_urlsafe(24)
            tokens.add(tok)
            self.say("token issued")
            return self.answer(200, ('{"token":"%s","expires_in":300}' % tok).encode(), [("Content-Type", "application/json")])
        auth = self.headers.get("Authorization", "")
        if not (auth.startswith("Bearer ") and auth[7:] in tokens):
            parts = url.path.split("/")
            repo = "/".join(parts[2:-2]) if len(parts) > 4 else "x"
            self.say("challenge")
            challenge = (f'Bearer realm="http://127.0.0.1:{listen_port}/token",service="silo-test",'
                         f'scope="repository:{repo}:pull"')
            return self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                               [("WWW-Authenticate", challenge), ("Content-Type", "application/json")])
        self.say("bearer ok")
        up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
        up.request("GET", self.path, headers={"Accept": self.headers.get("Accept", "*/*")})
        r = up.getresponse()
        body = r.read()
        keep = [(k, v) for k, v in r.getheaders()
                if k.lower() in ("content-type", "docker-content-digest", "location")]
        self.answer(r.status, body, keep)
        up.close()

    do_HEAD = do_GET


http.server.ThreadingHTTPServer(("127.0.0.1", listen_port), Handler).serve_forever()

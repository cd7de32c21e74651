"""tests/agents/python-agent/agent.py — a standard-library-only AgentCore HTTP agent in Python.

Serves the AgentCore HTTP contract on 0.0.0.0:8080 (override: PORT), one thread per
connection (http.server.ThreadingHTTPServer), HTTP/1.1:
  GET  /ping          {"status": "Healthy", "time_of_last_update": T} (T: the start, Unix s)
  POST /invocations   body {"prompt": "...", "action": "echo"|"stream"}
    echo (default)    {"echo": <the request JSON>, "reversed": <prompt reversed>,
                       "bytes": N, "session": "<session id header>", "python": "3.11.2",
                       "echo_tag": <the environment variable ECHO_TAG, null when unset>,
                       "vm_id": "<agentd's /run/silo/vm-id, null outside a microVM>"}
                      a body that is not JSON: {"bytes": N, "sha256": "<hex>"}
    stream            text/event-stream, "n" events (default 3):
                      data: {"index": i, "text": "<prompt> i"}  then  data: {"done": true}
  anything else       404 / 405 JSON errors
It imports what a typical agent's stack pulls in (json, logging, urllib.request with http.client,
ssl and email, uuid, datetime, hashlib), so its cold start shows the cost of the standard
library's bytecode (silo-image precompiles it; builder/python_bytecode.c).
"""
import datetime
import hashlib
import json
import logging
import os
import sys
import time
import urllib.request  # noqa: F401  (the HTTP client stack an agent calls models with)
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
MAX_BODY = 8 << 20
STARTED = int(time.time())
log = logging.getLogger("python-agent")


def vm_id():
    try:
        with open("/run/silo/vm-id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the console is the guest's: one line per request is noise
        pass

    def answer(self, status, doc, content_type="application/json"):
        body = doc if isinstance(doc, bytes) else json.dumps(doc, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ping":
            self.answer(200, {"status": "Healthy", "time_of_last_update": STARTED})
        else:
            self.answer(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/invocations":
            self.answer(404, {"error": "not found"})
            return
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.answer(400, {"error": "bad Content-Length"})
            return
        raw = self.rfile.read(length)
        try:
            req = json.loads(raw) if raw else {}
        except ValueError:
            self.answer(200, {"bytes": len(raw), "sha256": hashlib.sha256(raw).hexdigest()})
            return
        if not isinstance(req, dict):
            req = {"value": req}
        prompt = str(req.get("prompt", ""))
        if req.get("action") == "stream":
            self.stream(prompt, int(req.get("n", 3)))
            return
        self.answer(200, {
            "echo": req,
            "reversed": prompt[::-1],
            "bytes": len(raw),
            "session": self.headers.get(SESSION_HEADER),
            "python": "%d.%d.%d" % sys.version_info[:3],
            "echo_tag": os.environ.get("ECHO_TAG"),
            "vm_id": vm_id(),
            "at": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "request_id": str(uuid.uuid4()),
        })

    def stream(self, prompt, n):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        for i in range(max(0, min(n, 1000))):
            event = json.dumps({"index": i, "text": "%s %d" % (prompt, i)}, separators=(",", ":"))
            self.wfile.write(("data: %s\n\n" % event).encode())
            self.wfile.flush()
        self.wfile.write(b'data: {"done":true}\n\n')
        self.wfile.flush()


def main():
    logging.basicConfig(level=logging.INFO, format="python-agent: %(message)s")
    port = int(os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = True
    log.info("listening on 0.0.0.0:%d (python %s, %d modules loaded)", port, sys.version.split()[0],
             len(sys.modules))
    server.serve_forever()


if __name__ == "__main__":
    main()

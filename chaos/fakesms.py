"""A fake SMS gateway for the chaos harness, on loopback only.

POST /messages with an ``Idempotency-Key`` header: honours the key (a repeated key returns the
first answer and sends nothing), so "delivered" counts distinct texts a patient would receive,
while "requests" counts every attempt. Faults are switched at run time with POST /_control
{"mode": "ok" | "fail" | "timeout" | "flaky", "latency": seconds}:

- fail: HTTP 500 without sending;
- timeout: the text IS sent, then the answer comes too late for the client (the ambiguous case
  the idempotency key exists for);
- flaky: a 500, a timeout and a success in turn.

GET /_stats returns {"requests": {key: n}, "delivered": {key: n}, "answers": {...}}.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {"mode": "ok", "latency": 0.0, "timeout_sleep": 6.0, "turn": 0}
REQUESTS: Counter = Counter()
DELIVERED: Counter = Counter()
ANSWERS: Counter = Counter()
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet: the harness prints its own table
        pass

    def _json(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting (timeout mode): expected

    def _body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def do_GET(self):  # noqa: N802
        if self.path == "/_stats":
            with LOCK:
                self._json(
                    200,
                    {"requests": dict(REQUESTS), "delivered": dict(DELIVERED), "answers": dict(ANSWERS), **STATE},
                )
        else:
            self._json(404, {})

    def do_POST(self):  # noqa: N802
        payload = self._body()
        if self.path == "/_control":
            with LOCK:
                STATE.update({k: v for k, v in payload.items() if k in STATE})
                if payload.get("reset"):
                    REQUESTS.clear(), DELIVERED.clear(), ANSWERS.clear()
            return self._json(200, STATE)
        if self.path != "/messages":
            return self._json(404, {})
        key = self.headers.get("Idempotency-Key") or ""
        if not key or not payload.get("to"):
            return self._json(400, {"error": "missing key or recipient"})
        with LOCK:
            REQUESTS[key] += 1
            mode = STATE["mode"]
            if mode == "flaky":
                STATE["turn"] += 1
                mode = ("fail", "timeout", "ok")[STATE["turn"] % 3]
            if mode != "fail" and not DELIVERED[key]:
                DELIVERED[key] += 1  # the text goes out once per key, whatever the client sees
            ANSWERS[mode] += 1
        if STATE["latency"]:
            time.sleep(STATE["latency"])
        if mode == "fail":
            return self._json(500, {"error": "gateway failure"})
        if mode == "timeout":
            time.sleep(STATE["timeout_sleep"])
        self._json(201, {"id": f"fake-{key}"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=6391)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()

"""What the gunicorn master serves on METRICS_PORT, beside the workers: every worker's metrics
added up (/metrics) and liveness (/healthz).

Liveness is answered here, by a thread of the master, so that requests hung in every worker
thread can never starve it, and a hung dependency never makes the kubelet restart a replica
that is not broken. The master is alive while it supervises workers; gunicorn itself
replaces a worker whose main loop stops checking in (GUNICORN_TIMEOUT).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess


class _Handler(BaseHTTPRequestHandler):
    server: _OpsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/healthz":
            workers = len(self.server.arbiter.WORKERS)
            body = json.dumps({"status": "ok" if workers else "no workers", "workers": workers})
            self._answer(200 if workers else 503, "application/json", body.encode())
        elif path in ("/", "/metrics"):
            self._answer(200, CONTENT_TYPE_LATEST, generate_latest(self.server.registry))
        else:
            self._answer(404, "text/plain; charset=utf-8", b"not found\n")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _answer(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # probes and scrapes every few seconds: not worth a log line each


class _OpsServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, arbiter) -> None:
        super().__init__(("0.0.0.0", port), _Handler)  # noqa: S104 - the pod's own port
        self.arbiter = arbiter
        self.registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(self.registry)


def serve(arbiter, port: int) -> _OpsServer:
    """Start answering /metrics and /healthz on `port`, in a thread of the gunicorn master."""
    server = _OpsServer(port, arbiter)
    threading.Thread(target=server.serve_forever, name="ops-port", daemon=True).start()
    return server

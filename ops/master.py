"""What the gunicorn master serves on METRICS_PORT, beside the workers: every worker's metrics
added up (/metrics), liveness (/healthz) and readiness (/readyz), for the kubelet.

Both probes are answered here, by a thread of the master, so that requests waiting in every
worker thread can never starve them. Requests wait together when a dependency every replica
shares is slow or failing over (the drill saw two of three replicas leave the Service during
a PostgreSQL failover, their probes queued behind requests each waiting up to its deadline):
a probe in the request threads would take every replica out at once, the very thing readiness
must never do. No request waits past REQUEST_DEADLINE, so busy threads are not stuck ones.

- Alive: the master supervises workers; gunicorn itself replaces a worker whose main loop
  stops checking in (GUNICORN_TIMEOUT).
- Ready: listening (not after SIGTERM), with workers, and this code's migrations seen applied
  (ops.probes). The app port's /readyz says the same for people, with what each worker saw of
  the database and the cache.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

PATHS = ("/healthz", "/readyz", "/metrics")


class _Handler(BaseHTTPRequestHandler):
    server: OpsServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        probe = {"/healthz": self.server.alive, "/readyz": self.server.ready}.get(path)
        if probe is not None:
            ok, body = probe()
            self._answer(200 if ok else 503, "application/json", json.dumps(body).encode())
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


def liveness(arbiter) -> tuple[bool, dict]:
    """Alive while the master has workers (gunicorn replaces a stuck one by itself)."""
    workers = len(arbiter.WORKERS)
    return workers > 0, {"status": "ok" if workers else "no workers", "workers": workers}


def readiness(arbiter) -> tuple[bool, dict]:
    """Whether this replica should get requests: its own state only, never a dependency's."""
    from ops.probes import check_migrations_and_close

    if not arbiter.LISTENERS:
        return False, {"status": "stopping"}  # SIGTERM: gunicorn closed its sockets
    workers = len(arbiter.WORKERS)
    migrations = check_migrations_and_close()  # asks the database only until applied
    ready = workers > 0 and migrations == "ok"
    status = "ok" if ready else "starting"
    return ready, {"status": status, "workers": workers, "migrations": migrations}


Probe = Callable[[], tuple[bool, dict]]


class OpsServer(ThreadingHTTPServer):
    """/healthz, /readyz and /metrics on a port of their own, answered by a thread of a process
    that runs no request: the gunicorn master here, the task worker in ops.worker."""

    daemon_threads = True

    def __init__(self, port: int, *, alive: Probe, ready: Probe, registry) -> None:
        super().__init__(("0.0.0.0", port), _Handler)  # noqa: S104 - the pod's own port
        self.alive, self.ready, self.registry = alive, ready, registry

    def start(self) -> OpsServer:
        threading.Thread(target=self.serve_forever, name="ops-port", daemon=True).start()
        return self


def serve(arbiter, port: int) -> OpsServer:
    """Start answering /metrics, /healthz and /readyz on `port`, in a thread of the master."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return OpsServer(
        port,
        alive=lambda: liveness(arbiter),
        ready=lambda: readiness(arbiter),
        registry=registry,
    ).start()

"""Draining: after SIGTERM the process stays up but tells the load balancer to stop sending.

The gunicorn master creates a marker file when it receives SIGTERM; every worker's /readyz
looks for it. The file's path carries the master's PID, so a marker left by an earlier
process never makes a new one look like it is draining.
"""

import os
import tempfile
from pathlib import Path

ENV_VAR = "KUBEBLOG_DRAIN_FILE"


def marker_for(master_pid: int) -> Path:
    """The marker file of the gunicorn master with this PID."""
    return Path(tempfile.gettempdir()) / f"kubeblog-draining-{master_pid}"


def is_draining() -> bool:
    """True once this process's master has begun to drain."""
    path = os.environ.get(ENV_VAR)
    return bool(path) and os.path.exists(path)


def begin_draining() -> None:
    """Mark this process tree as draining (called in the gunicorn master)."""
    path = os.environ.get(ENV_VAR)
    if path:
        Path(path).touch()


def clear_marker() -> None:
    """Remove the marker when the master exits."""
    path = os.environ.get(ENV_VAR)
    if path:
        Path(path).unlink(missing_ok=True)


def install(server, drain_seconds: float) -> None:
    """Make the gunicorn master drain on SIGTERM before it stops.

    First SIGTERM: mark the process as draining (readiness turns 503, so the load balancer
    stops sending new requests) and keep serving for `drain_seconds`; then stop the usual
    graceful way: listeners close, workers finish their requests within graceful_timeout.
    A second SIGTERM during the wait stops at once, gracefully.
    """
    import signal
    import threading
    import time

    graceful_stop = server.handle_term
    state = {"draining": False}

    def handle_term() -> None:
        if state["draining"] or drain_seconds <= 0:
            graceful_stop()  # raises StopIteration: gunicorn's graceful shutdown
        state["draining"] = True
        begin_draining()
        server.log.info("SIGTERM: draining for %ss before stopping", drain_seconds)

        def stop_later() -> None:
            time.sleep(drain_seconds)
            os.kill(os.getpid(), signal.SIGTERM)

        threading.Thread(target=stop_later, name="drain", daemon=True).start()

    server.handle_term = handle_term

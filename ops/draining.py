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

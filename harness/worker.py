"""A real task worker process (`python manage.py worker`) for tests, on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from harness.gunicorn import production_env
from harness.paths import ROOT
from harness.servers import free_port, stop_process


def wait_until(condition, timeout: float = 20.0) -> bool:
    """Poll `condition` every 0.1 s for up to `timeout` seconds: whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return bool(condition())


class WorkerProcess:
    """Start with `start()`; stop with `terminate()` (SIGTERM) or `kill()` (SIGKILL)."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.metrics_port = free_port()
        self.env = production_env(
            database_url,
            **{"METRICS_PORT": str(self.metrics_port), "WORKER_POLL_INTERVAL": "0.2", **env},
        )
        self.log = Path(tempfile.mkstemp(prefix="kubeblog-worker-", suffix=".log")[1])
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> WorkerProcess:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "worker"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited at start:\n{self.log.read_text()}")
            if self.probe("/readyz")[0] == 200:
                return self
            time.sleep(0.1)
        raise TimeoutError(f"the worker was not ready after {timeout}s:\n{self.log.read_text()}")

    def probe(self, path: str) -> tuple[int, str]:
        try:
            response = requests.get(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=5)
        except requests.ConnectionError:
            return 0, ""
        return response.status_code, response.text

    def metric(self, name: str, **labels: str) -> float | None:
        """One sample of the worker's /metrics, by name and labels (None: not there)."""
        for family in text_string_to_metric_families(self.probe("/metrics")[1]):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return None

    def terminate(self, timeout: float = 60.0) -> int:
        """SIGTERM, as the kubelet sends it: the exit status (SIGKILL after `timeout`)."""
        stop_process(self.process, sig=signal.SIGTERM, timeout=timeout)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL: the process dies wherever it is, as on a node that fails."""
        stop_process(self.process, sig=signal.SIGKILL, timeout=5)

    def lines(self) -> list[dict]:
        """The JSON log lines written so far."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return found

    def __enter__(self) -> WorkerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        stop_process(self.process, sig=signal.SIGKILL, timeout=5)

"""`podman stop` (SIGTERM, as the kubelet sends it) while requests flow: the container drains,
serves every request it accepted, and exits 0 well inside the graceful timeout."""

import threading
import time

import pytest

from harness.http import http_get
from tests.image.conftest import podman, report
from tests.image.test_container import written_outside_tmp

pytestmark = [pytest.mark.image, pytest.mark.slow]

DRAIN_SECONDS = 2.0
GRACEFUL_TIMEOUT = 20  # gunicorn's default (GUNICORN_GRACEFUL_TIMEOUT), unchanged here
CLIENTS = 3
MAX_REQUESTS_PER_CLIENT = 3000


class Load:
    """A few clients sending GET / back to back, each on a fresh connection, and a readiness
    probe. Like a load balancer, the clients keep sending for a while after readiness turns
    503 (a third of the drain period here), then stop sending to this replica."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.stop_at = float("inf")
        self.deadline = time.monotonic() + 60  # whatever happens, the clients stop
        self.outcomes: list[tuple[float, object]] = []  # (sent at, status or error)
        self.sigterm_at: float | None = None
        self.drain_seen_at: float | None = None  # first non-200 from /readyz after SIGTERM
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client) for _ in range(CLIENTS)]
        self._threads.append(threading.Thread(target=self._probe))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _sending(self) -> bool:
        now = time.monotonic()
        return now < self.stop_at and now < self.deadline

    def _client(self) -> None:
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if not self._sending():
                return
            sent = time.monotonic()
            try:
                outcome: object = http_get(self.port, "/", timeout=10)[0]
            except OSError as exc:  # refused, reset, timed out: all count as failures here
                outcome = repr(exc)
            with self._lock:
                self.outcomes.append((sent, outcome))

    def _probe(self) -> None:
        # The kubelet's readiness probe, every 0.1 s once SIGTERM has been sent.
        while self._sending():
            if self.sigterm_at is not None:
                try:
                    status = http_get(self.port, "/readyz", timeout=2)[0]
                except OSError:
                    status = None
                if status == 503:
                    self.drain_seen_at = time.monotonic()
                    self.stop_at = self.drain_seen_at + DRAIN_SECONDS / 3
                    return
            time.sleep(0.1)

    def wait_for(self, count: int, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while len(self.outcomes) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def join(self) -> None:
        self.stop_at = 0
        for thread in self._threads:
            thread.join(30)


def test_sigterm_under_load_drains_serves_everything_and_exits_0(start_app):
    # A writable root filesystem this time, so `podman diff` shows whatever the app would
    # write if it could (under --read-only a write would fail, and might fail silently).
    app = start_app(read_only=False, DRAIN_SECONDS=str(DRAIN_SECONDS))
    load = Load(app.port)
    load.start()
    try:
        load.wait_for(30)
        load.sigterm_at = time.monotonic()
        load.stop_at = load.sigterm_at + DRAIN_SECONDS  # unless readiness turns 503 first
        grace = int(DRAIN_SECONDS) + GRACEFUL_TIMEOUT + 5  # SIGKILL only after this
        stop = podman("stop", "--time", str(grace), app.name, check=False, timeout=grace + 30)
        stopped_after = time.monotonic() - load.sigterm_at
    finally:
        load.join()

    exit_code = podman("inspect", app.name, "--format", "{{.State.ExitCode}}").stdout.strip()
    failed = [outcome for _, outcome in load.outcomes if outcome != 200]
    drain_seen_at = load.drain_seen_at or float("inf")
    during_drain = [o for sent, o in load.outcomes if sent >= drain_seen_at]
    report(
        f"podman stop under load: exit {exit_code} after {stopped_after:.2f} s"
        f" (DRAIN_SECONDS={DRAIN_SECONDS:g}); {len(load.outcomes)} requests,"
        f" {len(during_drain)} sent after readiness turned 503, {len(failed)} failed;"
        f" cold start of this container {app.cold_start:.2f} s"
    )
    assert stop.returncode == 0, stop.stderr
    assert exit_code == "0", app.logs()
    assert DRAIN_SECONDS * 0.9 <= stopped_after < DRAIN_SECONDS + GRACEFUL_TIMEOUT
    assert load.drain_seen_at is not None, "readiness never turned 503 after SIGTERM"
    assert failed == [], f"{len(failed)} requests failed, first ones: {failed[:5]}"
    assert during_drain, "no request was sent while the container drained"
    assert written_outside_tmp(app.name) == []

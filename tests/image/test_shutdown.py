"""`podman stop` (SIGTERM, as the kubelet sends it) while requests flow: the container drains,
serves every request it accepted, and exits 0 well inside the graceful timeout."""

import time

import pytest

from harness.http import http_get
from harness.load import RequestLoop
from tests.image.conftest import podman, report
from tests.image.test_container import written_outside_tmp

pytestmark = [pytest.mark.image, pytest.mark.slow]

DRAIN_SECONDS = 2.0
GRACEFUL_TIMEOUT = 20  # gunicorn's default (GUNICORN_GRACEFUL_TIMEOUT), unchanged here
CLIENTS = 3
MAX_REQUESTS_PER_CLIENT = 3000


def test_sigterm_under_load_drains_serves_everything_and_exits_0(start_app):
    # A writable root filesystem this time, so `podman diff` shows whatever the app would
    # write if it could (under --read-only a write would fail, and might fail silently).
    app = start_app(read_only=False, DRAIN_SECONDS=str(DRAIN_SECONDS))
    # A few clients send GET / back to back, each on a fresh connection. Like a load balancer,
    # they keep sending for a while after readiness turns 503 (a third of the drain period
    # here), then stop sending to this replica.
    load = RequestLoop(
        lambda: http_get(app.port, "/", timeout=10)[0],
        clients=CLIENTS,
        limit=MAX_REQUESTS_PER_CLIENT,
    )
    drain_seen_at: float | None = None  # first non-200 from /readyz after SIGTERM

    def readiness() -> int:
        nonlocal drain_seen_at
        status = http_get(app.port, "/readyz", timeout=2)[0]
        if status == 503:
            drain_seen_at = time.monotonic()
            load.stop_at = drain_seen_at + DRAIN_SECONDS / 3
        return status

    # The kubelet's readiness probe, every 0.1 s once SIGTERM has been sent.
    probe = RequestLoop(readiness, interval=0.1, until=lambda status: status == 503)
    with load:
        load.wait_for(30)
        sigterm_at = time.monotonic()
        # Both stop when the drain period ends, unless readiness turns 503 first.
        load.stop_at = probe.stop_at = sigterm_at + DRAIN_SECONDS
        grace = int(DRAIN_SECONDS) + GRACEFUL_TIMEOUT + 5  # SIGKILL only after this
        with probe:
            stop = podman("stop", "--time", str(grace), app.name, check=False, timeout=grace + 30)
        stopped_after = time.monotonic() - sigterm_at

    exit_code = podman("inspect", app.name, "--format", "{{.State.ExitCode}}").stdout.strip()
    failed = [outcome for _, outcome in load.outcomes if outcome != 200]
    during_drain = [o for sent, o in load.outcomes if sent >= (drain_seen_at or float("inf"))]
    report(
        f"podman stop under load: exit {exit_code} after {stopped_after:.2f} s"
        f" (DRAIN_SECONDS={DRAIN_SECONDS:g}); {len(load.outcomes)} requests,"
        f" {len(during_drain)} sent after readiness turned 503, {len(failed)} failed;"
        f" cold start of this container {app.cold_start:.2f} s"
    )
    assert stop.returncode == 0, stop.stderr
    assert exit_code == "0", app.logs()
    assert DRAIN_SECONDS * 0.9 <= stopped_after < DRAIN_SECONDS + GRACEFUL_TIMEOUT
    assert drain_seen_at is not None, "readiness never turned 503 after SIGTERM"
    assert failed == [], f"{len(failed)} requests failed, first ones: {failed[:5]}"
    assert during_drain, "no request was sent while the container drained"
    assert written_outside_tmp(app.name) == []

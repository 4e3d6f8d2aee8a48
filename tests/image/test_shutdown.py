"""Taking a replica away as Kubernetes deletes a pod, with requests flowing: the endpoint is
removed (the load balancer stops sending after a propagation delay) while the preStop sleep
keeps the container serving; then `podman stop` sends SIGTERM, as the kubelet does. Every
request is answered, and the container exits 0 well inside the graceful timeout."""

import time

import pytest

from harness.http import http_get
from harness.load import RequestLoop
from tests.image.conftest import podman, report
from tests.image.test_container import written_outside_tmp

pytestmark = [pytest.mark.image, pytest.mark.slow]

PROPAGATION_SECONDS = 1.0  # the load balancer keeps sending this long after the removal
PRESTOP_SECONDS = 2.0  # the preStop sleep: longer than the propagation, as in the Deployment
GRACEFUL_TIMEOUT = 20  # gunicorn's default (GUNICORN_GRACEFUL_TIMEOUT), unchanged here
CLIENTS = 3
MAX_REQUESTS_PER_CLIENT = 3000


def test_a_pod_deleted_under_load_fails_no_request_and_exits_0(start_app):
    # A writable root filesystem this time, so `podman diff` shows whatever the app would
    # write if it could (under --read-only a write would fail, and might fail silently).
    app = start_app(read_only=False)
    # A few clients send GET / back to back, each on a fresh connection.
    load = RequestLoop(
        lambda: http_get(app.port, "/", timeout=10)[0],
        clients=CLIENTS,
        limit=MAX_REQUESTS_PER_CLIENT,
    )
    with load:
        load.wait_for(30)
        removed_at = time.monotonic()
        load.stop_at = removed_at + PROPAGATION_SECONDS
        time.sleep(PRESTOP_SECONDS)  # the kubelet's preStop sleep, not a wait for a result
        sigterm_at = time.monotonic()
        grace = GRACEFUL_TIMEOUT + 5  # SIGKILL only after this
        stop = podman("stop", "--time", str(grace), app.name, check=False, timeout=grace + 30)
        stopped_after = time.monotonic() - sigterm_at

    exit_code = podman("inspect", app.name, "--format", "{{.State.ExitCode}}").stdout.strip()
    failed = [outcome for _, outcome in load.outcomes if outcome != 200]
    after_removal = [o for sent, o in load.outcomes if sent >= removed_at]
    report(
        f"pod deleted under load: SIGTERM {PRESTOP_SECONDS:g} s after the endpoint's removal,"
        f" exit {exit_code} {stopped_after:.2f} s later; {len(load.outcomes)} requests,"
        f" {len(after_removal)} sent after the removal, {len(failed)} failed;"
        f" cold start of this container {app.cold_start:.2f} s"
    )
    assert stop.returncode == 0, stop.stderr
    assert exit_code == "0", app.logs()
    assert stopped_after < GRACEFUL_TIMEOUT
    assert failed == [], f"{len(failed)} requests failed, first ones: {failed[:5]}"
    assert after_removal, "no request was sent while the endpoint's removal propagated"
    assert written_outside_tmp(app.name) == []

"""The image served as Kubernetes runs it: `--read-only --tmpfs /tmp --cap-drop=ALL
--security-opt no-new-privileges --user 10001`, against a real PostgreSQL (and Redis)."""

import json
import re

import pytest

from tests.image.conftest import podman

pytestmark = [pytest.mark.image, pytest.mark.slow]


def test_liveness(app):
    status, headers, body = app.get("/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert "no-store" in headers["cache-control"]


def test_readiness_reports_the_migrations_and_what_the_app_saw_of_its_dependencies(app, redis):
    # /readyz probes nothing: each worker reports what its requests saw, and a page uses both
    # dependencies; pages and probes go to whichever worker, so ask until this one has seen.
    expected_cache = "ok" if redis is not None else "local"
    for _ in range(40):
        assert app.get("/", headers={"Host": "localhost"})[0] == 200
        status, _, body = app.get("/readyz")
        checks = json.loads(body)
        if (checks["database"], checks["cache"]) == ("ok", expected_cache):
            break
    assert status == 200, checks
    assert checks["database"] == "ok"
    assert checks["migrations"] == "ok"
    assert checks["cache"] == expected_cache


def test_probes_answer_any_host_and_pages_only_allowed_ones(app):
    # The kubelet probes the pod IP with whatever Host header it sends.
    assert app.get("/healthz", headers={"Host": "10.1.2.3:8000"})[0] == 200
    assert app.get("/readyz", headers={"Host": "10.1.2.3:8000"})[0] == 200
    assert app.get("/", headers={"Host": "evil.example"})[0] == 400


def test_home_page(app):
    status, headers, body = app.get("/")
    assert status == 200
    assert headers["content-type"].startswith("text/html")
    assert b"</html>" in body


def test_static_files_have_hashed_names_and_immutable_cache_headers(app):
    _, _, body = app.get("/")
    match = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', body.decode())
    assert match, "the home page links no hashed stylesheet: collectstatic did not run?"
    status, headers, _ = app.get(match.group(1), headers={"Accept-Encoding": "br, gzip"})
    assert status == 200
    assert headers["content-type"].startswith("text/css")
    cache_control = headers["cache-control"]
    assert "immutable" in cache_control
    assert int(re.search(r"max-age=(\d+)", cache_control).group(1)) >= 31_536_000
    assert headers.get("content-encoding") in ("br", "gzip")  # compressed at build time


def test_whoami_names_the_replica_and_the_baked_in_version(app, image):
    status, _, body = app.get("/whoami")
    assert status == 200
    identity = json.loads(body)
    assert identity["replica"] == app.name
    assert identity["version"] == image.version


def test_metrics_served_by_the_gunicorn_master(app):
    app.get("/")  # at least one counted request
    status, _, body = app.get_metrics()
    assert status == 200
    assert b"kubeblog_http_requests_total" in body
    assert b"kubeblog_build_info" in body


def test_runs_as_uid_10001_never_root(app):
    uid = podman("exec", app.name, "id", "-u").stdout.strip()
    assert uid != "0"
    assert uid == "10001"


def test_root_filesystem_is_read_only_and_tmp_is_writable(app):
    denied = podman("exec", app.name, "sh", "-c", "echo x > /app/probe", check=False)
    assert denied.returncode != 0
    assert "Read-only file system" in denied.stderr
    podman("exec", app.name, "sh", "-c", "echo x > /tmp/probe && rm /tmp/probe")


def test_nothing_written_outside_tmp(app):
    app.get("/")
    assert written_outside_tmp(app.name) == []


def test_image_healthcheck_passes(app):
    # `podman healthcheck run` executes the image's HEALTHCHECK command once, now.
    result = podman("healthcheck", "run", app.name, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def written_outside_tmp(name: str) -> list[str]:
    """`podman diff` of the container, less /tmp and the one entry podman itself makes: it
    changes /etc when it bind-mounts /etc/hosts, /etc/hostname and /etc/resolv.conf."""
    changes = json.loads(podman("diff", "--format", "json", name).stdout or "{}")
    paths = [path for kind in ("changed", "added", "deleted") for path in changes.get(kind) or []]
    return [p for p in paths if p != "/etc" and p != "/tmp" and not p.startswith("/tmp/")]

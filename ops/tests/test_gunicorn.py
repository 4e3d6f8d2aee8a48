"""A real gunicorn with production settings: probes, shutdown on SIGTERM, metrics, logs."""

import threading
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from harness.gunicorn import Gunicorn, production_env
from harness.http import login

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(pg_server, redis_server):
    env = production_env(
        pg_server.url, REDIS_URL=redis_server.url, DJANGO_SETTINGS_MODULE="harness.slow_settings"
    )
    with Gunicorn(env) as server:
        server.wait_until("/readyz", 200)
        yield server


def test_probes_answer_any_host_while_other_urls_keep_allowed_hosts(app):
    for host in ["10.0.3.7:8000", "web-5d9c7.default.pod", "evil.example"]:
        assert app.get("/healthz", headers={"Host": host}).status_code == 200
        assert app.get("/readyz", headers={"Host": host}).status_code == 200
        assert app.get("/", headers={"Host": host}).status_code == 400
    assert app.get("/", headers={"Host": "localhost"}).status_code == 200


def test_probes_are_not_redirected_to_https(pg_server):
    env = production_env(pg_server.url, SECURE_SSL_REDIRECT="true")
    with Gunicorn(env) as server:
        assert server.get("/healthz").status_code == 200
        assert server.get("/readyz").status_code == 200
        home = server.get("/", headers={"Host": "localhost"})
        assert home.status_code == 301
        assert home.headers["Location"] == "https://localhost/"


def test_security_headers_in_production(app):
    response = app.get("/", headers={"Host": "localhost", "X-Forwarded-Proto": "https"})
    headers = response.headers
    assert headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "script-src 'self'" in headers["Content-Security-Policy"]


def test_static_files_have_hashed_names_and_immutable_caching(app):
    import re

    home = app.get("/", headers={"Host": "localhost"}).text
    css = re.search(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"', home)
    assert css, "the stylesheet is served under a content-hashed name"
    response = app.get(css.group(1), headers={"Host": "localhost", "Accept-Encoding": "br, gzip"})
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"]
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert response.headers.get("Content-Encoding") in ("br", "gzip")


def test_metrics_add_up_across_workers_and_parse(app):
    assert len(app.all_workers()) == 2
    before = _requests_for(app, "post_list")
    for _ in range(40):
        assert app.get("/", headers={"Host": "localhost"}).status_code == 200
    after = _requests_for(app, "post_list")
    assert after - before == 40
    families = _metrics(app)
    build = families["kubeblog_build_info"].samples
    assert {s.labels["version"] for s in build} == {"test"}
    assert "kubeblog_http_request_duration_seconds" in families
    # Not on the public port in production:
    assert app.get("/metrics", headers={"Host": "localhost"}).status_code == 404


def test_log_lines_are_json_with_request_ids(app):
    response = app.get("/", headers={"Host": "localhost", "X-Request-ID": "trace-abc-123"})
    assert response.headers["X-Request-ID"] == "trace-abc-123"
    generated = app.get("/", headers={"Host": "localhost"}).headers["X-Request-ID"]
    wanted = {"trace-abc-123", generated}
    lines = app.wait_for_log(  # raises if any line is not JSON
        lambda lines: wanted <= {line.get("request_id") for line in _access(lines)}
    )
    access = _access(lines)
    for line in access:
        assert {
            "time",
            "level",
            "message",
            "method",
            "path",
            "status",
            "duration_ms",
            "replica",
            "version",
        } <= line.keys()
    assert all(line["replica"] == "test-replica" for line in lines)


def test_no_password_or_session_id_reaches_the_logs(app, pg_server):
    session = requests.Session()
    secret_password = "Sup3r-secret-Passw0rd-in-a-form"
    login(session, app.url, "nobody", secret_password, {"Host": "localhost"})
    token = session.cookies["csrftoken"]  # the one the form was sent with
    last = session.get(
        app.url + "/", headers={"Host": "localhost", "Cookie": "sessionid=abcsecret123"}
    ).headers["X-Request-ID"]
    app.wait_for_log(lambda lines: last in {line.get("request_id") for line in _access(lines)})
    output = app.output()
    assert secret_password not in output
    assert token not in output
    assert "abcsecret123" not in output


def test_sigterm_answers_the_request_in_flight_serves_nothing_new_and_exits_0(pg_server):
    # Kubernetes sends SIGTERM once the preStop sleep is over and the endpoint is gone, so
    # nothing new should arrive; what has arrived must be answered. Something that does
    # arrive after SIGTERM is never served: gunicorn stops accepting at once (the connection
    # waits in the listen queue until the worker exits), which is why the preStop sleep must
    # outlast the endpoint's removal everywhere.
    env = production_env(
        pg_server.url,
        DJANGO_SETTINGS_MODULE="harness.slow_settings",
        GUNICORN_GRACEFUL_TIMEOUT="10",
    )
    server = Gunicorn(env).start()
    try:
        slow = {}
        in_flight = threading.Thread(
            target=lambda: slow.update(r=server.get("/_test/slow?ms=2500", timeout=30))
        )
        in_flight.start()
        server.wait_for_log(
            lambda lines: any(line["message"] == "slow request started" for line in lines)
        )
        ready_before = _master_readyz(server)
        signalled = time.monotonic()
        server.terminate()
        time.sleep(0.2)
        ready_after = _master_readyz(server)  # the master still answers while it drains
        # Each worker notices the signal within a second (its event loop wakes up at least
        # once a second); from then on nothing new is served.
        refused_after = None
        for _ in range(60):  # at most about 3 s
            try:
                server.get("/healthz", timeout=0.5)
            except (requests.ConnectionError, requests.Timeout):
                refused_after = time.monotonic() - signalled
                break
            time.sleep(0.05)
        exit_code = server.wait(timeout=30)
        stopped_after = time.monotonic() - signalled
        in_flight.join(30)
    finally:
        server.stop()
    print(
        f"not served from {refused_after} s after SIGTERM; exit {exit_code} after "
        f"{stopped_after:.2f} s (the request in flight took 2.5 s)"
    )
    assert refused_after is not None
    assert ready_before == (200, "ok")
    assert ready_after == (503, "stopping")
    assert slow["r"].status_code == 200 and slow["r"].text == "slept 2500 ms"
    assert exit_code == 0
    assert stopped_after < 10


def _master_readyz(server) -> tuple[int, str]:
    """The readiness probe's answer, from the gunicorn master's port: (status, its status)."""
    answer = requests.get(f"http://127.0.0.1:{server.metrics_port}/readyz", timeout=5)
    return answer.status_code, answer.json()["status"]


def _access(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "gunicorn.access"]


def _metrics(app) -> dict:
    return {family.name: family for family in text_string_to_metric_families(app.metrics())}


def _requests_for(app, view: str) -> float:
    family = _metrics(app).get("kubeblog_http_requests")
    if family is None:
        return 0
    return sum(
        s.value
        for s in family.samples
        if s.name.endswith("_total") and s.labels.get("view") == view
    )


def test_the_probes_answer_while_every_request_thread_is_busy(pg_server):
    env = production_env(
        pg_server.url,
        DJANGO_SETTINGS_MODULE="harness.slow_settings",
        GUNICORN_WORKERS="2",
        GUNICORN_THREADS="2",
    )
    with Gunicorn(env) as server:
        busy = [
            threading.Thread(target=server.get, args=("/_test/slow?ms=3000",), daemon=True)
            for _ in range(4)  # every thread of both workers
        ]
        for thread in busy:
            thread.start()
        server.wait_for_log(
            lambda lines: sum(line["message"] == "slow request started" for line in lines) == 4
        )
        started = time.monotonic()
        live = requests.get(f"http://127.0.0.1:{server.metrics_port}/healthz", timeout=5)
        ready = requests.get(f"http://127.0.0.1:{server.metrics_port}/readyz", timeout=5)
        took = time.monotonic() - started
        for thread in busy:
            thread.join(15)
    print(f"liveness and readiness answered in {took * 1000:.0f} ms, every request thread busy")
    assert live.status_code == 200
    assert live.json() == {"status": "ok", "workers": 2}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "workers": 2, "migrations": "ok"}
    assert took < 1


def _page_cache(app, result: str) -> float:
    family = _metrics(app).get("kubeblog_page_cache")
    samples = family.samples if family else []
    return sum(
        s.value for s in samples if s.name.endswith("_total") and s.labels["result"] == result
    )


def test_three_replicas_behind_one_cache_store_one_copy_and_each_names_itself(
    pg_server, redis_server
):
    import contextlib
    import uuid

    env = production_env(pg_server.url, REDIS_URL=redis_server.url, GUNICORN_WORKERS="1")
    path = f"/search/?q={uuid.uuid4().hex}"  # a page no other test has stored
    with contextlib.ExitStack() as stack:
        replicas = [
            stack.enter_context(Gunicorn({**env, "POD_NAME": f"web-{n}"})) for n in (1, 2, 3)
        ]
        pages = []
        for n, replica in enumerate(replicas, start=1):
            page = replica.get(path, headers={"Host": "localhost"})
            assert page.status_code == 200
            assert f'<span class="replica">web-{n}</span>' in page.text
            pages.append(page.text.replace(f">web-{n}<", ">web-?<"))
        assert pages[0] == pages[1] == pages[2]
        assert [_page_cache(r, "miss") for r in replicas] == [1, 0, 0]
        # The second and third replica's first request for the page: a hit.
        assert [_page_cache(r, "hit") for r in replicas] == [0, 1, 1]

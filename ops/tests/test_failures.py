"""Dependencies failing under a real gunicorn: PostgreSQL down and back, Redis down."""

import subprocess
import sys
import time

import pytest
import requests

from harness.gunicorn import Gunicorn, migrate, production_env
from harness.http import login, submit_form
from harness.paths import ROOT
from harness.servers import PostgresServer, RedisServer

pytestmark = pytest.mark.slow

HOST = {"Host": "localhost"}


def test_postgres_down_gives_a_friendly_503_and_the_same_processes_recover():
    with PostgresServer() as pg:
        # Without the page cache every page needs the database (cached pages would keep
        # being served through the outage, which is the better experience but not the test).
        env = production_env(pg.url, DATABASE_POOL_TIMEOUT="2", APP_PAGE_CACHE="false")
        migrate(env)
        with Gunicorn(env) as app:
            app.wait_until("/readyz", 200)
            assert app.get("/", headers=HOST).status_code == 200
            workers = app.all_workers()

            pg.stop("fast")
            down = app.get("/", headers=HOST)
            assert down.status_code == 503
            assert "back in a moment" in down.text
            assert "Traceback" not in down.text
            assert down.headers["Retry-After"] == "5"
            ready = app.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["failed"] == ["database"]
            assert app.get("/healthz").status_code == 200  # liveness never depends on it
            # Stay down long enough for the pools' reconnect back-off to grow.
            outage = {app.get("/", headers=HOST).status_code for _ in range(4)}
            assert outage == {503}

            pg.start()
            back = time.monotonic()
            ready_after = app.wait_until("/readyz", 200, timeout=15)
            statuses = [app.get("/", headers=HOST).status_code for _ in range(10)]
            recovered = time.monotonic() - back
            assert app.worker_pids() == workers, "recovered without restarting a worker"
    print(
        f"PostgreSQL back: /readyz 200 after {ready_after:.2f} s, pages 200 after "
        f"{recovered:.2f} s, same worker PIDs"
    )
    assert statuses == [200] * 10
    assert ready_after < 5


def test_redis_down_keeps_pages_writes_and_sessions(pg_server):
    redis = RedisServer().start()
    env = production_env(
        pg_server.url,
        REDIS_URL=redis.url,
        DJANGO_SUPERUSER_USERNAME="editor",
        DJANGO_SUPERUSER_PASSWORD="editor-pass-123456",
    )
    subprocess.run(
        [sys.executable, "manage.py", "ensure_superuser"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        with Gunicorn(env) as app:
            app.wait_until("/readyz", 200)
            session = requests.Session()
            logged_in = login(session, app.url, "editor", "editor-pass-123456", HOST)
            assert logged_in.status_code == 302, logged_in.text
            assert app.get("/readyz").json()["cache"] == "ok"

            redis.stop()
            started = time.monotonic()
            home = session.get(f"{app.url}/", headers=HOST)
            assert home.status_code == 200
            assert "Log out editor" in home.text, "logged-in users stay logged in"
            anonymous = app.get("/", headers=HOST)
            assert anonymous.status_code == 200
            created = submit_form(
                session,
                f"{app.url}/post/new/",
                {"title": "Written while Redis was down", "body": "text"},
                HOST,
            )
            assert created.status_code == 302
            draft = session.get(app.url + created.headers["Location"], headers=HOST)
            assert "Written while Redis was down" in draft.text
            ready = app.get("/readyz")
            assert ready.status_code == 200, "Redis is optional for readiness by default"
            assert ready.json()["cache"] == "unavailable"
            print(f"Redis down: 4 requests answered in {time.monotonic() - started:.2f} s")

            redis.start()
            assert app.get("/readyz").json()["cache"] == "ok"
            assert "Log out editor" in session.get(f"{app.url}/", headers=HOST).text
    finally:
        redis.destroy()


def test_redis_can_be_required_for_readiness(pg_server):
    redis = RedisServer().start()
    env = production_env(pg_server.url, REDIS_URL=redis.url, READYZ_REQUIRE_CACHE="true")
    try:
        with Gunicorn(env) as app:
            app.wait_until("/readyz", 200)
            redis.stop()
            response = app.get("/readyz")
            assert response.status_code == 503
            assert response.json()["failed"] == ["cache"]
    finally:
        redis.destroy()

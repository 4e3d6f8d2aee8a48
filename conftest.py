"""Fixtures shared by every suite."""

import logging
import re

import pytest
from django.db import connection

from harness.gunicorn import migrate, production_env
from harness.s3 import S3Server
from harness.servers import PostgresServer, RedisServer


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL: run under `python -m harness.servers`")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache (Redis is shared by the whole run)."""
    from django.core.cache import cache

    from ops.health import BREAKERS

    for breaker in BREAKERS.values():
        breaker.reset()
    cache.clear()
    yield


@pytest.fixture
def author(db):
    """alice, the author of the tests' posts; she logs in with blog.tests.factories.PASSWORD."""
    from blog.tests.factories import UserFactory

    return UserFactory(username="alice")


@pytest.fixture
def other_user(db):
    """mallory, a user who is not alice: none of alice's posts or comments are hers to change."""
    from blog.tests.factories import UserFactory

    return UserFactory(username="mallory")


@pytest.fixture
def staff(db):
    """sam, staff: he may change any post and moderate any comment."""
    from blog.tests.factories import UserFactory

    return UserFactory(username="sam", is_staff=True)


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture(scope="module")
def pg_server():
    """A migrated PostgreSQL of the module's own, which its tests may stop and start."""
    with PostgresServer() as server:
        migrate(production_env(server.url))
        yield server


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 (harness.smtp) that keeps what it receives."""
    from harness.smtp import SmtpServer

    with SmtpServer() as server:
        yield server


@pytest.fixture
def worker(transactional_db, smtp):
    """Make task worker processes (`manage.py worker`, production settings) that work on the
    test database itself, so they see what the test commits, and send mail to `smtp`. They
    share the test's secret key (a reset link they make works on the test's pages). Every one
    is killed at the end of the test."""
    from urllib.parse import quote

    from django.conf import settings

    from harness.worker import WorkerProcess

    s = connection.settings_dict
    url = (
        f"postgres://{quote(s['USER'])}:{quote(s['PASSWORD'])}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
    )
    made = []

    def make(**env) -> WorkerProcess:
        process = WorkerProcess(
            url,
            DJANGO_SECRET_KEY=settings.SECRET_KEY,
            SITE_URL="http://testserver",
            TASK_RETRY_DELAY="0.3",
            **{**smtp.env(), **env},
        )
        made.append(process)
        return process

    yield make
    for process in made:
        process.kill()


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server():
    """One S3-compatible object store (harness.s3) for the whole run, with its bucket."""
    with S3Server() as server:
        yield server


@pytest.fixture
def s3(s3_server):
    """The run's object store, its bucket emptied for this test."""
    s3_server.clear()
    yield s3_server


# Values that must never appear in a log line, whatever a test does with them.
SECRETS_NEVER_LOGGED = [
    "correct horse battery staple",  # blog.tests.factories.PASSWORD
    "first-password-123",
    "rotated-password-456",
    "test-only-not-a-secret",  # the test SECRET_KEY
]
_SECRET_SHAPES = re.compile(
    r"(sessionid|csrftoken|csrfmiddlewaretoken)[\"']?\s*[=:]\s*[\"']?(?!\*\*\*)[A-Za-z0-9]{8,}"
)


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log_line():
    """Format every log record of the whole run as production would, then scan the lines."""
    from ops.logging import JsonFormatter, RequestContextFilter

    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield
    root.removeHandler(handler)
    leaks = [
        line
        for line in lines
        if any(secret in line for secret in SECRETS_NEVER_LOGGED) or _SECRET_SHAPES.search(line)
    ]
    assert not leaks, f"{len(leaks)} log line(s) carry a secret, e.g.: {leaks[0][:500]}"

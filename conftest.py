"""Fixtures shared by every suite."""

import pytest
from django.db import connection

from tests.gunicorn_process import migrate, production_env
from tests.services import PostgresServer, RedisServer


def pytest_collection_modifyitems(config, items):
    from django.conf import settings

    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    skip = pytest.mark.skip(reason="needs PostgreSQL: run under `python -m tests.services`")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache (Redis is shared by the whole run)."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def on_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture(scope="module")
def pg_server():
    """A migrated PostgreSQL of the module's own, which its tests may stop and start."""
    with PostgresServer() as server:
        migrate(production_env(server.url))
        yield server


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server

import pytest

from tests.gunicorn_process import migrate, production_env
from tests.services import PostgresServer, RedisServer


@pytest.fixture(scope="module")
def pg_server():
    """A PostgreSQL of this module's own, migrated, that tests may stop and start."""
    with PostgresServer() as server:
        migrate(production_env(server.url))
        yield server


@pytest.fixture(scope="module")
def redis_server():
    with RedisServer() as server:
        yield server

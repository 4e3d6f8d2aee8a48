"""A request's wait for a pooled PostgreSQL connection ends by its deadline (ops.postgresql).

The pool is psycopg_pool's own, pointed at a port where nothing listens, as during a
failover: every connection attempt is refused and `getconn` waits until it gives up.
"""

import time

import pytest
from django.test import RequestFactory
from psycopg_pool import ConnectionPool, PoolTimeout

from harness.servers import free_port
from ops.deadlines import RequestDeadlineMiddleware
from ops.postgresql.base import DeadlinePool

POOL_TIMEOUT = 1.5


@pytest.fixture
def pool():
    refused = ConnectionPool(
        f"host=127.0.0.1 port={free_port()} connect_timeout=1",
        min_size=1,
        timeout=POOL_TIMEOUT,
        reconnect_timeout=30,
        open=False,
    )
    refused.open(wait=False)
    yield DeadlinePool(refused)
    refused.close(timeout=1)


def _waited(pool) -> float:
    started = time.monotonic()
    with pytest.raises(PoolTimeout):
        pool.getconn()
    return time.monotonic() - started


def test_outside_a_request_the_wait_is_the_pools_timeout(pool):
    assert POOL_TIMEOUT <= _waited(pool) < POOL_TIMEOUT + 0.5


def test_a_request_waits_no_longer_than_it_has_left(pool, settings):
    settings.REQUEST_DEADLINE = 0.6
    waits = []
    middleware = RequestDeadlineMiddleware(lambda request: waits.append(_waited(pool)))
    middleware(RequestFactory().get("/"))
    assert 0.5 <= waits[0] < 0.9  # not the pool's 1.5 s


def test_a_request_past_its_deadline_does_not_wait(pool, settings):
    settings.REQUEST_DEADLINE = 0.3
    waits = []

    def late(request):
        time.sleep(0.4)
        waits.append(_waited(pool))

    RequestDeadlineMiddleware(late)(RequestFactory().get("/"))
    assert waits[0] < 0.2

"""A request's wait for a pooled PostgreSQL connection, and the health check of the one it
gets, end by its deadline (ops.postgresql, ops.deadlines).

The pool is psycopg_pool's own, pointed at a port where nothing listens, as during a
failover: every connection attempt is refused and `getconn` waits until it gives up; or at
a real PostgreSQL that is then frozen, so that the check of a pooled connection hangs.
"""

import time

import pytest
from django.test import RequestFactory
from psycopg_pool import ConnectionPool, PoolTimeout

from harness.servers import PostgresServer, free_port
from ops.deadlines import CHECK_DEADLINE, PooledConnection, RequestDeadlineMiddleware
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


@pytest.mark.slow
def test_the_check_of_a_pooled_connection_ends_by_the_requests_deadline(settings):
    """The pool hands out a connection to a frozen server: its check (1 s of its own) is cut
    at the request's deadline, and the request fails then, not a check later."""
    settings.REQUEST_DEADLINE = 0.4
    with PostgresServer() as pg:
        frozen = ConnectionPool(
            pg.url,
            min_size=1,
            timeout=POOL_TIMEOUT,
            check=ConnectionPool.check_connection,
            connection_class=PooledConnection,
            open=False,
        )
        frozen.open(wait=True, timeout=10)
        pool = DeadlinePool(frozen)
        pids = pg.freeze()
        try:
            waits = []
            RequestDeadlineMiddleware(lambda request: waits.append(_waited(pool)))(
                RequestFactory().get("/")
            )
        finally:
            pg.thaw(pids)
            frozen.close(timeout=1)
    assert waits[0] < min(CHECK_DEADLINE, POOL_TIMEOUT)  # the deadline, 0.4 s, and a tick

"""Django's PostgreSQL backend, whose wait for a pooled connection ends by the request's
deadline.

psycopg_pool waits up to its own `timeout` (DATABASE_POOL_TIMEOUT) for a connection, and
Django asks it with no timeout of its own. A request that has spent part of REQUEST_DEADLINE
(a read tried again during a failover, ops.failover) would then wait past its deadline. So
each wait is the pool's timeout or the time the request has left, whichever is shorter
(ops.deadlines.within_deadline), and so is the health check of the connection it gets
(ops.deadlines.PooledConnection). Outside a request (commands, the worker) nothing changes.
"""

from django.db.backends.postgresql import base
from psycopg_pool import PoolTimeout

from ops import deadlines


class DeadlinePool:
    """The process's pool, seen through a request: `getconn` waits at most the time left."""

    def __init__(self, pool) -> None:
        self._pool = pool

    def getconn(self, timeout: float | None = None):
        if timeout is None:
            timeout = deadlines.within_deadline(self._pool.timeout)
            if timeout <= 0:
                raise PoolTimeout("the request's deadline has passed")
        return self._pool.getconn(timeout)

    def __getattr__(self, name: str):
        return getattr(self._pool, name)


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool = super().pool
        return None if pool is None else DeadlinePool(pool)

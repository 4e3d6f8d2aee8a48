"""A deadline on PostgreSQL work that holds even when the server cannot enforce its own.

PostgreSQL's statement_timeout, lock_timeout and idle_in_transaction_session_timeout (set per
connection, or per role behind PgBouncer: config/settings/base.py, migrate_locked) bound what
a running server does. A server that is frozen (stopped, paused, cut off after the TCP
handshake) answers nothing, not even its own timeouts, and the kernel may keep acknowledging
what the client sends, so libpq would wait forever and the request thread with it.

So each request gets a deadline (REQUEST_DEADLINE seconds from its start), and so does each
health check of a pooled connection: one watchdog thread per process shuts down the socket of
a PostgreSQL connection held past its deadline. The call waiting on it fails at once with
OperationalError, which the site answers with its friendly 503 (or a stale page, see
ops.pagecache), and the pool replaces the connection.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from ops import health

# Imported by the settings (the pool's connection class), so nothing here may import
# prometheus_client at module level: gunicorn sets up its multi-process mode after the
# settings are loaded (config/gunicorn.conf.py).

logger = logging.getLogger(__name__)

# A pooled connection's health check ("is this connection still alive?") gets this long.
CHECK_DEADLINE = 1.0
_TICK = 0.1  # how often the watchdog looks: a deadline is kept to within this


class Watchdog:
    """Shuts down the socket of every guarded connection whose deadline has passed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guarded: dict[int, tuple[float, object]] = {}
        self._next = 0
        self._thread: threading.Thread | None = None
        self._pid = 0

    def guard(self, conn, deadline: float) -> int:
        """Watch `conn` (a psycopg connection) until `unguard`; returns the ticket."""
        with self._lock:
            self._next += 1
            self._guarded[self._next] = (deadline, conn)
            if self._pid != os.getpid() or self._thread is None or not self._thread.is_alive():
                # First use in this process (threads do not survive gunicorn's fork).
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="db-deadline", daemon=True)
                self._thread.start()
            return self._next

    def unguard(self, ticket: int) -> None:
        with self._lock:
            self._guarded.pop(ticket, None)

    def _run(self) -> None:
        while True:
            time.sleep(_TICK)
            now = time.monotonic()
            with self._lock:
                expired = [(t, c) for t, (d, c) in self._guarded.items() if d <= now]
                for ticket, _ in expired:
                    del self._guarded[ticket]
            for _, conn in expired:
                _break(conn)


def _break(conn) -> None:
    try:
        fd = conn.fileno()
    except Exception:  # already closed: nothing waits on it
        return
    sock = socket.socket(fileno=fd)
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.detach()  # the connection owns the descriptor; psycopg closes it
    from ops import metrics

    metrics.DB_DEADLINES.inc()
    health.saw("database", False)
    logger.warning("database connection past its deadline: shut down")


WATCHDOG = Watchdog()
_request = threading.local()


@contextmanager
def deadline(conn, seconds: float):
    """Guard `conn` for `seconds`."""
    ticket = WATCHDOG.guard(conn, time.monotonic() + seconds)
    try:
        yield
    finally:
        WATCHDOG.unguard(ticket)


@contextmanager
def connected(connection, seconds: float):
    """Django's `connection`, connected, its PostgreSQL work held to `seconds` (work outside
    a request, which RequestDeadlineMiddleware does not cover). Other databases: no deadline."""
    connection.ensure_connection()
    if connection.vendor != "postgresql":
        yield
        return
    with deadline(connection.connection, seconds):
        yield


class PooledConnection(psycopg.Connection):
    """psycopg's Connection, whose health check by the pool has a deadline of its own.

    Before handing a connection out, psycopg_pool checks it with `conn.execute("")`
    (ConnectionPool.check_connection, which Django installs when CONN_HEALTH_CHECKS is on).
    Django gives no other way to pass the pool a check of our own, so the empty statement is
    guarded here, and only it: a frozen server cannot hold a request in the check, nor past
    the request's own deadline.
    ops/tests/test_failures.py freezes a real PostgreSQL to hold this to psycopg_pool.
    """

    def execute(self, query, params=None, **kwargs):
        if query == "":
            with deadline(self, within_deadline(CHECK_DEADLINE)):
                return super().execute(query, params, **kwargs)
        return super().execute(query, params, **kwargs)


def time_left() -> float | None:
    """Seconds before the current request's deadline; None outside a request."""
    deadline = getattr(_request, "deadline", None)
    return None if deadline is None else deadline - time.monotonic()


def within_deadline(seconds: float) -> float:
    """`seconds`, or the current request's time left when that is shorter (0 once it has
    passed): for the hops with a limit of their own, the wait for a pooled connection
    (ops.postgresql) and its health check."""
    left = time_left()
    return seconds if left is None else max(0.0, min(seconds, left))


class RequestDeadlineMiddleware:
    """Give the request's PostgreSQL work a deadline, REQUEST_DEADLINE seconds from its start."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _request.deadline = time.monotonic() + settings.REQUEST_DEADLINE
        _request.tickets = []
        try:
            return self.get_response(request)
        finally:
            for ticket in _request.tickets:
                WATCHDOG.unguard(ticket)
            _request.deadline = None
            _request.tickets = []


@receiver(connection_created)
def _guard_the_requests_connection(sender, connection, **kwargs) -> None:
    health.saw("database", True)
    if connection.vendor != "postgresql" or getattr(_request, "deadline", None) is None:
        return  # outside a request (commands, tests): PostgreSQL's own timeouts only
    _request.tickets.append(WATCHDOG.guard(connection.connection, _request.deadline))

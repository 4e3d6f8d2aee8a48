"""Reads ride through a PostgreSQL failover; writes are never run twice.

A switchover or a failover behind PgBouncer leaves no primary for a few seconds (the drill
measures about 2 s for a planned switchover and 8 s for a crashed node, docs/drill.md). A read
whose database work failed then is tried again after a short pause, as long as the database
began failing less than DATABASE_FAILOVER_WINDOW seconds ago and the request's deadline
(ops.deadlines) leaves room for the pause and a short try. The try's wait for a pooled
connection ends by the deadline (ops.postgresql), so a try started late is cut short rather
than holding the thread past it: the reader gets the page a little late rather than a 503.
A write is never tried again by the server: it answers 503 with Retry-After, and its form's
creation token makes sending it again safe. In a longer outage the window has passed, and
reads fail fast again, holding no thread.
"""

import logging
import time

from django.conf import settings
from django.db import DatabaseError, connection

from ops import deadlines, health, metrics

logger = logging.getLogger(__name__)

PAUSE = 0.5  # seconds before trying again: a new primary needs a moment to take connections
# Seconds a try needs at least, after the pause: a page's queries on a database that is back.
# A try with less time left would only be cut off by the deadline.
SHORTEST_TRY = 0.5
SAFE_METHODS = frozenset({"GET", "HEAD"})


class ReadRetryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if request.method not in SAFE_METHODS or not health.is_database_outage(exception):
            return None
        health.saw("database", False)
        failing = health.BREAKERS["database"].failing_for() or 0.0
        if failing > settings.DATABASE_FAILOVER_WINDOW or request.resolver_match is None:
            return None
        match = request.resolver_match
        for attempt in range(1, 10):  # bounded; the deadline ends it sooner
            left = deadlines.time_left()
            if left is None or left < PAUSE + SHORTEST_TRY:
                break
            connection.close()  # hand the broken connection back: the pool replaces it
            time.sleep(PAUSE)
            try:
                response = match.func(request, *match.args, **match.kwargs)
                if callable(getattr(response, "render", None)):
                    response = response.render()
            except DatabaseError as exc:
                if health.is_database_outage(exc):
                    continue
                raise
            metrics.DB_READ_RETRIES.labels(result="served").inc()
            logger.info(
                "read served on try %d, %.1fs after the database began failing",
                attempt + 1,
                failing,
            )
            return response
        metrics.DB_READ_RETRIES.labels(result="failed").inc()
        return None  # the first error answers: 503 with Retry-After (ops.views)

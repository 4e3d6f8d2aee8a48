"""The kubelet's probes, answered by one middleware before anything else runs.

Probes reach the pod by IP with whatever Host header the kubelet sends, and over plain HTTP;
answering them before the rest of the stack keeps them clear of ALLOWED_HOSTS, the HTTPS
redirect, sessions and the request metrics, while every other URL keeps the strict checks.
They are not in the URLconf: this module is the one place that routes them.
"""

import logging
import threading

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_safe

from ops import deadlines, health

logger = logging.getLogger(__name__)

_migrations_applied = False
_checking = threading.Lock()


@require_safe
def healthz(request):
    """The process answers. Kubernetes' liveness probe asks the gunicorn master instead
    (ops.master, on METRICS_PORT), which no hung request can starve; this one is for
    HEALTHCHECKs and people."""
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request):
    """Readiness is this replica's own state: started, and its migrations seen applied.

    Never a dependency every replica shares: if a database outage made every replica not
    ready, the Service would have no endpoint left and the site would answer nothing, not
    even the pages in its cache. The database and the cache as this process last saw them
    are in the body, for people; they never change the status. Once SIGTERM arrives,
    gunicorn stops accepting: a stopping replica answers no probe at all.
    """
    migrations = _check_migrations()
    ready = migrations == "ok"
    body = {
        "status": "ok" if ready else "starting",
        "failed": [] if ready else ["migrations"],
        "migrations": migrations,
        **health.report(),
    }
    if "redis" not in settings.CACHES["default"]["BACKEND"]:
        body["cache"] = "local"  # this process's memory
    return JsonResponse(body, status=200 if ready else 503)


PROBES = {"/healthz": healthz, "/readyz": readyz}


class ProbeMiddleware:
    """Answer /healthz and /readyz (any method: the views allow GET and HEAD only)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = PROBES.get(request.path_info)
        if probe is not None:
            return probe(request)
        return self.get_response(request)


class NotReadyIsRoutine(logging.Filter):
    """Drop django.request's error line for a 503 from /readyz: a replica that is starting
    is routine, and /readyz says why in its body."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (
            getattr(record, "status_code", None) == 503
            and request is not None
            and request.path_info == "/readyz"
        )


def check_migrations_and_close() -> str:
    """Check the migrations in the gunicorn master: before it forks its workers, so that
    every worker is born knowing (one forked later, during an outage, too), and for the
    readiness probe (ops.master) until they are applied. Closes what it opened: no worker
    may inherit a connection or a pool."""
    if _migrations_applied:
        return "ok"
    with _checking:  # one check at a time: the probes' threads share the pool they close
        try:
            return _check_migrations()
        finally:
            connection.close()
            if connection.vendor == "postgresql":
                connection.close_pool()


def _check_migrations() -> str:
    """Whether this code's migrations are applied: asked of the database until the answer is
    yes (bounded by the connection's timeouts), then never again: applied migrations stay
    applied, a newer release only adds."""
    global _migrations_applied
    if _migrations_applied:
        return "ok"
    from django.db.migrations.executor import MigrationExecutor

    try:
        # Probes are answered above the request-deadline middleware: this check has its own.
        with deadlines.connected(connection, 2.0):
            executor = MigrationExecutor(connection)
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        health.saw("database", False)
        return "unavailable"
    _migrations_applied = not plan
    return "ok" if not plan else "pending"

"""The kubelet's probes, answered by one middleware before anything else runs.

Probes reach the pod by IP with whatever Host header the kubelet sends, and over plain HTTP;
answering them before the rest of the stack keeps them clear of ALLOWED_HOSTS, the HTTPS
redirect, sessions and the request metrics, while every other URL keeps the strict checks.
They are not in the URLconf: this module is the one place that routes them.
"""

import logging

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_safe

from ops import metrics

logger = logging.getLogger(__name__)

_migrations_applied = False


@require_safe
def healthz(request):
    """Liveness: the process answers. Touches no dependency, so a database outage never
    makes the kubelet restart healthy replicas."""
    return JsonResponse({"status": "ok"})


@require_safe
def readyz(request):
    """Readiness: 200 only if this replica should receive traffic, else 503 naming why.

    Once SIGTERM arrives, gunicorn closes the listening socket: a stopping replica answers no
    probe at all (and in Kubernetes its endpoint is already being removed).
    """
    checks = {"database": _check_database(), "cache": _check_cache()}
    failed = [name for name in ("database",) if checks[name] != "ok"]
    if settings.READYZ_REQUIRE_CACHE and checks["cache"] not in ("ok", "local"):
        failed.append("cache")
    if checks["database"] == "ok":
        checks["migrations"] = _check_migrations()
        if checks["migrations"] != "ok":
            failed.append("migrations")
    body = {"status": "ok" if not failed else "unavailable", "failed": failed, **checks}
    return JsonResponse(body, status=503 if failed else 200)


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
    """Drop django.request's error line for a 503 from /readyz: a replica that is not ready
    is routine (it is starting, or waits for a dependency), and /readyz says why in its body."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (
            getattr(record, "status_code", None) == 503
            and request is not None
            and request.path_info == "/readyz"
        )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except DatabaseError as exc:
        metrics.DB_ERRORS.inc()
        logger.warning("readiness: database unavailable: %s", type(exc).__name__)
        return "unavailable"


def _check_cache() -> str:
    if "redis" not in settings.CACHES["default"]["BACKEND"]:
        return "local"
    try:
        from django_redis import get_redis_connection

        get_redis_connection("default").ping()
        return "ok"
    except Exception as exc:  # any failure to reach Redis means the same thing here
        logger.warning("readiness: cache unavailable: %s", type(exc).__name__)
        return "unavailable"


def _check_migrations() -> str:
    # Applied migrations stay applied (a newer release only adds), so once seen, stop looking.
    global _migrations_applied
    if _migrations_applied:
        return "ok"
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return "unavailable"
    _migrations_applied = not plan
    return "ok" if not plan else "pending"

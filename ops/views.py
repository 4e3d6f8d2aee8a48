"""Endpoints every replica serves: probes, identity, metrics, and the error pages."""

import logging
import sys

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from ops import metrics
from ops.draining import is_draining
from ops.replica import identity

logger = logging.getLogger(__name__)

_migrations_applied = False


@require_safe
def healthz(request):
    """Liveness: the process answers. Touches no dependency, so a database outage never
    makes the kubelet restart healthy replicas."""
    return _no_store(JsonResponse({"status": "ok"}))


@require_safe
def readyz(request):
    """Readiness: 200 only if this replica should receive traffic, else 503 naming why."""
    checks = {
        "draining": "no" if not is_draining() else "yes",
        "database": _check_database(),
        "cache": _check_cache(),
    }
    failed = [name for name in ("database",) if checks[name] != "ok"]
    if checks["draining"] == "yes":
        failed.append("draining")
    if settings.READYZ_REQUIRE_CACHE and checks["cache"] not in ("ok", "local"):
        failed.append("cache")
    if checks["database"] == "ok":
        checks["migrations"] = _check_migrations()
        if checks["migrations"] != "ok":
            failed.append("migrations")
    body = {"status": "ok" if not failed else "unavailable", "failed": failed, **checks}
    response = JsonResponse(body, status=503 if failed else 200)
    # A not-ready replica is routine (start-up, draining): no ERROR line from django.request.
    response._has_been_logged = True
    return _no_store(response)


@require_safe
def whoami(request):
    """Which replica and version answered; never cached anywhere."""
    return _no_store(JsonResponse(identity()))


@require_safe
def metrics_view(request):
    """Prometheus metrics on the app port, only where METRICS_ON_APP_PORT allows it.

    In production the gunicorn master serves them on METRICS_PORT instead, a port the
    ingress never routes to.
    """
    if not settings.METRICS_ON_APP_PORT:
        raise Http404
    return _no_store(HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE))


def server_error(request):
    """500 handler: a database outage is a friendly 503 the client may retry; the rest 500."""
    exc = sys.exc_info()[1]
    # Only a lost or unreachable database is an outage; a bad query or value is a bug (500).
    if isinstance(exc, OperationalError | InterfaceError):
        metrics.DB_ERRORS.inc()
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "5"
        return _no_store(response)
    return _no_store(render(request, "500.html", status=500))


def csrf_failure(request, reason=""):
    """A form posted without a valid CSRF token: say what to do, not what went wrong inside."""
    return _no_store(render(request, "403_csrf.html", status=403))


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
        metrics.CACHE_ERRORS.inc()
        logger.warning("readiness: cache unavailable: %s", type(exc).__name__)
        return "unavailable"


def _check_migrations() -> str:
    # Applied migrations stay applied (a newer release only adds), so once seen, stop looking.
    global _migrations_applied
    if _migrations_applied:
        return "ok"
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError:
        return "unavailable"
    _migrations_applied = not plan
    return "ok" if not plan else "pending"


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response

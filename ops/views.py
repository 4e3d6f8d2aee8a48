"""Endpoints every replica serves besides the probes (ops.probes): identity, metrics, and
the error pages. None of them chooses its caching: the site's default (private, no-store,
ops.middleware.PrivateByDefaultMiddleware) is what they need."""

import sys

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from ops import health, metrics
from ops.replica import identity


@require_safe
def whoami(request):
    """Which replica and version answered."""
    return JsonResponse(identity())


@require_safe
def metrics_view(request):
    """Prometheus metrics on the app port, only where METRICS_ON_APP_PORT allows it.

    In production the gunicorn master serves them on METRICS_PORT instead, a port the
    ingress never routes to.
    """
    if not settings.METRICS_ON_APP_PORT:
        raise Http404
    return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)


def server_error(request):
    """500 handler: a database outage is a friendly 503 the client may retry; the rest 500."""
    exc = sys.exc_info()[1]
    # Only a database that is not there now is an outage; a bad query or value is a bug (500).
    if health.is_database_outage(exc):
        metrics.DB_ERRORS.inc()
        health.saw("database", False)
        response = render(request, "503.html", status=503)
        response["Retry-After"] = "5"
        return response
    return render(request, "500.html", status=500)


def csrf_failure(request, reason=""):
    """A form posted without a valid CSRF token: say what to do, not what went wrong inside."""
    return render(request, "403_csrf.html", status=403)

"""Endpoints every replica serves besides the probes (ops.probes): identity, metrics, and
the error pages. None of them chooses its caching: the site's default (private, no-store,
ops.middleware.PrivateByDefaultMiddleware) is what they need."""

import logging
import sys

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import requires_csrf_token
from django.views.decorators.http import require_safe

from ops import health, metrics
from ops.replica import identity

logger = logging.getLogger(__name__)

# When the page on the site's layout cannot be made either: no template, no database.
_BARE_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    "<title>{title}</title></head><body><main><h1>{title}</h1><p>{text}</p>"
    '<p><a href="/">Go to the home page</a></p></main></body></html>'
)


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


@requires_csrf_token
def bad_request(request, exception):
    """400 handler: Django's renders without the request, so the page lost its header and
    footer; rendering never asks for the host, which may be the very thing refused."""
    return render(request, "400.html", status=400)


@requires_csrf_token
def server_error(request):
    """500 handler: a database outage is a friendly 503 the client may retry; the rest 500."""
    exc = sys.exc_info()[1]
    # Only a database that is not there now is an outage; a bad query or value is a bug (500).
    if health.is_database_outage(exc):
        metrics.DB_ERRORS.inc()
        health.saw("database", False)
        # Who is logged in is in the database too: the header shows a visitor's, at once.
        request.user = AnonymousUser()
        response = _error_page(
            request,
            "503.html",
            503,
            "kubeblog is back in a moment",
            "The site cannot reach its database right now. Please try again in a few seconds.",
        )
        response["Retry-After"] = "5"
        return response
    return _error_page(
        request,
        "500.html",
        500,
        "Something went wrong",
        "The error has been logged. Please try again in a moment.",
    )


def _error_page(request, template: str, status: int, title: str, text: str) -> HttpResponse:
    """The error page on the site's layout or, if even that fails, a bare one: an error
    handler that raised would leave the client with the server's own empty 500."""
    try:
        return render(request, template, status=status)
    except Exception:
        logger.exception("the %s page could not be rendered", status)
        return HttpResponse(_BARE_PAGE.format(title=title, text=text), status=status)


def csrf_failure(request, reason=""):
    """A form posted without a valid CSRF token: say what to do, not what went wrong inside."""
    return render(request, "403_csrf.html", status=403)

"""Middleware that makes every replica observable and safe to probe."""

import functools
import re
import time
import uuid

from django.conf import settings
from django.urls import Resolver404, resolve
from django.utils.cache import patch_cache_control

from ops import metrics
from ops.logging import request_id_var

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Anything else is counted as "other", so hostile methods cannot grow the metric's labels.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


@functools.lru_cache(maxsize=1024)
def _view_name_of(path: str, urlconf: str) -> str:
    try:
        return resolve(path, urlconf).view_name
    except Resolver404:
        return "none"


def _view_name(path: str) -> str:
    """The metrics label of a request that was not routed here: a page the page cache served
    (named by the view that renders that URL), a static file, or nothing at all."""
    if path.startswith(settings.STATIC_URL):
        return "static"
    return _view_name_of(path, settings.ROOT_URLCONF)


class RequestContextMiddleware:
    """Give each request an id (kept from X-Request-ID if sane) and count it in the metrics."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")  # .headers parses every header
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        match = request.resolver_match
        view = match.view_name if match else _view_name(request.path_info)
        method = request.method if request.method in _KNOWN_METHODS else "other"
        metrics.REQUESTS.labels(view=view, method=method, status=response.status_code).inc()
        metrics.LATENCY.labels(view=view).observe(time.perf_counter() - started)
        return response


class PrivateByDefaultMiddleware:
    """Any response that did not choose its caching is personal: `private, no-store`.

    The outermost middleware, so it sees every response: probes, pages served by the page
    cache, error pages. Only views wrapped in ops.pagecache.public_page (and WhiteNoise's
    static files) choose to be shared, so a new view can never leak one user's page to
    another through a CDN by forgetting a header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_store=True)
        return response

"""Middleware that makes every replica observable and safe to probe."""

import re
import time
import uuid

from django.conf import settings
from django.utils.cache import patch_cache_control

from ops import metrics, views
from ops.logging import request_id_var

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Anything else is counted as "other", so hostile methods cannot grow the metric's labels.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class ProbeMiddleware:
    """Answer the kubelet's probes before anything else runs.

    Probes reach the pod by IP with whatever Host header the kubelet sends, and over plain
    HTTP; answering here keeps them clear of ALLOWED_HOSTS, the HTTPS redirect and sessions,
    while every other URL keeps the strict checks.
    """

    PROBES = {"/healthz": views.healthz, "/readyz": views.readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        probe = self.PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)


class RequestContextMiddleware:
    """Give each request an id (kept from X-Request-ID if sane) and count it in the metrics."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _VALID_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        match = getattr(request, "resolver_match", None)
        if match:
            view = match.view_name
        else:  # a page served by ops.pagecache names the view that rendered it
            view = getattr(request, "cached_view_name", None) or (
                "static" if self._is_static(request) else "none"
            )
        method = request.method if request.method in _KNOWN_METHODS else "other"
        metrics.REQUESTS.labels(view=view, method=method, status=response.status_code).inc()
        metrics.LATENCY.labels(view=view).observe(time.perf_counter() - started)
        return response

    @staticmethod
    def _is_static(request) -> bool:
        return request.path_info.startswith(settings.STATIC_URL)


class PrivateByDefaultMiddleware:
    """Any response that did not choose its caching is personal: `private, no-store`.

    Only views wrapped in ops.pagecache.public_page (and static files) may be shared, so a new
    view can never leak one user's page to another through a CDN by forgetting a header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True, no_store=True)
        return response

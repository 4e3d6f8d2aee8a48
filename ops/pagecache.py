"""Whole-page caching for anonymous readers, in the shared cache and at the edge.

Cache-Control is the contract between the views, this page cache and the edge: a view marks
a page `public` with `public_page`, and only when the request carries no session and no
flash message, so nothing personal (a user name, a CSRF token, a message) is ever shared.
`PageCacheMiddleware` stores what is public and sets no cookie, under a content generation:
any change to published content bumps the generation, so every cached page is replaced at
once on every replica. Everything else gets the site's default, `private, no-store`
(ops.middleware.PrivateByDefaultMiddleware).

`PageCacheMiddleware`, near the top of the middleware stack, stores finished responses (with
every header the middleware below it added) and serves them again without running that
middleware, the URL resolver or the view: one cache round trip fetches the page and the
current generation together. Every replica of a version shares one copy of each page; the
footer's replica name is set to the replica that answers (ops.replica.restamp).

A stored page is fresh for PUBLIC_PAGE_TTL seconds and under the current generation. After
that it is kept for PUBLIC_PAGE_STALE_IF_ERROR seconds more, for one purpose: when the page
cannot be made again because the database is unavailable or too slow (any 5xx), the stale
copy is served instead, marked `X-Served-Stale` and counted; once the database has failed,
without asking it again until a background check finds it back (ops.health). Public pages
say the same to shared caches (`stale-if-error`).
"""

import hashlib
import logging
import re
import time
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import DisallowedHost
from django.http import HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from ops import health, metrics
from ops.cache import count
from ops.replica import restamp

logger = logging.getLogger(__name__)

GENERATION_KEY = "pagecache:generation"
# A page, or a permanent redirect to one (a post's old address): both the same for everyone.
SHAREABLE_STATUSES = frozenset({200, 301})
_S_MAXAGE = re.compile(r"s-maxage=\d+")
# Added per response by the server or by the middleware above this one.
_NOT_STORED = frozenset({"date", "set-cookie", "x-request-id", "content-length"})


def public_page(view):
    """Let shared caches (the edge, and the page cache) keep this view's anonymous pages."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        if (
            is_shareable(request)
            and response.status_code in SHAREABLE_STATUSES
            and not response.cookies
            and not response.streaming
        ):
            patch_cache_control(
                response,
                public=True,
                max_age=0,
                s_maxage=settings.PUBLIC_PAGE_TTL,
                stale_while_revalidate=settings.PUBLIC_PAGE_SWR,
                stale_if_error=settings.PUBLIC_PAGE_STALE_IF_ERROR,
            )
            patch_vary_headers(response, ("Cookie",))
        return response

    return wrapper


class PageCacheMiddleware:
    """Serve stored anonymous pages before the rest of the middleware runs; store new ones.

    Placed right below the request-id/metrics middleware. A page is served from the cache
    only to a request that would have got exactly that page: shareable (see is_shareable),
    same scheme, host (validated against ALLOWED_HOSTS) and path with query, same version and
    colour; fresh, or stale when making it again failed (see the module's docstring).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            not settings.APP_PAGE_CACHE
            or not is_shareable(request)
            or request.path_info.startswith(settings.STATIC_URL)  # WhiteNoise's, never stored
        ):
            return self.get_response(request)
        try:
            key = _page_key(request)
        except DisallowedHost:
            return self.get_response(request)  # answered 400 further down
        found = cache.get_many([GENERATION_KEY, key])
        generation = found.get(GENERATION_KEY, 0)
        entry = _valid(found.get(key))
        fresh = entry is not None and _age(entry) < settings.PUBLIC_PAGE_TTL
        if fresh and entry["generation"] == generation:
            metrics.PAGE_CACHE.labels(result="hit").inc()
            return _from_entry(entry)
        if entry is not None and health.database_believed_down():
            return _stale(entry)  # do not wait on the database again: a check runs meanwhile
        response = self.get_response(request)
        if entry is not None and response.status_code >= 500:
            return _stale(entry)
        metrics.PAGE_CACHE.labels(result="miss").inc()
        if _storable(response):
            entry = _entry(response, generation)
            cache.set(key, entry, settings.PUBLIC_PAGE_TTL + settings.PUBLIC_PAGE_STALE_IF_ERROR)
        return response


def is_shareable(request) -> bool:
    """A GET with no session and no flash message: the page is the same for every reader."""
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
    )


def invalidate_public_pages() -> None:
    """Retire every cached public page (call after published content changes)."""
    if count(GENERATION_KEY, timeout=None) is None:  # the key vanished, or the cache is down
        cache.set(GENERATION_KEY, 1, timeout=None)


def _page_key(request) -> str:
    scheme = "https" if request.is_secure() else "http"
    url = f"{scheme}://{request.get_host()}{request.get_full_path()}"
    path = hashlib.sha256(url.encode()).hexdigest()[:32]
    # One copy for every replica of a version and colour (the replica's name is restamped).
    return f"page:{settings.APP_VERSION}:{settings.THEME_COLOR}:{path}"


def _age(entry: dict) -> float:
    return _now() - entry["stored"]


_ENTRY_KEYS = frozenset({"generation", "status", "headers", "content", "replica", "stored"})


def _valid(entry) -> dict | None:
    """The entry as this module stores it, or None (nothing, or a value of another shape)."""
    if isinstance(entry, dict) and entry.keys() == _ENTRY_KEYS:
        return entry
    return None


def _storable(response) -> bool:
    """Public by its Cache-Control, and still so after the middleware below the view (which
    may have set a cookie, or made the page private)."""
    directives = {
        part.split("=", 1)[0].strip().lower()
        for part in response.get("Cache-Control", "").split(",")
    }
    return (
        "public" in directives
        and not directives & {"private", "no-store", "no-cache"}
        and response.status_code in SHAREABLE_STATUSES
        and not response.cookies
        and not response.streaming
    )


def _now() -> float:
    return time.time()


def _entry(response, generation) -> dict:
    return {
        "generation": generation,
        "status": response.status_code,
        "headers": [(k, v) for k, v in response.items() if k.lower() not in _NOT_STORED],
        "content": response.content,
        "replica": settings.POD_NAME,
        "stored": _now(),
    }


def _stale(entry) -> HttpResponse:
    metrics.PAGE_CACHE.labels(result="stale").inc()
    response = _from_entry(entry)
    response["X-Served-Stale"] = str(int(_age(entry)))
    return response


def _from_entry(entry) -> HttpResponse:
    content = restamp(entry["content"], entry["replica"])
    response = HttpResponse(content, status=entry["status"])
    for name, value in entry["headers"]:
        response.headers[name] = value
    response.headers["Content-Length"] = str(len(content))
    # A shared cache in front may keep this copy only for what is left of its time here, so
    # that through both caches a page is never older than PUBLIC_PAGE_TTL + PUBLIC_PAGE_SWR
    # (a full s-maxage on a copy already 29 s old would let the edge keep it 30 s more).
    age = int(_age(entry))
    if age > 0:  # public_page always set s-maxage; rewriting the number is all it takes
        left = f"s-maxage={max(0, settings.PUBLIC_PAGE_TTL - age)}"
        response.headers["Cache-Control"] = _S_MAXAGE.sub(left, response["Cache-Control"])
    return response

"""Whole-page caching for anonymous readers, in the shared cache and at the edge.

A page is shared only when the request carries no session and no flash message, so nothing
personal (a user name, a CSRF token, a message) can be cached. Shared pages say so in
Cache-Control for CDNs and edge caches, and are kept in the application cache under a
content generation: any change to published content bumps the generation, so every cached
page is replaced at once on every replica. Everything else is `private, no-store`.
"""

import hashlib
import logging
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.cache import patch_cache_control, patch_vary_headers

from ops import metrics

logger = logging.getLogger(__name__)

GENERATION_KEY = "pagecache:generation"


def public_page(view):
    """Serve this view from the page cache to anonymous readers; mark its caching headers."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_shareable(request):
            return private(view(request, *args, **kwargs))
        key = _page_key(request) if settings.APP_PAGE_CACHE else None
        if key:
            hit = cache.get(key)
            if hit is not None:
                metrics.PAGE_CACHE.labels(result="hit").inc()
                content, content_type = hit
                return _public(HttpResponse(content, content_type=content_type))
            metrics.PAGE_CACHE.labels(result="miss").inc()
        response = view(request, *args, **kwargs)
        if hasattr(response, "render") and callable(response.render):
            response = response.render()
        if response.status_code != 200 or response.cookies or response.streaming:
            return private(response)
        if key:
            cache.set(key, (response.content, response["Content-Type"]), settings.PUBLIC_PAGE_TTL)
        return _public(response)

    return wrapper


def is_shareable(request) -> bool:
    """A GET with no session and no flash message: the page is the same for every reader."""
    return (
        request.method in ("GET", "HEAD")
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
    )


def private(response):
    """Mark a response as personal: no shared or browser cache may keep it."""
    patch_cache_control(response, private=True, no_store=True)
    return response


def invalidate_public_pages() -> None:
    """Retire every cached public page (call after published content changes)."""
    cache.add(GENERATION_KEY, 0, timeout=None)
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # the key vanished between add and incr, or the cache is down
        cache.set(GENERATION_KEY, 1, timeout=None)


def _public(response):
    patch_cache_control(
        response,
        public=True,
        max_age=0,
        s_maxage=settings.PUBLIC_PAGE_TTL,
        stale_while_revalidate=settings.PUBLIC_PAGE_SWR,
    )
    patch_vary_headers(response, ("Cookie",))
    return response


def _page_key(request) -> str:
    generation = cache.get(GENERATION_KEY, 0)
    url = f"{request.get_host()}{request.get_full_path()}"
    path = hashlib.sha256(url.encode()).hexdigest()[:32]
    # The page names the replica and version that rendered it, so each keeps its own copy.
    return f"page:{generation}:{settings.APP_VERSION}:{settings.POD_NAME}:{path}"

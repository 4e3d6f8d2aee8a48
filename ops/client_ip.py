"""The client's address, as seen through a known number of trusted proxies."""

from django.conf import settings


def client_ip(request) -> str:
    """The address the request came from.

    Behind TRUSTED_PROXY_COUNT proxies (an ingress controller, a load balancer) the client is
    the entry that many places from the right of X-Forwarded-For; entries further left are
    whatever the client chose to send and are never trusted.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_COUNT
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < hops:
        return forwarded[0] if forwarded else remote
    return forwarded[-hops]


def client_ip_for_axes(request, *args, **kwargs) -> str:
    """django-axes' hook for the client address."""
    return client_ip(request)

"""Every error a person can meet is a page of the site, 405 included.

Django answers a method a view does not take (View.http_method_not_allowed,
require_http_methods, require_safe) with an empty HttpResponseNotAllowed, and it has no
handler405 to change that: browsers show an empty 405 as a broken site. The other statuses
have their handlers (config.urls, ops.views) or are pages of their own views.
"""

from django.shortcuts import render


class MethodNotAllowedPageMiddleware:
    """Give an empty 405 the site's page, keeping its Allow header (and any other).

    The innermost middleware, so that the page goes out through all the others (messages,
    CSRF, security headers) as any page does.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code != 405 or response.streaming or response.content:
            return response
        page = render(request, "405.html", status=405)
        for header, value in response.items():
            if header.lower() not in ("content-type", "content-length"):
                page[header] = value
        page.cookies = response.cookies
        return page

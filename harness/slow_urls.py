"""The product's URLs plus /_test/slow: a request that stays in flight for shutdown tests."""

import logging
import time

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as product_urls


def slow(request):
    """Answer after ?ms= milliseconds (at most 10 s): an in-flight request to drain."""
    milliseconds = min(int(request.GET.get("ms", "1000")), 10_000)
    # A test waits for this line before it does what the request must outlive.
    logging.getLogger("harness.slow").warning("slow request started")
    time.sleep(milliseconds / 1000)
    return HttpResponse(f"slept {milliseconds} ms")


urlpatterns = [path("_test/slow", slow, name="test_slow"), *product_urls]

from django.http import HttpResponse
from django.urls import path

from bench.pages import reference_page

BODY = reference_page()


def page(request):
    """10 KB of HTML, the same bytes nginx serves as the static reference."""
    return HttpResponse(BODY, content_type="text/html; charset=utf-8")


urlpatterns = [path("", page)]

"""Every 4xx and 5xx a person can meet is a page on the site's layout, with a way on."""

import pytest
from bs4 import BeautifulSoup
from django.db import OperationalError
from django.test import Client

from blog import views as blog_views
from blog.tests.factories import CommentFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db


def _layout(response, status: int, heading: str) -> BeautifulSoup:
    """The page is the site's: its header and footer, a title, what happened, a link on."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = BeautifulSoup(response.content, "html.parser")
    assert page.select_one("header.site-header a[href='/']").get_text() == "kubeblog"
    assert page.select_one("footer.site-footer .replica") is not None
    assert page.title.get_text().endswith(" · kubeblog")
    assert page.select_one("main h1").get_text() == heading
    assert page.select_one("main p") is not None
    assert page.select("main a[href], main form"), "a way on: a link, or the form to send again"
    return page


@pytest.fixture
def post(author):
    return PostFactory(author=author)


def test_400_a_request_body_too_big(client, author):
    client.force_login(author)
    response = client.post("/post/new/", {"title": "big", "body": "x" * 3_000_000})
    _layout(response, 400, "That request could not be understood")


def test_400_a_host_the_site_does_not_serve():
    response = Client().get("/", HTTP_HOST="elsewhere.example")
    _layout(response, 400, "That request could not be understood")


def test_403_a_form_without_its_csrf_token(author):
    client = Client(enforce_csrf_checks=True)
    client.force_login(author)
    _layout(client.post("/post/new/", {"title": "t"}), 403, "This form has expired")


def test_403_a_permission_the_user_does_not_have(client, staff):
    client.force_login(staff)  # staff, but without the right to add users
    _layout(client.get("/admin/auth/user/add/"), 403, "You are not allowed to do that")


def test_404_an_address_with_nothing(client):
    _layout(client.get("/nothing-here/"), 404, "Page not found")


NOT_ALLOWED = [
    ("get", "/post/{pk}/publish/", "POST"),  # a class-based view's http_method_names
    ("get", "/comment/{comment}/approve/", "POST"),
    ("post", "/search/", "GET, HEAD"),  # require_safe
    ("put", "/post/{pk}/comment/", "GET, HEAD, POST"),  # require_http_methods
    ("get", "/accounts/logout/", "POST, OPTIONS"),  # Django's own view
    ("post", "/", "GET, HEAD, OPTIONS"),  # a generic view
]


@pytest.mark.parametrize(("method", "path", "allow"), NOT_ALLOWED)
@pytest.mark.parametrize("logged_in", [False, True], ids=["visitor", "author"])
def test_405_a_method_the_address_does_not_take(
    client, author, post, method, path, allow, logged_in
):
    if logged_in:
        client.force_login(author)
    comment = CommentFactory(post=post, approved=False)
    response = getattr(client, method)(path.format(pk=post.pk, comment=comment.pk))
    _layout(response, 405, "This address is not a page")
    assert response["Allow"] == allow
    assert response["X-Frame-Options"] == "DENY"  # the page went out through every middleware
    assert {"private", "no-store"} <= {d.strip() for d in response["Cache-Control"].split(",")}


def test_405_a_page_with_a_body_of_its_own_is_kept(rf):
    from django.http import HttpResponseNotAllowed

    from ops.error_pages import MethodNotAllowedPageMiddleware

    own = HttpResponseNotAllowed(["POST"], content=b"{}", content_type="application/json")
    response = MethodNotAllowedPageMiddleware(lambda request: own)(rf.get("/"))
    assert response is own


def test_405_keeps_a_flash_message_for_the_next_page_only_once(client, author, post):
    client.force_login(author)
    client.post(f"/post/{post.pk}/publish/")  # "Published." waits for the next page
    shown = _layout(client.get(f"/post/{post.pk}/publish/"), 405, "This address is not a page")
    assert [m.get_text() for m in shown.select(".message")] == ["Published."]
    after = BeautifulSoup(client.get("/").content, "html.parser")
    assert after.select(".message") == []


def test_429_too_many_comments(client, post, settings):
    settings.COMMENT_RATE_LIMIT = 1
    url = f"/post/{post.pk}/comment/"
    client.post(url, {"author_name": "x", "text": "one"})
    response = client.post(url, {"author_name": "x", "text": "two"})
    _layout(response, 429, f"Comment on “{post.title}”")


def test_429_too_many_log_in_attempts(client, settings):
    settings.AXES_FAILURE_LIMIT = 1
    UserFactory(username="victim")
    client.post("/accounts/login/", {"username": "victim", "password": "guess"})
    response = client.post("/accounts/login/", {"username": "victim", "password": "guess"})
    _layout(response, 429, "Too many failed log-in attempts")


def test_429_too_many_password_resets(client, settings):
    settings.PASSWORD_RESET_RATE_LIMIT = 1
    for _ in range(2):
        response = client.post("/accounts/password-reset/", {"email": "someone@example.com"})
    _layout(response, 429, "Reset your password")


def _failing_home(monkeypatch, exc: Exception) -> None:
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(blog_views.PostListView, "get_queryset", fail)


def test_500_a_bug(client, monkeypatch):
    _failing_home(monkeypatch, RuntimeError("a bug"))
    client.raise_request_exception = False
    _layout(client.get("/"), 500, "Something went wrong")


def test_503_the_database_is_not_there(client, author, monkeypatch, django_assert_num_queries):
    _failing_home(monkeypatch, OperationalError("connection refused"))
    client.force_login(author)
    client.raise_request_exception = False
    with django_assert_num_queries(0):  # not even for the header's user
        response = client.get("/")
    page = _layout(response, 503, "kubeblog is back in a moment")
    assert response["Retry-After"] == "5"
    # Who is logged in is not asked of a database that is not there.
    assert page.select_one("header a[href='/accounts/login/']") is not None


def test_500_when_even_the_page_fails_a_bare_one_is_sent(client, monkeypatch):
    from ops import views as ops_views

    def broken(*args, **kwargs):
        raise RuntimeError("the template is broken too")

    _failing_home(monkeypatch, RuntimeError("a bug"))
    monkeypatch.setattr(ops_views, "render", broken)
    client.raise_request_exception = False
    response = client.get("/")
    assert response.status_code == 500
    page = BeautifulSoup(response.content, "html.parser")
    assert page.h1.get_text() == "Something went wrong"
    assert page.select_one("a[href='/']") is not None

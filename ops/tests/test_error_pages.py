"""Every 4xx and 5xx a person can meet is a page on the site's layout, with a way on."""

import pytest
from bs4 import BeautifulSoup

from blog.tests.factories import CommentFactory, PostFactory

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

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from blog.tests.factories import CommentFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def page_cache_on(settings):
    settings.APP_PAGE_CACHE = True
    settings.PUBLIC_PAGE_TTL = 30
    settings.PUBLIC_PAGE_SWR = 60


def test_anonymous_pages_are_public_for_shared_caches(client, author):
    post = PostFactory(author=author)
    for url in ["/", post.get_absolute_url(), "/feed/", "/search/?q=x", "/sitemap.xml"]:
        response = client.get(url)
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert cache_control == {
            "public",
            "max-age=0",
            "s-maxage=30",
            "stale-while-revalidate=60",
            "stale-if-error=86400",
        }, url
        assert "Cookie" in response["Vary"]


def test_second_anonymous_view_is_served_without_the_database(client, author):
    PostFactory(author=author, title="Cached title")
    first = client.get("/")
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/")
    assert len(queries) == 0
    assert second.content == first.content
    assert b"Cached title" in second.content


def test_logged_in_pages_are_private_and_never_cached(client, author):
    client.force_login(author)
    post = PostFactory(author=author)
    for url in ["/", post.get_absolute_url(), "/drafts/", "/post/new/"]:
        response = client.get(url)
        assert "private" in response["Cache-Control"], url
        assert "no-store" in response["Cache-Control"], url
    with CaptureQueriesContext(connection) as queries:
        client.get("/")
    assert len(queries) > 0


def test_pages_with_a_csrf_form_are_private(client, author):
    post = PostFactory(author=author)
    response = client.get(f"/post/{post.pk}/comment/")
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_a_flash_message_is_never_served_from_or_stored_in_the_cache(client, author):
    post = PostFactory(author=author)
    client.get(post.get_absolute_url())  # cache the page
    client.post(f"/post/{post.pk}/comment/", {"author_name": "R", "text": "hi"})
    page = client.get(post.get_absolute_url())
    assert b"will appear once the author approves it" in page.content
    assert "no-store" in page["Cache-Control"]
    client.cookies.pop("messages", None)
    again = client.get(post.get_absolute_url())
    assert b"will appear once" not in again.content


@pytest.mark.parametrize("change", ["publish", "edit", "approve", "remove_post"])
def test_changes_to_public_content_retire_cached_pages(
    client, author, change, django_capture_on_commit_callbacks
):
    post = PostFactory(author=author, title="Before")
    draft = PostFactory(author=author, title="Fresh draft", draft=True)
    comment = CommentFactory(post=post, approved=False, text="Moderated words")
    home = client.get("/").content
    detail = client.get(post.get_absolute_url()).content
    assert b"Fresh draft" not in home and b"Moderated words" not in detail

    actor = UserFactory(username="alice-browser")
    actor.is_staff = True
    actor.save()
    writer = client.__class__()
    writer.force_login(actor)
    with django_capture_on_commit_callbacks(execute=True):
        if change == "publish":
            writer.post(f"/post/{draft.pk}/publish/")
        elif change == "edit":
            writer.post(f"/post/{post.pk}/edit/", {"title": "After", "body": "x"})
        elif change == "approve":
            writer.post(f"/comment/{comment.pk}/approve/")
        else:
            writer.post(f"/post/{post.pk}/remove/")

    home = client.get("/").content
    if change == "publish":
        assert b"Fresh draft" in home
    elif change == "edit":
        assert b"After" in home and b"Before" not in home
    elif change == "approve":
        assert b"Moderated words" in client.get(post.get_absolute_url()).content
    else:
        assert b"Before" not in home
        assert client.get(post.get_absolute_url()).status_code == 404


def test_a_new_comment_awaiting_moderation_keeps_the_cache(
    client, author, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from ops.pagecache import GENERATION_KEY

    post = PostFactory(author=author)
    before = cache.get(GENERATION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/post/{post.pk}/comment/", {"author_name": "R", "text": "hi"})
    assert cache.get(GENERATION_KEY) == before


def test_replicas_share_one_copy_and_each_names_itself(client, author, settings):
    from django.db import connection

    PostFactory(author=author)
    settings.POD_NAME = "web-1"
    first = client.get("/")
    assert b'<span class="replica">web-1</span>' in first.content
    settings.POD_NAME = "web-2"
    with CaptureQueriesContext(connection) as queries:
        second = client.get("/")
    assert len(queries) == 0, "served from the copy web-1 stored"
    assert second.content == first.content.replace(b">web-1<", b">web-2<")
    assert second["Content-Length"] == str(len(second.content))


def test_versions_and_colours_keep_separate_copies(client, author, settings):
    PostFactory(author=author)
    client.get("/")  # stored for the first version and colour
    settings.APP_VERSION = "9.9.9"
    assert b'<span class="version">9.9.9</span>' in client.get("/").content
    settings.THEME_COLOR = "maroon"
    assert b'aria-hidden="true"></span> maroon' in client.get("/").content


def test_a_stored_page_keeps_every_header_and_gets_a_fresh_request_id(client, author):
    PostFactory(author=author)
    first = client.get("/")
    second = client.get("/")  # served by PageCacheMiddleware, before the rest of the stack
    names = {name for name in first.headers if name != "X-Request-ID"}
    assert {name: second[name] for name in names} == {name: first[name] for name in names}
    assert "Content-Security-Policy" in second and "X-Frame-Options" in second
    assert second["X-Request-ID"] != first["X-Request-ID"]


def test_a_page_stored_for_https_is_never_served_over_plain_http(client, author, settings):
    settings.SECURE_SSL_REDIRECT = True
    PostFactory(author=author)
    assert client.get("/", secure=True).status_code == 200
    assert client.get("/").status_code == 301


def test_only_what_is_still_public_when_it_reaches_the_page_cache_is_stored():
    from django.http import HttpResponse

    from ops.pagecache import _storable, public_page

    page = public_page(lambda request: HttpResponse("page"))
    request = RequestFactory().get("/")
    assert _storable(page(request))
    with_cookie = page(request)
    with_cookie.set_cookie("csrftoken", "x")  # as CsrfViewMiddleware would, after the view
    assert not _storable(with_cookie)
    made_private = page(request)
    made_private["Cache-Control"] = "private"
    assert not _storable(made_private)
    assert not _storable(HttpResponse("a view that chose nothing"))
    assert not _storable(public_page(lambda request: HttpResponse(status=404))(request))
    logged_in = RequestFactory().get("/", HTTP_COOKIE="sessionid=abc")
    assert not _storable(page(logged_in))
    assert "Cache-Control" not in page(logged_in)  # left to the site's default


def test_pages_served_from_the_cache_are_counted_under_their_view(client, author):
    from prometheus_client import REGISTRY

    post = PostFactory(author=author)

    def served(view):
        labels = {"view": view, "method": "GET", "status": "200"}
        return REGISTRY.get_sample_value("kubeblog_http_requests_total", labels) or 0

    client.get(post.get_absolute_url())  # rendered and stored
    before = served("post_detail")
    client.get(post.get_absolute_url())  # served by the page cache: the view did not run
    assert served("post_detail") == before + 1


def test_a_stored_copy_tells_shared_caches_only_the_time_it_has_left(client, author, monkeypatch):
    # Through the app cache and an edge cache together, a page must never be older than
    # PUBLIC_PAGE_TTL + PUBLIC_PAGE_SWR: the edge may keep a copy only as long as the app would.
    import ops.pagecache

    PostFactory(author=author)
    now = ops.pagecache.time.time()
    monkeypatch.setattr(ops.pagecache, "_now", lambda: now)
    assert "s-maxage=30" in client.get("/")["Cache-Control"]  # rendered and stored
    monkeypatch.setattr(ops.pagecache, "_now", lambda: now + 25)
    cache_control = {part.strip() for part in client.get("/")["Cache-Control"].split(",")}
    assert "public" in cache_control and "stale-while-revalidate=60" in cache_control
    assert {part for part in cache_control if part.startswith("s-maxage")} == {"s-maxage=5"}


def test_a_posts_old_address_is_shared_like_a_page(client):
    post = PostFactory(title="Kept redirect")
    first = client.get(f"/post/{post.pk}/")
    with CaptureQueriesContext(connection) as queries:
        again = client.get(f"/post/{post.pk}/")
    assert (first.status_code, again.status_code) == (301, 301)
    assert again["Location"] == post.get_absolute_url()
    assert len(queries) == 0  # the page cache answered, as it would with the database away

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from blog.models import Comment, Post
from blog.tests.factories import CommentFactory, PostFactory, UserFactory
from blog.views import PAGE_SIZE
from harness.http import signed_in_as

pytestmark = pytest.mark.django_db


def test_home_lists_published_posts_newest_first_and_hides_drafts(client, author):
    older = PostFactory(
        author=author, title="Older", published_date=timezone.now().replace(year=2020)
    )
    newer = PostFactory(author=author, title="Newer")
    PostFactory(author=author, title="Secret draft", draft=True)
    response = client.get("/")
    assert response.status_code == 200
    posts = list(response.context["post_list"])
    assert posts == [newer, older]
    assert b"Secret draft" not in response.content


def test_home_paginates(client, author):
    PostFactory.create_batch(PAGE_SIZE + 3, author=author)
    first = client.get("/")
    assert len(first.context["post_list"]) == PAGE_SIZE
    second = client.get("/?page=2")
    assert len(second.context["post_list"]) == 3
    assert b"Page 2 of 2" in second.content
    assert client.get("/?page=3").status_code == 404
    assert client.get("/?page=abc").status_code == 404


def test_home_shows_approved_comment_counts(client, published_post):
    CommentFactory.create_batch(2, post=published_post, approved=True)
    CommentFactory(post=published_post, approved=False)
    response = client.get("/")
    assert response.context["post_list"][0].comment_count == 2
    assert b"2 comments" in response.content


def test_detail_shows_rendered_body_and_only_approved_comments(client, author):
    post = PostFactory(author=author, body="Some *emphasis*.")
    CommentFactory(post=post, text="Visible comment", approved=True)
    CommentFactory(post=post, text="Hidden comment", approved=False)
    response = client.get(post.get_absolute_url())
    assert b"<em>emphasis</em>" in response.content
    assert b"Visible comment" in response.content
    assert b"Hidden comment" not in response.content
    assert b"Approve" not in response.content


def test_author_sees_moderation_queue_on_detail(author_client, author):
    post = PostFactory(author=author)
    CommentFactory(post=post, text="Hidden comment", approved=False)
    response = author_client.get(post.get_absolute_url())
    assert b"Hidden comment" in response.content
    assert b"Approve" in response.content


def test_unknown_post_is_a_404_page(client, db):
    response = client.get("/post/424242/")
    assert response.status_code == 404
    assert b"Page not found" in response.content


def test_page_titles_and_descriptions(client, published_post):
    home = client.get("/").content.decode()
    assert "<title>kubeblog</title>" in home
    detail = client.get(published_post.get_absolute_url()).content.decode()
    assert f"<title>{published_post.title} · kubeblog</title>" in detail
    assert f'<meta name="description" content="{published_post.summary[:40]}' in detail


def test_new_post_is_a_draft_until_published(author_client, author):
    response = author_client.post("/post/new/", {"title": "Fresh", "body": "Hello *world*"})
    post = Post.objects.get(title="Fresh")
    assert response.status_code == 302
    assert response["Location"] == post.get_absolute_url()
    assert post.author == author
    assert post.published_date is None
    assert post in author_client.get("/drafts/").context["post_list"]
    assert b"Fresh" not in author_client.get("/").content

    author_client.post(f"/post/{post.pk}/publish/")
    post.refresh_from_db()
    assert post.published_date is not None
    assert b"Fresh" in author_client.get("/").content
    assert post not in author_client.get("/drafts/").context["post_list"]


def test_publishing_twice_keeps_the_first_date(author_client, published_post):
    first = published_post.published_date
    author_client.post(f"/post/{published_post.pk}/publish/")
    published_post.refresh_from_db()
    assert published_post.published_date == first


def test_editing_a_published_post_keeps_it_published(author_client, published_post):
    author_client.post(
        f"/post/{published_post.pk}/edit/", {"title": "New title", "body": "New body"}
    )
    published_post.refresh_from_db()
    assert published_post.title == "New title"
    assert published_post.body_html.strip() == "<p>New body</p>"
    assert published_post.is_published


def test_edit_form_is_prefilled(author_client, published_post):
    form = author_client.get(f"/post/{published_post.pk}/edit/").context["form"]
    assert form.initial["title"] == published_post.title
    assert form.initial["body"] == published_post.body
    assert f'value="{published_post.title}"' in str(form["title"])


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": "", "body": "x"}, "title", "This field is required."),
        ({"title": "   ", "body": "x"}, "title", "This field is required."),
        ({"title": "x" * 201, "body": "x"}, "title", "at most 200 characters"),
        ({"title": "ok", "body": ""}, "body", "This field is required."),
        ({"title": "ok", "body": "   \n "}, "body", "Write something before saving."),
        ({"title": "ok", "body": "x" * 1_000_001}, "body", "at most 1000000 characters"),
        ({"title": "null\x00byte", "body": "x"}, "title", "Null characters are not allowed."),
    ],
)
def test_invalid_post_form_shows_errors_next_to_fields(author_client, data, field, message):
    response = author_client.post("/post/new/", data)
    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(message in error for error in errors), errors
    assert Post.objects.count() == 0
    assert b'class="errorlist' in response.content


def test_unicode_and_a_one_megabyte_body_are_accepted(author_client):
    body = ("Ünïcödé ✓ 漢字 🚀 " * 70_000)[:1_000_000]
    response = author_client.post("/post/new/", {"title": "Ünïcödé 🚀", "body": body})
    assert response.status_code == 302
    post = Post.objects.get()
    assert post.title == "Ünïcödé 🚀"
    assert len(post.body) == 1_000_000


def test_comment_flow_with_moderation(client, author, published_post):
    form = client.get(f"/post/{published_post.pk}/comment/")
    assert b'<label for="id_author_name">' in form.content
    response = client.post(
        f"/post/{published_post.pk}/comment/",
        {"author_name": "Reader", "text": "Quixotic **zebra**"},
    )
    assert response.status_code == 302
    comment = Comment.objects.get()
    assert not comment.approved
    page = client.get(published_post.get_absolute_url())
    assert b"will appear once the author approves it" in page.content
    assert b"Quixotic" not in page.content

    client.force_login(author)
    client.post(f"/comment/{comment.pk}/approve/")
    client.logout()
    page = client.get(published_post.get_absolute_url())
    assert b"Quixotic <strong>zebra</strong>" in page.content


def test_invalid_comment_re_renders_with_errors(client, published_post):
    response = client.post(f"/post/{published_post.pk}/comment/", {"author_name": "", "text": ""})
    assert response.status_code == 400
    assert response.context["form"].errors.keys() == {"author_name", "text"}
    assert Comment.objects.count() == 0


def test_comment_length_is_limited(client, published_post):
    response = client.post(
        f"/post/{published_post.pk}/comment/", {"author_name": "x", "text": "y" * 5001}
    )
    assert response.status_code == 400
    assert "at most 5000 characters" in str(response.context["form"].errors["text"])


def test_comment_rate_limit_per_ip(client, published_post, settings):
    settings.COMMENT_RATE_LIMIT = 3
    url = f"/post/{published_post.pk}/comment/"
    statuses = [
        client.post(url, {"author_name": "x", "text": f"c{i}"}).status_code for i in range(5)
    ]
    assert statuses == [302, 302, 302, 429, 429]
    assert Comment.objects.count() == 3
    refused = client.post(url, {"author_name": "x", "text": "again"})
    assert b"Please wait a few minutes" in refused.content
    other_ip = client.post(url, {"author_name": "x", "text": "other"}, REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 302


def test_logged_in_commenter_gets_name_prefilled(author_client, published_post):
    response = author_client.get(f"/post/{published_post.pk}/comment/")
    assert response.context["form"].initial == {"author_name": "alice"}


def test_removing_a_post_and_a_comment(author_client, published_post):
    comment = CommentFactory(post=published_post)
    author_client.post(f"/comment/{comment.pk}/remove/")
    assert not Comment.objects.exists()
    response = author_client.post(f"/post/{published_post.pk}/remove/")
    assert response["Location"] == "/"
    assert not Post.objects.exists()


def test_staff_may_moderate_any_post(client, published_post):
    comment = CommentFactory(post=published_post, approved=False)
    client.force_login(UserFactory(username="boss", is_staff=True))
    client.post(f"/comment/{comment.pk}/approve/")
    comment.refresh_from_db()
    assert comment.approved


def test_login_and_logout(client, author):
    from blog.tests.factories import PASSWORD

    page = client.get("/accounts/login/")
    assert b'<label for="id_username">' in page.content
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert signed_in_as("alice") in client.get("/").content
    assert client.get("/accounts/logout/").status_code == 405
    client.post("/accounts/logout/")
    assert b"Log in" in client.get("/").content


def test_wrong_password_shows_a_clear_error(client, author):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_anonymous_write_redirects_to_login_and_returns(client, author, published_post):
    response = client.get("/post/new/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/post/new/"


def test_whoami_names_replica_version_and_colour(client, settings):
    settings.POD_NAME = "web-abc"
    settings.APP_VERSION = "2.0.0"
    settings.THEME_COLOR = "maroon"
    response = client.get("/whoami")
    assert json.loads(response.content) == {
        "replica": "web-abc",
        "version": "2.0.0",
        "color": "maroon",
    }
    assert response["Cache-Control"] == "private, no-store"


def test_every_page_names_the_replica_and_version(client, settings, db):
    settings.POD_NAME = "web-xyz"
    settings.APP_VERSION = "9.9.9"
    content = client.get("/").content.decode()
    assert '<span class="replica">web-xyz</span>' in content
    assert '<span class="version">9.9.9</span>' in content


def test_theme_colour_is_the_only_inline_style_and_the_csp_allows_exactly_it(client, db):
    from django.conf import settings

    response = client.get("/")
    content = response.content.decode()
    assert f"<style>{settings.THEME_STYLE}</style>" in content
    assert settings.THEME_STYLE_HASH in response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]


def test_pages_load_no_asset_from_another_site(client, published_post):
    import re

    for url in ["/", published_post.get_absolute_url(), "/accounts/login/", "/search/?q=x"]:
        content = client.get(url).content.decode()
        for ref in re.findall(r'(?:src|href)="([^"]+)"', content):
            if ref.startswith(("http://", "https://", "//")):
                # Only links inside post bodies may point elsewhere; assets never do.
                assert not ref.endswith((".css", ".js")), ref
        assert "<script" not in content


def test_robots_txt_points_at_the_sitemap(client, db):
    response = client.get("/robots.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "Sitemap: http://testserver/sitemap.xml" in response.content.decode()
    assert "Disallow: /admin/" in response.content.decode()


def test_a_scheduled_post_waits_with_its_author_until_its_moment(client, author):
    moment = timezone.now() + timedelta(days=2)
    post = PostFactory(author=author, title="Coming soon", published_date=moment)
    assert client.get(post.get_absolute_url()).status_code == 404
    assert client.get(f"/post/{post.pk}/comment/").status_code == 404
    assert b"Coming soon" not in client.get("/").content

    client.force_login(author)
    assert list(client.get("/drafts/").context["post_list"]) == [post]
    page = client.get(post.get_absolute_url()).content.decode()
    meta = page[page.index('<p class="meta">') :]
    meta = meta[: meta.index("</p>")]
    assert "Scheduled</span> for" in meta
    assert f'<time datetime="{moment.isoformat()}">' in meta
    assert "Published" not in meta
    assert f'href="/post/{post.pk}/comment/"' not in page
    assert f'action="/post/{post.pk}/publish/"' in page


def test_publishing_a_scheduled_post_publishes_it_now(author_client, author):
    post = PostFactory(author=author, published_date=timezone.now() + timedelta(days=2))
    before = timezone.now()
    author_client.post(f"/post/{post.pk}/publish/")
    post.refresh_from_db()
    assert before <= post.published_date <= timezone.now()
    assert post.is_published


def test_the_home_page_shows_a_scheduled_post_once_its_moment_has_come(client, monkeypatch, db):
    # The home page's queryset is built once per process (blog.views._published_list): it
    # must read the clock each time it runs, not when it was built.
    assert client.get("/").status_code == 200
    moment = timezone.now() + timedelta(hours=1)
    PostFactory(title="Quixotic zebra schedule", published_date=moment)
    assert b"Quixotic zebra schedule" not in client.get("/").content
    monkeypatch.setattr("blog.models.timezone.now", lambda: moment + timedelta(seconds=1))
    assert b"Quixotic zebra schedule" in client.get("/").content

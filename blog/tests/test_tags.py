"""Tags: typed on the post form, listed on /tag/<slug>/ with a feed, in the sitemap and on
every post; a page of a list is still one query."""

import feedparser
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from blog.forms import PostForm
from blog.models import Post, Tag
from blog.tests.factories import PostFactory
from blog.tests.html_safety import live_markup_problems, load_payloads

pytestmark = pytest.mark.django_db


def _tagged(post, *names):
    from blog.services import _set_tags

    _set_tags(post, list(names))
    return post


def test_the_form_takes_comma_separated_names_once_each():
    form = PostForm(data={"title": "t", "body": "b", "tags": " Kubernetes, django ,kubernetes,,"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tags"] == ["Kubernetes", "django"]


@pytest.mark.parametrize(
    "typed",
    ["<script>", 'a"b', "x" * 51, ", ".join(f"t{i}" for i in range(11)), "---", "a/b"],
)
def test_the_form_refuses_what_is_not_a_tag(typed):
    form = PostForm(data={"title": "t", "body": "b", "tags": typed})
    assert not form.is_valid() and "tags" in form.errors


def test_an_author_tags_a_post_and_changes_its_tags(author_client):
    author_client.post(reverse("post_new"), {"title": "T", "body": "B", "tags": "k8s, Django"})
    post = Post.objects.get()
    assert post.tag_list == [("django", "Django"), ("k8s", "k8s")]
    edit = reverse("post_edit", kwargs={"pk": post.pk})
    assert 'value="Django, k8s"' in author_client.get(edit).content.decode()
    author_client.post(edit, {"title": "T", "body": "B", "tags": "django, postgres"})
    assert Post.objects.get().tag_list == [("django", "Django"), ("postgres", "postgres")]
    assert Tag.objects.count() == 3  # a tag left without posts stays; its page lists none


def test_a_tag_page_lists_its_published_posts_only(client):
    tagged = _tagged(PostFactory(title="Tagged and published"), "Kubernetes")
    _tagged(PostFactory(title="Tagged draft", draft=True), "Kubernetes")
    PostFactory(title="Not tagged")
    page = client.get("/tag/kubernetes/")
    html = page.content.decode()
    assert page.status_code == 200 and page["Cache-Control"].startswith("public")
    assert "Tagged and published" in html
    assert "Tagged draft" not in html and "Not tagged" not in html
    assert client.get("/tag/nothing-here/").status_code == 404
    detail = client.get(tagged.get_absolute_url()).content.decode()
    assert '<a href="/tag/kubernetes/" rel="tag">Kubernetes</a>' in detail


def test_the_tag_feed_and_the_sitemap(client):
    _tagged(PostFactory(title="In the feed"), "Django")
    _tagged(PostFactory(title="Draft", draft=True), "Unpublished only")
    feed = feedparser.parse(client.get("/tag/django/feed/").content)
    assert [e.title for e in feed.entries] == ["In the feed"]
    sitemap = client.get("/sitemap.xml").content.decode()
    assert "/tag/django/" in sitemap and "/tag/unpublished-only/" not in sitemap


def test_a_page_of_a_list_with_tags_is_still_one_query(client):
    for i in range(12):
        _tagged(PostFactory(title=f"Post {i}"), "alpha", f"beta {i}", "gamma")
    for url in ("/", "/tag/alpha/?page=2"):
        with CaptureQueriesContext(connection) as captured:
            html = client.get(url).content.decode()
        assert html.count('rel="tag">alpha</a>') in (10, 2)
        assert len(captured) == (1 if url == "/" else 2), [q["sql"] for q in captured]


def test_changing_a_posts_tags_retires_the_cached_pages(django_capture_on_commit_callbacks):
    post = PostFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        _tagged(post, "news")
    assert any(c.__name__ == "invalidate_public_pages" for c in callbacks)


@pytest.mark.corpus
@pytest.mark.parametrize("payload", load_payloads()[:40])
def test_hostile_tag_input_is_refused_or_inert(author_client, payload):
    response = author_client.post(
        reverse("post_new"), {"title": "T", "body": "B", "tags": payload[:500]}
    )
    post = Post.objects.first()
    if post is not None:
        for slug, _ in post.tag_list:
            html = author_client.get(f"/tag/{slug}/").content.decode()
            assert live_markup_problems(html) == []
        assert (
            live_markup_problems(author_client.get(post.get_absolute_url()).content.decode()) == []
        )
    else:
        assert response.status_code == 200 and "tags" in response.context["form"].errors


def test_search_can_keep_to_one_tag(client):
    _tagged(PostFactory(title="Kubernetes with the tag"), "ops")
    PostFactory(title="Kubernetes without it")
    html = client.get("/search/?q=kubernetes&tag=ops").content.decode()
    assert "Kubernetes with the tag" in html and "Kubernetes without it" not in html
    assert 'name="tag" value="ops"' in html and "Search every post" in html
    everything = client.get("/search/?q=kubernetes").content.decode()
    assert "Kubernetes without it" in everything
    assert client.get("/search/?q=kubernetes&tag=Not A Slug!").status_code == 400

"""Author pages: name, bio and published posts; their feed; the profile form."""

import feedparser
import pytest
from django.urls import reverse

from blog.models import AuthorProfile
from blog.tests.factories import PostFactory, UserFactory
from blog.tests.html_safety import live_markup_problems, load_payloads

pytestmark = pytest.mark.django_db


def test_an_author_page_shows_their_name_bio_and_published_posts_only(client):
    author = UserFactory(username="ada")
    AuthorProfile.objects.create(user=author, display_name="Ada L.", bio="Writes about engines.")
    PostFactory(author=author, title="Mine, published")
    PostFactory(author=author, title="Mine, a draft", draft=True)
    PostFactory(title="Someone else's")
    page = client.get("/author/ada/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "<h1>Ada L.</h1>" in html and "Writes about engines." in html
    assert "Mine, published" in html
    assert "Mine, a draft" not in html and "Someone else" not in html
    assert page["Cache-Control"].startswith("public")


def test_without_a_profile_the_user_name_is_shown(client):
    PostFactory(author=UserFactory(username="bob"))
    assert "<h1>bob</h1>" in client.get("/author/bob/").content.decode()


def test_an_unknown_or_inactive_author_is_a_404(client):
    UserFactory(username="gone", is_active=False)
    assert client.get("/author/nobody/").status_code == 404
    assert client.get("/author/gone/").status_code == 404


def test_post_meta_links_to_the_author_page(client):
    post = PostFactory(author=UserFactory(username="cy"))
    assert 'href="/author/cy/"' in client.get(post.get_absolute_url()).content.decode()


def test_the_authors_feed_has_only_their_published_posts(client):
    author = UserFactory(username="dee")
    PostFactory(author=author, title="Dee's post")
    PostFactory(author=author, title="Dee's draft", draft=True)
    PostFactory(title="Other")
    feed = feedparser.parse(client.get("/author/dee/feed/").content)
    assert [e.title for e in feed.entries] == ["Dee's post"]
    assert feed.feed.title == "dee on kubeblog"


def test_the_author_page_costs_two_queries_however_many_posts(client, django_assert_num_queries):
    author = UserFactory(username="eve")
    PostFactory.create_batch(12, author=author)
    with django_assert_num_queries(2):
        assert client.get("/author/eve/").status_code == 200


def test_an_author_sets_their_name_and_bio_and_the_page_shows_them(client):
    author = UserFactory(username="fay")
    client.force_login(author)
    assert client.get(reverse("edit_profile")).status_code == 200
    response = client.post(reverse("edit_profile"), {"display_name": "Fay", "bio": "Hello."})
    assert response.status_code == 302 and response["Location"] == "/author/fay/"
    assert AuthorProfile.objects.get(user=author).bio == "Hello."
    response = client.post(reverse("edit_profile"), {"display_name": "x" * 81, "bio": ""})
    assert response.status_code == 400


@pytest.mark.corpus
@pytest.mark.parametrize("payload", load_payloads())
def test_hostile_names_and_bios_are_inert_on_the_author_page_and_feed(client, payload):
    author = UserFactory(username="mallory")
    AuthorProfile.objects.create(user=author, display_name=payload[:80], bio=payload[:600])
    PostFactory(author=author)
    page = client.get("/author/mallory/").content.decode()
    assert live_markup_problems(page) == []
    assert client.get("/author/mallory/feed/").status_code == 200

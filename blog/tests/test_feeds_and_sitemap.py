from xml.etree import ElementTree

import feedparser
import pytest

from blog.feeds import FEED_SIZE
from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_feed_parses_and_lists_published_posts_newest_first(client, author):
    from datetime import timedelta

    from django.utils import timezone

    old = PostFactory(author=author, title="Old one", published_date=timezone.now() - timedelta(1))
    new = PostFactory(author=author, title="New one", body="Body with **bold**")
    PostFactory(author=author, title="Draft one", draft=True)
    response = client.get("/feed/")
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "kubeblog"
    assert [entry.title for entry in feed.entries] == ["New one", "Old one"]
    assert [entry.link for entry in feed.entries] == [
        "http://testserver" + new.get_absolute_url(),
        "http://testserver" + old.get_absolute_url(),
    ]
    entry = feed.entries[0]
    assert entry.author == "alice"
    assert "<strong>bold</strong>" in entry.summary


def test_feed_is_capped(client, author):
    PostFactory.create_batch(FEED_SIZE + 5, author=author)
    feed = feedparser.parse(client.get("/feed/").content)
    assert len(feed.entries) == FEED_SIZE


def test_sitemap_lists_home_and_published_posts_only(client, author):
    live = PostFactory(author=author)
    draft = PostFactory(author=author, draft=True)
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    root = ElementTree.fromstring(response.content)  # noqa: S314 - our own output
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    locations = [loc.text for loc in root.findall("s:url/s:loc", ns)]
    assert "http://testserver/" in locations
    assert "http://testserver" + live.get_absolute_url() in locations
    assert "http://testserver" + draft.get_absolute_url() not in locations
    assert root.find("s:url/s:lastmod", ns) is not None

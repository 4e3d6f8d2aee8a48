"""A post's page: its reading time, and the posts before and after it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


def test_reading_time_counts_the_words(client):
    post = PostFactory(body="word " * 1100)
    assert "5 min read" in client.get(post.get_absolute_url()).content.decode()
    short = PostFactory(body="Just a few words.")
    assert "1 min read" in client.get(short.get_absolute_url()).content.decode()


def test_older_and_newer_follow_the_home_pages_order(client):
    now = timezone.now()
    first = PostFactory(title="First", published_date=now - timedelta(days=3))
    second = PostFactory(title="Second", published_date=now - timedelta(days=2))
    PostFactory(title="A draft between", draft=True)
    third = PostFactory(title="Third", published_date=now - timedelta(days=1))
    html = client.get(second.get_absolute_url()).content.decode()
    assert f'<a rel="prev" href="{first.get_absolute_url()}">← Older: First</a>' in html
    assert f'<a rel="next" href="{third.get_absolute_url()}">Newer: Third →</a>' in html
    assert 'rel="prev"' not in client.get(first.get_absolute_url()).content.decode()
    assert 'rel="next"' not in client.get(third.get_absolute_url()).content.decode()

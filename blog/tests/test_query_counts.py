"""Pages cost a fixed number of queries, however many posts and comments there are."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from blog.tests.factories import CommentFactory, PostFactory, UserFactory

pytestmark = pytest.mark.django_db

MAX_QUERIES = 4


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def _populate(posts: int, comments_each: int):
    authors = [UserFactory() for _ in range(3)]
    created = []
    for i in range(posts):
        post = PostFactory(author=authors[i % 3], title=f"Kubernetes note {i}")
        CommentFactory.create_batch(comments_each, post=post)
        created.append(post)
    return created


@pytest.mark.parametrize("url", ["/", "/feed/", "/search/?q=kubernetes", "/sitemap.xml", "DETAIL"])
def test_anonymous_pages_make_a_constant_number_of_queries(client, url):
    small = _populate(2, 1)
    target = small[0].get_absolute_url() if url == "DETAIL" else url
    few = _queries(client, target)
    many = _populate(25, 20)
    target = many[0].get_absolute_url() if url == "DETAIL" else url
    lots = _queries(client, target)
    assert few == lots, f"{url}: {few} queries with few rows, {lots} with many"
    assert lots <= MAX_QUERIES


def test_author_detail_with_moderation_queue_is_constant(client):
    posts = _populate(1, 2)
    client.force_login(posts[0].author)
    few = _queries(client, posts[0].get_absolute_url())
    CommentFactory.create_batch(30, post=posts[0], approved=False)
    CommentFactory.create_batch(30, post=posts[0], approved=True)
    assert _queries(client, posts[0].get_absolute_url()) == few


@pytest.mark.parametrize("url", ["/", "/?page=2", "/search/?q=kubernetes"])
def test_a_page_of_a_list_and_its_total_are_one_query(client, url):
    _populate(25, 2)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    assert b"Page " + (b"2" if "page=2" in url else b"1") + b" of 3" in response.content
    assert len(captured) == 1, [q["sql"] for q in captured]

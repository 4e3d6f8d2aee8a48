import pytest
from django.db import connection

from blog.models import Post
from blog.search import full_text_matches, search_posts
from blog.tests.factories import PostFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def posts(author):
    return {
        "kube": PostFactory(
            author=author, title="Running on Kubernetes", body="Pods, deployments and services."
        ),
        "django": PostFactory(
            author=author, title="Django templates", body="Rendering pages quickly with caching."
        ),
        "draft": PostFactory(
            author=author, title="Kubernetes secrets draft", body="hidden", draft=True
        ),
    }


def test_search_finds_published_posts_by_title_and_body(posts):
    assert list(search_posts("kubernetes")) == [posts["kube"]]
    assert list(search_posts("templates")) == [posts["django"]]


def test_search_finds_other_forms_of_a_word(posts):
    """English stems on both databases: SQLite (`make run`) matches a word or its stem."""
    assert list(search_posts("deploying")) == [posts["kube"]]
    assert list(search_posts("cached renders")) == [posts["django"]]
    assert list(search_posts("Kubernetes' pod")) == [posts["kube"]]


def test_search_requires_every_word(posts):
    assert list(search_posts("kubernetes pods")) == [posts["kube"]]
    assert list(search_posts("kubernetes templates")) == []


def test_search_page(client, posts):
    response = client.get("/search/?q=kubernetes")
    assert response.status_code == 200
    assert list(response.context["page_obj"]) == [posts["kube"]]
    assert b"Kubernetes secrets draft" not in response.content
    empty = client.get("/search/?q=nothing-matches-this")
    assert b"No published post matches" in empty.content


def test_search_query_length_is_capped(client, db):
    response = client.get("/search/?q=" + "x" * 201)
    assert response.status_code == 400
    assert b"at most 200 characters" in response.content


def test_search_without_query_shows_the_form(client, db):
    response = client.get("/search/")
    assert response.status_code == 200
    assert response.context["page_obj"] is None


@pytest.mark.postgres
def test_postgres_search_stems_and_ranks_title_matches_first(author):
    body_hit = PostFactory(author=author, title="Notes", body="We deployed many replicas today.")
    title_hit = PostFactory(author=author, title="Replicas everywhere", body="Short.")
    # "replica" matches "replicas" through English stemming; the title weighs more.
    assert list(search_posts("replica")) == [title_hit, body_hit]


@pytest.mark.postgres
def test_postgres_search_understands_web_search_syntax(posts):
    assert list(search_posts('"running on kubernetes"')) == [posts["kube"]]
    assert list(search_posts("kubernetes -pods")) == []
    assert list(search_posts("kubernetes or templates")) != []


@pytest.mark.postgres
def test_postgres_search_uses_the_gin_index(posts):
    # Whether the planner prefers it depends on the table's size; that it *can* use it is what
    # shows the query's expression and the index's are the same.
    queryset, _ = full_text_matches(Post.objects.all(), "kubernetes")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset.explain()
    assert "post_search_idx" in plan, plan


@pytest.mark.postgres
def test_postgres_search_document_follows_every_write(author):
    # The stored document is kept by a trigger, so edits and bulk inserts are found alike.
    post = PostFactory(author=author, title="Notes", body="About gunicorn workers.")
    post.body = "About nginx caches."
    post.save()
    bulk = Post.objects.bulk_create(
        [
            Post(
                author=author,
                title="Bulk",
                body="Redis",
                body_html="",
                published_date=post.published_date,
            )
        ]
    )
    assert list(search_posts("nginx")) == [post]
    assert list(search_posts("gunicorn")) == []
    assert list(search_posts("redis")) == bulk

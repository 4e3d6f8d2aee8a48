"""Search over published posts: PostgreSQL full-text search, or a plain match on SQLite."""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Q

from blog.models import Post

SEARCH_CONFIG = "english"
MAX_TERMS = 10


def post_search_vector() -> SearchVector:
    """The document a post is searched by. The GIN index in migration 0002 is built on this
    exact expression; a test checks that the planner uses it."""
    return SearchVector("title", weight="A", config=SEARCH_CONFIG) + SearchVector(
        "body", weight="B", config=SEARCH_CONFIG
    )


def full_text_matches(posts, text: str):
    """Filter posts by a PostgreSQL web-search style query (quotes, or, -word)."""
    query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
    return posts.alias(document=post_search_vector()).filter(document=query), query


def search_posts(text: str):
    """Published posts matching the query, best match first."""
    posts = Post.objects.published().select_related("author").defer("body", "body_html")
    if connection.vendor == "postgresql":
        matches, query = full_text_matches(posts, text)
        return matches.annotate(rank=SearchRank(post_search_vector(), query)).order_by(
            "-rank", "-published_date"
        )
    condition = Q()
    for term in text.split()[:MAX_TERMS]:
        condition &= Q(title__icontains=term) | Q(body__icontains=term)
    return posts.filter(condition).order_by("-published_date")

"""Search over published posts: PostgreSQL full-text search, or a match of words and their
English stems on SQLite."""

import snowballstemmer
from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Count, Q, Window
from django.db.models.expressions import RawSQL

from blog.models import Post
from blog.pagination import with_total

SEARCH_CONFIG = "english"
MAX_TERMS = 10


def post_search_document() -> RawSQL:
    """The document a post is searched and ranked by: its title (weight A) and body (weight B).

    PostgreSQL stores it in blog_post.search_document, a column that a trigger keeps in step
    with the title and body and that the GIN index post_search_idx covers (migration 0003).
    Stored, ranking a hundred matches costs nothing; computed per query it cost a second.
    The model does not declare the column, so no other query ever loads it.
    """
    column = f'"{Post._meta.db_table}"."search_document"'
    return RawSQL(column, [], output_field=SearchVectorField())  # noqa: S611 - no input in it


def full_text_matches(posts, text: str):
    """Filter posts by a PostgreSQL web-search style query (quotes, or, -word)."""
    query = SearchQuery(text, config=SEARCH_CONFIG, search_type="websearch")
    return posts.alias(document=post_search_document()).filter(document=query), query


def search_posts(text: str, tag: str | None = None):
    """Published posts matching the query (and having the tag with slug `tag`, if given),
    best match first, each with the `total` of matches (blog.pagination: a page of results
    is one query)."""
    posts = Post.objects.published().for_lists()
    if tag is not None:
        posts = posts.filter(tags__slug=tag)
    if connection.vendor == "postgresql":
        matches, query = full_text_matches(posts, text)
        # Every match is ranked before the sort anyway: counting them there is free, where
        # a subquery would search a second time.
        return matches.annotate(
            rank=SearchRank(post_search_document(), query), total=Window(Count("*"))
        ).order_by("-rank", "-published_date")
    english = snowballstemmer.stemmer("english")  # keeps state while it stems: one per search
    condition = Q()
    for term in text.split()[:MAX_TERMS]:
        condition &= _word_or_stem(term, english.stemWord(term.lower()))
    return with_total(posts.filter(condition)).order_by("-published_date")


def _word_or_stem(term: str, stem: str) -> Q:
    """On SQLite, a post matches a word when its title or body contains the word or the
    word's English stem: "publishes" finds "published" and "publishing". PostgreSQL's
    full-text search does better (it stems the posts too); this keeps `make run` close."""
    condition = Q()
    if len(stem) < 3:
        stem = term  # no stem as short as a letter or two: "as" would match half the posts
    for part in {term, stem}:
        condition |= Q(title__icontains=part) | Q(body__icontains=part)
    return condition

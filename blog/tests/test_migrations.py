"""The creation-token migrations keep the previous release working while they run and after."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection
from django.db.migrations.loader import MigrationLoader

from blog.models import Comment, Post
from blog.tests.factories import PostFactory

TOKEN = "4b1f6a52-3c2e-4d7a-9b8e-0f6c5d4e3a21"


@pytest.mark.django_db
def test_the_previous_release_still_inserts_posts_and_comments(author):
    # The previous release's models, which do not know the token columns.
    state = MigrationLoader(connection).project_state(("blog", "0003_post_search_document"))
    OldPost = state.apps.get_model("blog", "Post")
    OldComment = state.apps.get_model("blog", "Comment")
    for n in range(2):
        old_post = OldPost.objects.create(author_id=author.pk, title=f"Old {n}", body="x")
        OldComment.objects.create(post_id=old_post.pk, author_name="Reader", text="y")
    assert list(Post.objects.values_list("creation_token", flat=True)) == [None, None]
    assert list(Comment.objects.values_list("creation_token", flat=True)) == [None, None]


@pytest.mark.django_db(transaction=True)  # sqlmigrate refuses to show them in a transaction
@pytest.mark.postgres
def test_the_token_indexes_are_built_concurrently_over_tokens_only():
    # The linter skips 0005 (config/settings/test.py), so this holds it to what it must be.
    out = StringIO()
    call_command("sqlmigrate", "blog", "0005_creation_token_unique", stdout=out)
    statements = [line for line in out.getvalue().splitlines() if not line.startswith("--")]
    assert statements == [
        'DROP INDEX CONCURRENTLY IF EXISTS "post_creation_token_uniq";',
        'CREATE UNIQUE INDEX CONCURRENTLY "post_creation_token_uniq" ON "blog_post" '
        '("author_id", "creation_token") WHERE "creation_token" IS NOT NULL;',
        'DROP INDEX CONCURRENTLY IF EXISTS "comment_creation_token_uniq";',
        'CREATE UNIQUE INDEX CONCURRENTLY "comment_creation_token_uniq" ON "blog_comment" '
        '("post_id", "creation_token") WHERE "creation_token" IS NOT NULL;',
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_a_failed_index_build_is_retried_from_scratch(author):
    post = PostFactory(author=author)
    try:
        call_command("migrate", "blog", "0004", verbosity=0)
        # Two rows that the unique index refuses: its concurrent build fails half way and
        # leaves an INVALID index under its name.
        for _ in range(2):
            _insert_comment(post.pk, TOKEN)
        with pytest.raises(IntegrityError):
            call_command("migrate", "blog", "0005", verbosity=0)
        assert _index_valid("comment_creation_token_uniq") is False

        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM blog_comment")
        call_command("migrate", "blog", "0005", verbosity=0)
        assert _index_valid("comment_creation_token_uniq") is True
    finally:
        call_command("migrate", "blog", verbosity=0)


def _insert_comment(post_id: int, token: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO blog_comment (post_id, author_name, text, text_html, created_date, "
            "approved, creation_token) VALUES (%s, 'Reader', 'x', 'x', now(), false, %s)",
            [post_id, token],
        )


def _index_valid(name: str) -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s",
            [name],
        )
        row = cursor.fetchone()
    return None if row is None else row[0]

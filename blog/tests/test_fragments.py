"""Fragments rendered once per content: the memo can never show a stale value."""

from datetime import timedelta

import pytest
from django.utils import timezone

from blog import fragments
from blog.fragments import Memo, comment_content, post_summary
from blog.models import Comment, Post
from blog.tests.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db


def _listed(post):
    return Post.objects.for_lists().with_comment_count().get(pk=post.pk)


def test_a_summary_is_what_the_template_renders_and_is_rendered_once(monkeypatch):
    post = PostFactory(title="Memo <one>")
    first = post_summary(_listed(post), read_more=True)
    assert "Memo &lt;one&gt;" in first and "0 comments" in first
    renders = []
    monkeypatch.setattr(fragments, "render_to_string", lambda *a: renders.append(a) or "x")
    assert post_summary(_listed(post), read_more=True) == first
    assert renders == []


@pytest.mark.parametrize(
    "change, shows",
    [
        (lambda p: Post.objects.filter(pk=p.pk).update(title="A new title"), "A new title"),
        (lambda p: Post.objects.filter(pk=p.pk).update(summary="New words."), "New words."),
        (
            lambda p: type(p.author).objects.filter(pk=p.author_id).update(username="zed"),
            ">zed</a>",
        ),
        (lambda p: CommentFactory(post=p, approved=True), "1 comment"),
        (
            lambda p: Post.objects.filter(pk=p.pk).update(
                published_date=timezone.now() - timedelta(days=400)
            ),
            (timezone.now() - timedelta(days=400)).strftime("%Y-%m-%d"),
        ),
    ],
)
def test_a_summary_changes_with_every_value_it_shows(change, shows):
    post = PostFactory()
    before = post_summary(_listed(post), read_more=True)
    change(post)
    after = post_summary(_listed(post), read_more=True)
    assert after != before
    assert shows in after


def test_a_scheduled_post_is_shown_published_once_its_moment_has_come(monkeypatch):
    moment = timezone.now() + timedelta(hours=1)
    post = PostFactory(published_date=moment)
    assert "Scheduled" in post_summary(_listed(post))
    later = moment + timedelta(minutes=1)
    monkeypatch.setattr("blog.models.timezone.now", lambda: later)
    shown = post_summary(Post.objects.for_lists().get(pk=post.pk))
    assert "Scheduled" not in shown and "Published" in shown


def test_a_comment_changes_with_its_text():
    comment = CommentFactory(text="First words")
    before = comment_content(Comment.objects.get(pk=comment.pk))
    Comment.objects.filter(pk=comment.pk).update(text_html="<p>Other words</p>")
    after = comment_content(Comment.objects.get(pk=comment.pk))
    assert "First words" in before and "Other words" in after


def test_the_memo_is_bounded_and_keeps_what_was_used_last():
    memo = Memo(2)
    memo.get("a", lambda: "A")
    memo.get("b", lambda: "B")
    memo.get("a", lambda: "not rendered again")
    memo.get("c", lambda: "C")
    assert len(memo) == 2
    assert memo.get("a", lambda: "again") == "A"
    assert memo.get("b", lambda: "B2") == "B2"  # the least recently used went first

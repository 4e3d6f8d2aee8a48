from datetime import timedelta

import pytest
from django.utils import timezone

from blog.models import Comment, Post
from blog.tests.factories import CommentFactory, PostFactory

pytestmark = pytest.mark.django_db


def test_published_excludes_drafts_and_future_posts(author):
    live = PostFactory(author=author)
    PostFactory(author=author, draft=True)
    PostFactory(author=author, published_date=timezone.now() + timedelta(days=1))
    assert list(Post.objects.published()) == [live]


def test_published_is_newest_first(author):
    old = PostFactory(author=author, published_date=timezone.now() - timedelta(days=2))
    new = PostFactory(author=author, published_date=timezone.now() - timedelta(days=1))
    assert list(Post.objects.published()) == [new, old]


def test_drafts_of_returns_the_users_drafts_and_scheduled_posts(author, other_user):
    mine = PostFactory(author=author, draft=True)
    scheduled = PostFactory(author=author, published_date=timezone.now() + timedelta(hours=1))
    PostFactory(author=other_user, draft=True)
    PostFactory(author=author)
    assert set(Post.objects.drafts_of(author)) == {mine, scheduled}


def _posts_in_every_state(author):
    now = timezone.now()
    return {
        "draft": PostFactory(author=author, draft=True),
        "past": PostFactory(author=author, published_date=now - timedelta(days=1)),
        "future": PostFactory(author=author, published_date=now + timedelta(days=1)),
    }


def test_one_post_is_published_exactly_when_the_queryset_says_so(author):
    posts = _posts_in_every_state(author)
    published = set(Post.objects.published())
    unpublished = set(Post.objects.unpublished())
    for name, post in posts.items():
        assert post.is_published is (post in published), name
        assert post.is_published is (post not in unpublished), name
    assert {n for n, p in posts.items() if p.is_published} == {"past"}
    assert {n for n, p in posts.items() if p.is_scheduled} == {"future"}


def test_one_post_is_editable_exactly_when_the_queryset_says_so(
    author, other_user, staff, django_user_model
):
    from django.contrib.auth.models import AnonymousUser

    posts = _posts_in_every_state(author)
    for user in (author, other_user, staff, AnonymousUser()):
        editable = set(Post.objects.editable_by(user))
        for name, post in posts.items():
            assert post.is_editable_by(user) is (post in editable), (user, name)
    assert all(p.is_editable_by(author) and p.is_editable_by(staff) for p in posts.values())
    assert not any(p.is_editable_by(other_user) for p in posts.values())


def test_comments_are_editable_by_whoever_may_edit_their_post(author, other_user, staff):
    comment = CommentFactory(post=PostFactory(author=author))
    assert list(Comment.objects.editable_by(author)) == [comment]
    assert list(Comment.objects.editable_by(staff)) == [comment]
    assert list(Comment.objects.editable_by(other_user)) == []


def test_editable_by(author, other_user, staff, django_user_model):
    post = PostFactory(author=author)
    assert list(Post.objects.editable_by(author)) == [post]
    assert list(Post.objects.editable_by(other_user)) == []
    assert list(Post.objects.editable_by(staff)) == [post]
    from django.contrib.auth.models import AnonymousUser

    assert list(Post.objects.editable_by(AnonymousUser())) == []


def test_visible_to_is_published_plus_editable(author, other_user, staff):
    from django.contrib.auth.models import AnonymousUser

    published = PostFactory(author=other_user)
    others_draft = PostFactory(author=other_user, draft=True)
    own_draft = PostFactory(author=author, draft=True)
    assert set(Post.objects.visible_to(author)) == {published, own_draft}
    assert set(Post.objects.visible_to(AnonymousUser())) == {published}
    assert set(Post.objects.visible_to(staff)) == {published, own_draft, others_draft}


def test_saving_renders_markdown_once_and_summarises():
    post = PostFactory(body="# Title\n\nSome **bold** text & more.")
    assert "<strong>bold</strong>" in post.body_html
    assert "<h2>Title</h2>" in post.body_html  # the page title is the only <h1>
    assert post.summary == "Title Some bold text & more."
    post.body = "changed"
    post.save()
    assert Post.objects.get(pk=post.pk).body_html.strip() == "<p>changed</p>"


def test_summary_is_cut_at_a_word_boundary():
    post = PostFactory(body="word " * 200)
    assert len(post.summary) <= 200
    assert post.summary.endswith("word…")


def test_comment_querysets_split_on_approval():
    post = PostFactory()
    shown = CommentFactory(post=post, approved=True)
    waiting = CommentFactory(post=post, approved=False)
    assert list(post.comments.approved()) == [shown]
    assert list(post.comments.awaiting_moderation()) == [waiting]


def test_new_comments_wait_for_moderation():
    comment = Comment.objects.create(post=PostFactory(), author_name="x", text="hello")
    assert comment.approved is False


def test_deleting_a_post_deletes_its_comments():
    post = PostFactory()
    CommentFactory.create_batch(3, post=post)
    post.delete()
    assert Comment.objects.count() == 0

from datetime import timedelta

import pytest
from django.utils import timezone

from blog.models import Comment, Post
from blog.tests.factories import CommentFactory, PostFactory, UserFactory

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


def test_drafts_of_returns_only_the_users_drafts(author, other_user):
    mine = PostFactory(author=author, draft=True)
    PostFactory(author=other_user, draft=True)
    PostFactory(author=author)
    assert list(Post.objects.drafts_of(author)) == [mine]


def test_editable_by(author, other_user, staff, django_user_model):
    post = PostFactory(author=author)
    assert list(Post.objects.editable_by(author)) == [post]
    assert list(Post.objects.editable_by(other_user)) == []
    assert list(Post.objects.editable_by(staff)) == [post]
    from django.contrib.auth.models import AnonymousUser

    assert list(Post.objects.editable_by(AnonymousUser())) == []


def test_visible_to_shows_own_drafts_but_not_others(author, other_user):
    published = PostFactory(author=other_user)
    others_draft = PostFactory(author=other_user, draft=True)
    own_draft = PostFactory(author=author, draft=True)
    visible = set(Post.objects.visible_to(author))
    assert visible == {published, own_draft}
    assert others_draft not in visible


def test_saving_renders_markdown_once_and_summarises():
    post = PostFactory(body="# Title\n\nSome **bold** text & more.")
    assert "<strong>bold</strong>" in post.body_html
    assert "<h1>Title</h1>" in post.body_html
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


def test_is_published():
    user = UserFactory()
    assert PostFactory(author=user).is_published
    assert not PostFactory(author=user, draft=True).is_published
